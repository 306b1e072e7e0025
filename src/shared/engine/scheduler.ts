/**
 * Per-line DAG scheduling (promptflow-formats.md §1.8): ready nodes are bypassed or started, independent nodes
 * run in parallel, the first failure fails the line. The same scheduler runs the aggregation stage (§1.9).
 * @module
 */
import type { InputAssignment } from '../flow/index.js';
import { pyEquals } from './template/index.js';
import { LineFailure, toLineFailure } from './line-error.js';
import type { Usage } from './llm-service.js';
import { emptyUsage } from './llm-service.js';
import { followPath } from './values.js';
import { errorTypeOf, telemetry } from '../telemetry/hooks.js';

/** A node input as resolved once per flow. */
export type PlannedInput =
  | { name: string; kind: 'literal'; value: unknown }
  | { name: string; kind: 'input'; input: string; text: string }
  | { name: string; kind: 'node'; node: number; path: (string | number)[]; text: string }
  /** A value from outside the stage (aggregation: the list over lines), by reference text. */
  | { name: string; kind: 'external'; text: string };

export interface RunContext {
  lineNumber: number;
  /** The line's usage, and the node's own. */
  usage: Usage[];
  signal?: AbortSignal;
  /** Aggregation stage: metrics logged with log_metric. */
  metrics?: Record<string, unknown>;
}

export interface PlannedNode {
  name: string;
  index: number;
  inputs: PlannedInput[];
  /** Indices of nodes of the same stage this node waits for. */
  deps: number[];
  dependents: number[];
  hasNodeRefs: boolean;
  activate?: { when: PlannedInput; is: unknown };
  /** Runs the tool. `bypassedInputs` names inputs whose referenced node was bypassed. */
  run(inputs: Record<string, unknown>, bypassedInputs: string[] | undefined, ctx: RunContext): Promise<unknown>;
}

export interface NodeRun {
  status: 'Completed' | 'Bypassed' | 'Failed';
  latency_ms?: number;
  tokens?: { prompt: number; completion: number; total: number };
}

export interface StageResult {
  outputs: unknown[];
  bypassed: boolean[];
  nodeRuns: Record<string, NodeRun>;
}

/** Inputs of a line (flow inputs) and of references from outside the stage. */
export interface StageValues {
  inputs: Record<string, unknown>;
  external?: Record<string, unknown>;
}

/** Runs the nodes of a stage; rejects with a LineFailure on the first node failure. */
export function runStage(nodes: readonly PlannedNode[], values: StageValues, ctx: RunContext): Promise<StageResult> {
  const n = nodes.length;
  const outputs: unknown[] = new Array(n).fill(null);
  const bypassed: boolean[] = new Array(n).fill(false);
  const remaining = nodes.map((node) => node.deps.length);
  const nodeRuns: Record<string, NodeRun> = {};
  let done = 0;
  let running = 0;
  let failed = false;
  return new Promise<StageResult>((resolve, reject) => {
    const fail = (err: unknown, node?: string) => {
      if (failed) return;
      failed = true;
      if (node) nodeRuns[node] = { status: 'Failed' };
      reject(toLineFailure(err, node));
    };
    const finish = (i: number) => {
      done++;
      for (const d of nodes[i].dependents) remaining[d]--;
    };
    const value = (inp: PlannedInput): unknown => {
      switch (inp.kind) {
        case 'literal':
          return inp.value;
        case 'input':
          return values.inputs[inp.input];
        case 'external':
          return values.external?.[inp.text];
        case 'node':
          return inp.path.length === 0 ? outputs[inp.node] : followPath(outputs[inp.node], inp.path, inp.text);
      }
    };
    const shouldBypass = (node: PlannedNode): boolean => {
      if (node.activate) {
        const w = node.activate.when;
        if (w.kind === 'node' && bypassed[w.node]) return true;
        return !pyEquals(value(w), node.activate.is);
      }
      if (!node.hasNodeRefs) return false;
      for (const inp of node.inputs) if (inp.kind === 'node' && !bypassed[inp.node]) return false;
      return true;
    };
    const start = (node: PlannedNode) => {
      const inputs: Record<string, unknown> = {};
      let bypassedInputs: string[] | undefined;
      for (const inp of node.inputs) {
        if (inp.kind === 'node' && bypassed[inp.node]) (bypassedInputs ??= []).push(inp.name);
        else inputs[inp.name] = value(inp);
      }
      const own = emptyUsage();
      const started = performance.now();
      // Spans are keyed by usage records: the node's own, under the innermost of its context (the line's).
      const t = telemetry;
      if (t) t.nodeStart(ctx.usage[ctx.usage.length - 1], own, node.name);
      running++;
      node
        .run(inputs, bypassedInputs, {
          lineNumber: ctx.lineNumber,
          usage: [...ctx.usage, own],
          signal: ctx.signal,
          metrics: ctx.metrics,
        })
        .then(
          (out) => {
            running--;
            if (t) t.nodeEnd(own, node.name, undefined, performance.now() - started);
            if (failed) return;
            outputs[node.index] = out;
            const run: NodeRun = { status: 'Completed', latency_ms: round(performance.now() - started) };
            if (own.llmCalls > 0)
              run.tokens = { prompt: own.promptTokens, completion: own.completionTokens, total: own.totalTokens };
            nodeRuns[node.name] = run;
            finish(node.index);
            pump();
          },
          (err) => {
            running--;
            if (t) t.nodeEnd(own, node.name, errorTypeOf(err), performance.now() - started);
            fail(err, node.name);
          },
        );
    };
    const pump = () => {
      try {
        let changed = true;
        // 1. bypass every ready, bypassable node until nothing changes; 2. start the remaining ready ones.
        while (changed) {
          changed = false;
          for (const node of nodes) {
            if (remaining[node.index] === 0 && !started[node.index] && shouldBypass(node)) {
              started[node.index] = true;
              bypassed[node.index] = true;
              nodeRuns[node.name] = { status: 'Bypassed' };
              finish(node.index);
              changed = true;
            }
          }
        }
        for (const node of nodes) {
          if (remaining[node.index] === 0 && !started[node.index]) {
            started[node.index] = true;
            start(node);
          }
        }
      } catch (err) {
        fail(err);
        return;
      }
      if (done === n) resolve({ outputs, bypassed, nodeRuns });
      else if (running === 0 && !failed)
        fail(
          new LineFailure('No nodes are ready for execution, but the flow is not completed.', ['NoNodeExecutedError'], {
            system: true,
          }),
        );
    };
    const started: boolean[] = new Array(n).fill(false);
    pump();
  });
}

/** Resolves a flow output reference against a finished stage (§1.3). */
export function outputValue(
  a: InputAssignment,
  inputs: Record<string, unknown>,
  stage: StageResult,
  indexOf: Map<string, number>,
): unknown {
  if (a.kind === 'literal') return a.value;
  const ref = a.ref;
  if (ref.kind === 'flow_input') return inputs[ref.input];
  const i = indexOf.get(ref.node)!;
  if (stage.bypassed[i]) {
    if (ref.path.length === 0) return null;
    throw new LineFailure(
      `Invalid property '${ref.property}' when accessing the reference '${ref.text}': the node '${ref.node}' was bypassed.`,
      ['InvalidReferenceProperty'],
    );
  }
  return ref.path.length === 0 ? stage.outputs[i] : followPath(stage.outputs[i], ref.path, ref.text);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
