/**
 * Variants (§1.10): choosing the body of each `use_variants` node, and planning the combinations a
 * bulk run tries (defaults, one-at-a-time as the seed template does, cartesian, or a list).
 * @module
 */
import { ConfigError, type Problem, type SourceLocation } from '../errors.js';
import { checkGraph } from './dag-graph.js';
import { isRecord } from './file-refs.js';
import type { DagFlow, FlowNode, LoadedFlow, NodeVariants } from './model.js';

/** A variant selection: node name → variant id. Nodes left out get their default_variant_id. */
export type VariantSelection = Record<string, string>;

export type VariantPlan = 'defaults' | 'one_at_a_time' | 'cartesian' | { list: Array<VariantSelection | string> };

export interface VariantCombination {
  /** Readable and unique within a plan: "default", "summarize.variant_1", "a.variant_1+b.variant_2". */
  id: string;
  /** The variant of every `use_variants` node (empty for flows without variants). */
  selection: VariantSelection;
  /** `${node.variant}` in Prompt Flow's --variant form when at most one node differs from its default. */
  spec?: string;
}

/** Parses `${node.variant_id}` (Prompt Flow's `--variant`). */
export function parseVariantSpec(spec: string, at?: SourceLocation): { node: string; variantId: string } {
  // Same pattern as Prompt Flow's parse_variant, including its unescaped '.'.
  const m = /^\$\{([^.]+).([^}]+)\}/.exec(spec);
  if (!m)
    throw ConfigError.at(
      at ?? { file: '(variant)' },
      `found ${JSON.stringify(spec)}, expected a variant in the form \${<node>.<variant_id>}`,
    );
  return { node: m[1], variantId: m[2] };
}

/** The nodes with `selection` applied (defaults elsewhere). The selection must be valid. */
export function selectVariantNodes(
  nodes: readonly FlowNode[],
  nodeVariants: Record<string, NodeVariants>,
  selection: VariantSelection,
): FlowNode[] {
  return nodes.map((n) => {
    if (!n.useVariants) return n;
    const nv = nodeVariants[n.name];
    return nv.variants[selection[n.name] ?? nv.defaultVariantId];
  });
}

/**
 * A new flow in which every `use_variants` node has the selected variant's body (name kept),
 * re-validated and re-ordered. Unknown node or variant → ConfigError at `origin` (where the
 * selection was written) or at the node's `node_variants` entry.
 */
export function applyVariant(flow: DagFlow, selection: VariantSelection, origin?: SourceLocation): DagFlow {
  const problems = selectionProblems(flow, selection, origin);
  if (problems.length > 0) throw new ConfigError(problems);
  const nodes = selectVariantNodes(flow.nodes, flow.nodeVariants, selection);
  const graph = checkGraph(nodes, flow.inputs, flow.outputs);
  if (graph.problems.length > 0) throw new ConfigError(graph.problems);
  const full: VariantSelection = {};
  for (const n of nodes) if (n.useVariants) full[n.name] = n.variantId!;
  return { ...flow, nodes, order: graph.order, selection: full };
}

