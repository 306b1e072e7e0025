/**
 * Prompt Flow's reference syntax (§1.5): which node-input values are `${...}` references and
 * what they point at. No interpolation exists: `"a ${inputs.x}"` is a literal.
 * @module
 */
import type { SourceLocation } from '../errors.js';
import type { InputAssignment, PropertyStep, Reference } from './model.js';

const FLOW_INPUT_PREFIXES = ['flow.', 'inputs.'] as const;
// Python's \w is Unicode-aware; \p{L}\p{N}_ is the JavaScript equivalent for identifiers users write.
const PROPERTY_TOKEN = /([\p{L}\p{N}_]+)|\['(.*?)'\]|\[(\d+)\]/gu;

/**
 * Reads a value as written in YAML. A reference is a string that starts with `$`, is longer than
 * 2 characters and is wrapped as `${...}`; anything else is a literal of its YAML type.
 */
export function parseAssignment(value: unknown, at: SourceLocation): InputAssignment {
  const ref = typeof value === 'string' ? parseReference(value) : undefined;
  return ref ? { kind: 'reference', ref, at } : { kind: 'literal', value, at };
}

/** The reference a string holds, or undefined when it is a literal. */
export function parseReference(text: string): Reference | undefined {
  if (!text.startsWith('$') || text.length <= 2 || text[1] !== '{' || !text.endsWith('}')) return undefined;
  const body = text.slice(2, -1);
  for (const prefix of FLOW_INPUT_PREFIXES) {
    if (body.startsWith(prefix)) return { kind: 'flow_input', input: body.slice(prefix.length), prefix, text };
  }
  // Split like Prompt Flow: at the first two dots only, so a property may itself contain dots.
  const firstDot = body.indexOf('.');
  if (firstDot < 0) return { kind: 'node', node: body, section: 'output', property: '', path: [], text };
  const node = body.slice(0, firstDot);
  const rest = body.slice(firstDot + 1);
  const secondDot = rest.indexOf('.');
  if (secondDot < 0) return { kind: 'node', node, section: rest, property: '', path: [], text };
  const property = rest.slice(secondDot + 1);
  return { kind: 'node', node, section: rest.slice(0, secondDot), property, path: parsePropertyPath(property), text };
}

/**
 * Tokens of a property path, left to right: `\w+` and `['k']` are keys (or attributes), `[0]` a
 * list index. Characters matching no token are skipped, as Prompt Flow's `re.findall` does.
 */
export function parsePropertyPath(property: string): PropertyStep[] {
  const steps: PropertyStep[] = [];
  for (const m of property.matchAll(PROPERTY_TOKEN)) {
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] !== undefined) steps.push(m[2]);
    else steps.push(Number(m[3]));
  }
  return steps;
}

/** The node a reference depends on, if any. */
export function referencedNode(a: InputAssignment | undefined): string | undefined {
  return a?.kind === 'reference' && a.ref.kind === 'node' ? a.ref.node : undefined;
}

/** How an assignment reads in messages: the reference text, or the literal. */
export function describeAssignment(a: InputAssignment): string {
  return a.kind === 'reference' ? a.ref.text : (JSON.stringify(a.value) ?? 'null');
}
