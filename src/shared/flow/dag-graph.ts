/**
 * The graph rules of a DAG flow (§1.7) and its execution order (§1.8), on the typed model, so a
 * flow is re-checked after a variant swaps a node's body.
 * @module
 */
import type { Problem } from '../errors.js';
import type { FlowInputDef, FlowNode, FlowOutputDef, InputAssignment } from './model.js';
import { referencedNode } from './reference.js';

export interface GraphCheck {
  problems: Problem[];
  /** Outputs referencing aggregation nodes: Prompt Flow drops them with a warning. */
  warnings: Problem[];
  droppedOutputs: string[];
  /** Execution order; empty when the graph has a cycle. */
  order: string[];
}

/**
 * Checks references, aggregation rules and cycles. `inputs` undefined means the flow's `inputs`
 * section is itself broken (already reported), so input references are not checked.
 */
export function checkGraph(
  nodes: readonly FlowNode[],
  inputs: Record<string, FlowInputDef> | undefined,
  outputs: Record<string, FlowOutputDef>,
): GraphCheck {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const byName = new Map<string, FlowNode>();
  for (const node of nodes) {
    const first = byName.get(node.name);
    if (first) {
      problems.push({
        ...node.at,
        message: `found a second node named ${JSON.stringify(node.name)} (the first is at line ${first.at.line}), expected unique node names`,
      });
    } else {
      byName.set(node.name, node);
    }
  }
  const nodeNames = [...byName.keys()];
  const checkRef = (owner: string, a: InputAssignment): boolean => {
    if (a.kind !== 'reference') return true;
    const ref = a.ref;
    if (ref.kind === 'flow_input') {
      if (inputs && !(ref.input in inputs))
        problems.push({
          ...a.at,
          message: `${owner}: found ${ref.text}, but the flow has no input ${JSON.stringify(ref.input)}; expected ${oneOf(Object.keys(inputs), 'a declared flow input (the flow declares none)')}`,
        });
      return true;
    }
    if (!byName.has(ref.node)) {
      problems.push({
        ...a.at,
        message: `${owner}: found ${ref.text}, but there is no node ${JSON.stringify(ref.node)}; expected ${oneOf(nodeNames, 'a node name')}`,
      });
      return false;
    }
    if (ref.section !== 'output') {
      // `${n.output['k']}` splits into section "output['k']" in Prompt Flow too: say how to write it.
      const hint = ref.section.startsWith('output[')
        ? `\${${ref.node}.output.${ref.section.slice(6)}}`
        : `\${${ref.node}.output...}`;
      problems.push({
        ...a.at,
        message: `${owner}: found ${ref.text}, but only the section "output" can be referenced; expected ${hint}`,
      });
    }
    return true;
  };

  for (const node of byName.values()) {
    const label = nodeLabel(node);
    for (const [key, a] of Object.entries(node.inputs)) {
      if (!checkRef(`${label} input ${JSON.stringify(key)}`, a)) continue;
      const target = byName.get(referencedNode(a) ?? '');
      if (target?.aggregation && !node.aggregation) {
        problems.push({
          ...a.at,
          message: `${label} input ${JSON.stringify(key)}: found ${describe(a)}, a reference to aggregation node ${JSON.stringify(target.name)}; expected a non-aggregation node to reference only flow inputs and non-aggregation nodes`,
        });
      }
    }
    if (!node.activate) continue;
    const when = node.activate.when;
    if (!checkRef(`${label} activate.when`, when)) continue;
    const target = byName.get(referencedNode(when) ?? '');
    if (!target) continue;
    if (node.aggregation && !target.aggregation) {
      problems.push({
        ...when.at,
        message: `aggregation node ${JSON.stringify(node.name)} activate.when: found ${describe(when)}, a reference to non-aggregation node ${JSON.stringify(target.name)}; expected a flow input or an aggregation node`,
      });
    } else if (!node.aggregation && target.aggregation) {
      problems.push({
        ...when.at,
        message: `${label} activate.when: found ${describe(when)}, a reference to aggregation node ${JSON.stringify(target.name)}; expected a flow input or a non-aggregation node`,
      });
    }
  }

  const droppedOutputs: string[] = [];
  for (const out of Object.values(outputs)) {
    const a = out.reference;
    const label = `output ${JSON.stringify(out.name)}`;
    if (!a || (a.kind === 'literal' && (a.value === '' || a.value === null || a.value === undefined))) {
      problems.push({
        ...(a?.at ?? out.at),
        message: `${label}: found an empty reference, expected \${<node>.output} or \${inputs.<name>}`,
      });
      continue;
    }
    if (!checkRef(label, a)) continue;
    const target = byName.get(referencedNode(a) ?? '');
    if (target?.aggregation) {
      droppedOutputs.push(out.name);
      warnings.push({
        ...a.at,
        message: `${label}: found ${describe(a)}, a reference to aggregation node ${JSON.stringify(target.name)}; such outputs are dropped (aggregation nodes do not run per line)`,
      });
    }
  }

  const unique = [...byName.values()];
  const { order, remaining } = topologicalOrder(unique);
  if (remaining.length > 0) {
    const firstStuck = unique.find((n) => remaining.includes(n.name))!;
    problems.push({
      ...firstStuck.at,
      message: `found a circular dependency among nodes ${remaining.join(', ')}; expected node references (inputs and activate.when) without cycles`,
    });
  }
  return { problems, warnings, droppedOutputs, order: remaining.length > 0 ? [] : order };
}

/** The nodes a node depends on: node references in its inputs plus its `activate.when` node. */
export function nodeDependencies(node: FlowNode): string[] {
  const deps = new Set<string>();
  for (const a of Object.values(node.inputs)) {
    const n = referencedNode(a);
    if (n !== undefined) deps.add(n);
  }
  const when = referencedNode(node.activate?.when);
  if (when !== undefined) deps.add(when);
  return [...deps];
}

/**
 * Prompt Flow's stable order: repeatedly pick the first node (in YAML order) whose dependencies
 * are all picked. `remaining` (alphabetical) is non-empty when a cycle blocks the rest.
 * References to unknown nodes are ignored here (reported separately).
 */
export function topologicalOrder(nodes: readonly FlowNode[]): { order: string[]; remaining: string[] } {
  const known = new Set(nodes.map((n) => n.name));
  const deps = new Map(nodes.map((n) => [n.name, nodeDependencies(n).filter((d) => known.has(d))]));
  const picked = new Set<string>();
  const order: string[] = [];
  while (order.length < nodes.length) {
    const next = nodes.find((n) => !picked.has(n.name) && deps.get(n.name)!.every((d) => picked.has(d)));
    if (!next) break;
    picked.add(next.name);
    order.push(next.name);
  }
  const remaining = nodes
    .map((n) => n.name)
    .filter((n) => !picked.has(n))
    .sort();
  return { order, remaining };
}

/** `node "x"`, or `node "x" (variant variant_1)` for a body that came from node_variants. */
export function nodeLabel(node: FlowNode): string {
  return node.variantId === undefined
    ? `node ${JSON.stringify(node.name)}`
    : `node ${JSON.stringify(node.name)} (variant ${node.variantId})`;
}

function oneOf(names: string[], none: string): string {
  return names.length > 0 ? `one of: ${names.join(', ')}` : none;
}

function describe(a: InputAssignment): string {
  return a.kind === 'reference' ? a.ref.text : JSON.stringify(a.value);
}