/** The combinations to run for a plan, each checked by applying it. Flex and prompty flows have only the default. */
export function planVariants(flow: LoadedFlow, plan: VariantPlan, origin?: SourceLocation): VariantCombination[] {
  if (flow.kind !== 'dag') {
    if (plan === 'defaults') return [{ id: 'default', selection: {} }];
    throw ConfigError.at(
      origin ?? { file: flow.displayFile },
      `found variant plan ${describePlan(plan)} for a ${flow.kind} flow, expected "defaults" (only DAG flows have variants)`,
    );
  }
  const varied = flow.nodes.filter((n) => n.useVariants).map((n) => flow.nodeVariants[n.name]);
  const defaults: VariantSelection = Object.fromEntries(varied.map((nv) => [nv.node, nv.defaultVariantId]));
  const combos: VariantSelection[] = [];
  if (plan === 'defaults') combos.push(defaults);
  else if (plan === 'one_at_a_time') {
    combos.push(defaults);
    for (const nv of varied)
      for (const v of nv.variantIds) if (v !== nv.defaultVariantId) combos.push({ ...defaults, [nv.node]: v });
  } else if (plan === 'cartesian') {
    let acc: VariantSelection[] = [{}];
    for (const nv of varied) {
      const ids = [nv.defaultVariantId, ...nv.variantIds.filter((v) => v !== nv.defaultVariantId)];
      acc = acc.flatMap((sel) => ids.map((v) => ({ ...sel, [nv.node]: v })));
    }
    combos.push(...acc);
  } else if (isRecord(plan) && Array.isArray(plan.list)) {
    combos.push(...explicitCombos(flow, plan.list, defaults, origin));
  } else {
    throw ConfigError.at(
      origin ?? { file: flow.displayFile },
      `found variant plan ${describePlan(plan)}, expected defaults, one_at_a_time, cartesian or {list: [...]}`,
    );
  }
  const problems: Problem[] = [];
  for (const sel of combos) {
    try {
      applyVariant(flow, sel, origin);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const p of e.problems)
        problems.push({ ...p, message: `variant combination ${combinationId(sel, defaults)}: ${p.message}` });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return combos.map((selection) => toCombination(selection, defaults));
}

function explicitCombos(
  flow: DagFlow,
  list: Array<VariantSelection | string>,
  defaults: VariantSelection,
  origin?: SourceLocation,
): VariantSelection[] {
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  const combos: VariantSelection[] = [];
  list.forEach((item, i) => {
    let sel: VariantSelection;
    try {
      if (typeof item === 'string') {
        const { node, variantId } = parseVariantSpec(item, origin ?? { file: flow.displayFile });
        sel = { [node]: variantId };
      } else if (isRecord(item) && Object.values(item).every((v) => typeof v === 'string')) {
        sel = item;
      } else {
        throw ConfigError.at(
          origin ?? { file: flow.displayFile },
          `found ${JSON.stringify(item)}, expected a mapping node → variant id or "\${node.variant_id}"`,
        );
      }
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems.map((p) => ({ ...p, message: `variant list item ${i + 1}: ${p.message}` })));
      return;
    }
    const bad = selectionProblems(flow, sel, origin);
    if (bad.length > 0) {
      problems.push(...bad.map((p) => ({ ...p, message: `variant list item ${i + 1}: ${p.message}` })));
      return;
    }
    const full = { ...defaults, ...sel };
    const id = combinationId(full, defaults);
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      problems.push({
        ...(origin ?? { file: flow.displayFile }),
        message: `variant list item ${i + 1}: found combination ${id} again (item ${earlier}), expected each combination once`,
      });
      return;
    }
    seen.set(id, i + 1);
    combos.push(full);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return combos;
}

function selectionProblems(flow: DagFlow, selection: VariantSelection, origin?: SourceLocation): Problem[] {
  const problems: Problem[] = [];
  const varied = flow.nodes.filter((n) => n.useVariants).map((n) => n.name);
  for (const [node, variantId] of Object.entries(selection)) {
    const nv = flow.nodeVariants[node];
    if (!nv || !varied.includes(node)) {
      const expected =
        varied.length > 0 ? `one of: ${varied.join(', ')}` : 'none (this flow has no use_variants nodes)';
      problems.push({
        ...(origin ?? { file: flow.displayFile }),
        message: `variant selection: found node ${JSON.stringify(node)}, expected a node with use_variants: true, ${expected}`,
      });
    } else if (!(variantId in nv.variants)) {
      problems.push({
        ...(origin ?? nv.at),
        message: `variant selection for node ${JSON.stringify(node)}: found ${JSON.stringify(variantId)}, expected one of: ${nv.variantIds.join(', ')}`,
      });
    }
  }
  return problems;
}

function toCombination(selection: VariantSelection, defaults: VariantSelection): VariantCombination {
  const changed = Object.keys(selection).filter((n) => selection[n] !== defaults[n]);
  const combo: VariantCombination = { id: combinationId(selection, defaults), selection };
  const first = Object.keys(selection)[0];
  if (changed.length === 1) combo.spec = `\${${changed[0]}.${selection[changed[0]]}}`;
  else if (changed.length === 0 && first !== undefined) combo.spec = `\${${first}.${selection[first]}}`;
  return combo;
}

function combinationId(selection: VariantSelection, defaults: VariantSelection): string {
  const changed = Object.keys(selection).filter((n) => selection[n] !== defaults[n]);
  return changed.length === 0 ? 'default' : changed.map((n) => `${n}.${selection[n]}`).join('+');
}

function describePlan(plan: unknown): string {
  return typeof plan === 'string' ? JSON.stringify(plan) : (JSON.stringify(plan) ?? String(plan));
}
