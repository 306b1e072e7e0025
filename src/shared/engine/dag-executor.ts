/**
 * A DAG flow prepared for execution: the plan (inputs resolved to indices, dependencies, runners) is built once,
 * so a line is only value lookups, node calls and output assembly (promptflow-formats.md §1.2–§1.9).
 * @module
 */
import type { DagFlow, FlowNode, InputAssignment } from '../flow/index.js';
import { LineFailure } from './line-error.js';
import { makeRunner, type RunnerDeps } from './node-runners.js';
import {
  outputValue,
  runStage,
  type NodeRun,
  type PlannedInput,
  type PlannedNode,
  type RunContext,
} from './scheduler.js';
import { coerceLineInputs } from './flow-inputs.js';
import { imagesFromWorker, loadNestedImages, toRecordValue, type ImageSink } from './images.js';

export interface DagLineResult {
  outputs: Record<string, unknown>;
  nodeRuns: Record<string, NodeRun>;
  /** Values aggregation nodes reference, by reference text (only when the flow has aggregation nodes). */
  aggregationInputs?: Record<string, unknown>;
}

export interface DagPlan {
  flow: DagFlow;
  line: PlannedNode[];
  aggregation: PlannedNode[];
  lineIndex: Map<string, number>;
  /** References aggregation nodes make to line nodes or flow inputs. */
  aggregationRefs: Map<string, InputAssignment>;
  images: RunnerDeps['images'];
}

/** Builds the plan; ConfigError for anything that would fail the whole run (missing connection, bad literal, bad python file). */
export async function planDag(flow: DagFlow, deps: RunnerDeps): Promise<DagPlan> {
  const byOrder = flow.order.map((name) => flow.nodes.find((n) => n.name === name)!);
  const lineNodes = byOrder.filter((n) => !n.aggregation);
  const aggNodes = byOrder.filter((n) => n.aggregation);
  const lineIndex = new Map(lineNodes.map((n, i) => [n.name, i]));
  const aggIndex = new Map(aggNodes.map((n, i) => [n.name, i]));
  const aggregationRefs = new Map<string, InputAssignment>();
  const line = await Promise.all(lineNodes.map((n, i) => planNode(n, i, lineIndex, undefined, deps)));
  const aggregation = await Promise.all(aggNodes.map((n, i) => planNode(n, i, aggIndex, aggregationRefs, deps)));
  link(line);
  link(aggregation);
  return { flow, line, aggregation, lineIndex, aggregationRefs, images: deps.images };
}

async function planNode(
  node: FlowNode,
  index: number,
  indexOf: Map<string, number>,
  externals: Map<string, InputAssignment> | undefined,
  deps: RunnerDeps,
): Promise<PlannedNode> {
  const plan = (name: string, a: InputAssignment): PlannedInput => {
    if (a.kind === 'literal') return { name, kind: 'literal', value: a.value };
    const ref = a.ref;
    if (ref.kind === 'node' && indexOf.has(ref.node))
      return { name, kind: 'node', node: indexOf.get(ref.node)!, path: ref.path, text: ref.text };
    if (externals) {
      externals.set(ref.text, a);
      return { name, kind: 'external', text: ref.text };
    }
    if (ref.kind === 'flow_input') return { name, kind: 'input', input: ref.input, text: ref.text };
    throw new Error(`unresolved reference ${ref.text}`);
  };
  const inputs = Object.entries(node.inputs).map(([k, a]) => plan(k, a));
  const activate = node.activate ? { when: plan('', node.activate.when), is: node.activate.is } : undefined;
  const run = await makeRunner(node, inputs, deps);
  const deps_ = new Set<number>();
  for (const p of inputs) if (p.kind === 'node') deps_.add(p.node);
  if (activate?.when.kind === 'node') deps_.add(activate.when.node);
  return {
    name: node.name,
    index,
    inputs,
    deps: [...deps_],
    dependents: [],
    hasNodeRefs: inputs.some((p) => p.kind === 'node'),
    activate,
    run,
  };
}

function link(nodes: PlannedNode[]): void {
  for (const n of nodes) for (const d of n.deps) nodes[d].dependents.push(n.index);
}

/** Runs one line: coercion (§1.2), scheduling (§1.8), outputs (§1.3). Throws LineFailure. */
export async function runDagLine(
  plan: DagPlan,
  rawInputs: Record<string, unknown>,
  ctx: RunContext,
): Promise<DagLineResult> {
  const coerced = coerceLineInputs(plan.flow.inputs, rawInputs, ctx.lineNumber, plan.images);
  const inputs = coerced instanceof Promise ? await coerced : coerced;
  const stage = await runStage(plan.line, { inputs }, ctx);
  const sink: ImageSink | undefined = plan.images?.sink;
  const outputs: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(plan.flow.outputs))
    outputs[name] = toRecordValue(outputValue(def.reference!, inputs, stage, plan.lineIndex), sink);
  const result: DagLineResult = { outputs, nodeRuns: stage.nodeRuns };
  if (plan.aggregationRefs.size > 0) {
    const agg: Record<string, unknown> = {};
    for (const [text, a] of plan.aggregationRefs) {
      try {
        agg[text] = toRecordValue(outputValue(a, inputs, stage, plan.lineIndex), sink);
      } catch {
        agg[text] = null;
      }
    }
    result.aggregationInputs = agg;
  }
  return result;
}

/** Runs the aggregation nodes once over the succeeded lines' values (§1.9); metrics come from log_metric. */
export async function runDagAggregation(
  plan: DagPlan,
  lines: { count: number; inputs: Map<string, unknown[]> },
  ctx: RunContext,
): Promise<{ metrics: Record<string, unknown>; nodeRuns: Record<string, NodeRun> }> {
  const external: Record<string, unknown> = {};
  // Images were recorded as files (or base64 without a sink): aggregation nodes get them back as images.
  const images = plan.images;
  const load = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (!images?.sink) return imagesFromWorker(v);
    return loadNestedImages(v, {
      baseDir: images.sink.root,
      format: images.format,
      fetchImpl: images.fetchImpl,
      timeoutMs: images.timeoutMs,
    });
  };
  for (const text of plan.aggregationRefs.keys()) {
    const column = lines.inputs.get(text) ?? new Array<unknown>(lines.count).fill(null);
    // Only objects may hold images to load: a column of plain values (the usual grades and scores) is passed as
    // it is, without a promise per line.
    external[text] = column.some((v) => v !== null && typeof v === 'object')
      ? await Promise.all(column.map((v) => load(v ?? null)))
      : column;
  }
  const metrics: Record<string, unknown> = {};
  const aggCtx: RunContext & { metrics: Record<string, unknown> } = { ...ctx, metrics };
  try {
    const stage = await runStage(plan.aggregation, { inputs: {}, external }, aggCtx);
    return { metrics, nodeRuns: stage.nodeRuns };
  } catch (e) {
    if (e instanceof LineFailure) Object.assign(e, { metrics });
    throw e;
  }
}
