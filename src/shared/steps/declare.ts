/**
 * A step's inputs and outputs, declared once. The CLI flags, action.yml and task.json are
 * generated from (or tested against) these declarations, and `readInputs` parses what a host
 * gives strictly: a typo such as `ture` is an error, not false.
 */
import { ConfigError, type Problem } from '../errors.js';
import type { Host } from '../host/host.js';

export type InputType = 'string' | 'path' | 'boolean' | 'integer' | 'number' | 'choice';

export interface InputSpec {
  /** kebab-case name: the CLI flag (--name), the action input and the task input. */
  name: string;
  type: InputType;
  description: string;
  required?: boolean;
  /** Default as the user would write it. */
  default?: string;
  choices?: readonly string[];
  /** Masked as soon as it is read. */
  secret?: boolean;
}

export interface OutputSpec {
  name: string;
  description: string;
}

export interface StepDefinition<I, O> {
  /** kebab-case step name: `llmops <name>`, `actions/<name>`, `ado-tasks/<name>`. */
  name: string;
  description: string;
  inputs: readonly InputSpec[];
  outputs: readonly OutputSpec[];
  run(inputs: I, host: Host): Promise<O>;
}

export type InputValue = string | number | boolean | undefined;

/** Read and type every declared input; all problems are reported together. */
export function readInputs(specs: readonly InputSpec[], host: Host): Record<string, InputValue> {
  const values: Record<string, InputValue> = {};
  const problems: Problem[] = [];
  for (const spec of specs) {
    const raw = host.getInput(spec.name)?.trim();
    const text = raw === undefined || raw === '' ? spec.default : raw;
    if (spec.secret && raw) host.mask(raw);
    if (text === undefined || text === '') {
      if (spec.required)
        problems.push({ file: `input "${spec.name}"`, message: `required but not given (${spec.description})` });
      continue;
    }
    const parsed = parseInput(spec, text);
    if (parsed.error) problems.push({ file: `input "${spec.name}"`, message: parsed.error });
    else values[camel(spec.name)] = parsed.value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values;
}

function parseInput(spec: InputSpec, text: string): { value?: InputValue; error?: string } {
  const found = `found ${JSON.stringify(text)}`;
  switch (spec.type) {
    case 'boolean':
      if (/^(true|yes|1)$/i.test(text)) return { value: true };
      if (/^(false|no|0)$/i.test(text)) return { value: false };
      return { error: `${found}, expected true or false` };
    case 'integer':
      return /^-?\d+$/.test(text) ? { value: Number(text) } : { error: `${found}, expected a whole number` };
    case 'number':
      return Number.isFinite(Number(text)) ? { value: Number(text) } : { error: `${found}, expected a number` };
    case 'choice':
      return spec.choices?.includes(text)
        ? { value: text }
        : { error: `${found}, expected one of: ${spec.choices?.join(', ')}` };
    default:
      return { value: text };
  }
}

/** `max-failed-lines` → `maxFailedLines`: the property name a step's typed inputs use. */
export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
