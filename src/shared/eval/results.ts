/**
 * Assembles the one results model from the run store: standard runs with their lines,
 * evaluation runs joined to those lines by line number, then metrics with intervals,
 * comparisons and gates.
 */
import type { Gate } from '../config/types.js';
import { LocalDataRegistry } from '../data/registry.js';
import { RunStore } from '../runs/index.js';
import type { DatasetInfo, EvaluationResult, LineResult, Results, RunResult, VariantInfo } from '../results/model.js';
import type { RunsFile } from '../results/handoff.js';
import { computeComparisons, computeMetrics } from './analysis.js';
import { evaluateGates } from './gates.js';

export interface AssembleOptions {
  store: string;
  runs: RunsFile;
  evaluations: EvaluationResult[];
  gates: Gate[];
  baseline?: Results;
  datasetSources: Record<string, string>;
  build?: string;
  minLines?: number;
}

export async function assembleResults(o: AssembleOptions): Promise<Results> {
  const variants = uniqueVariants(o.runs);
  const lines: LineResult[] = [];
  const runs: RunResult[] = [];
  for (const run of o.runs.runs) {
    const record = new RunStore(o.store).record(run.runId);
    const latencies: number[] = [];
    for await (const rec of new RunStore(o.store).lines(run.runId)) {
      latencies.push(rec.latency_ms);
      const { line_number: _drop, ...inputs } = rec.inputs;
      lines.push({
        runId: run.runId,
        variantId: run.variantId,
        dataset: run.dataset,
        lineNumber: rec.line_number,
        inputs,
        outputs: rec.outputs,
        error: rec.error ? { message: rec.error.message, code: rec.error.code } : undefined,
        latencyMs: rec.latency_ms,
        tokens: rec.tokens,
        scores: {},
      });
    }
    runs.push({
      runId: run.runId,
      variantId: run.variantId,
      dataset: run.dataset,
      lines: record.counts.total,
      completed: record.counts.completed,
      failed: record.counts.failed,
      tokens: record.tokens,
      costUsd: record.cost_usd,
      latencyMs: latencyStats(latencies),
      durationMs: record.timings.duration_ms ?? 0,
    });
  }
  await joinScores(o.store, o.evaluations, lines);

  const registry = new LocalDataRegistry(o.store);
  const datasets: DatasetInfo[] = [];
  for (const name of [...new Set(o.runs.runs.map((r) => r.dataset))]) {
    const latest = await registry.latest(name);
    const lineCount = o.runs.runs.find((r) => r.dataset === name)!.lines;
    datasets.push({
      name,
      source: o.datasetSources[name] ?? '',
      lines: lineCount,
      ...(latest ? { version: latest.version, hash: latest.hash } : {}),
    });
  }

  const metrics = computeMetrics(o.evaluations, lines, variants);
  const analysed = { metrics, lines, variants };
  return {
    schemaVersion: 1,
    experiment: o.runs.experiment,
    ...(o.runs.env ? { env: o.runs.env } : {}),
    ...((o.build ?? o.runs.build) ? { build: o.build ?? o.runs.build } : {}),
    createdAt: new Date().toISOString(),
    variants,
    datasets,
    runs,
    evaluations: o.evaluations,
    metrics,
    comparisons: computeComparisons(analysed, o.baseline, { minLines: o.minLines }),
    gates: evaluateGates(o.gates, analysed, o.baseline),
    lines,
  };
}

/** Each evaluation line's outputs become `<evaluator>.<output>` scores of the standard line it scored. */
async function joinScores(store: string, evaluations: EvaluationResult[], lines: LineResult[]): Promise<void> {
  const byKey = new Map(lines.map((l) => [`${l.runId}#${l.lineNumber}`, l]));
  for (const e of evaluations) {
    for await (const rec of new RunStore(store).lines(e.runId)) {
      const line = byKey.get(`${e.standardRunId}#${rec.line_number}`);
      if (!line || rec.status !== 'Completed' || !rec.outputs) continue;
      for (const [k, v] of Object.entries(rec.outputs)) line.scores[`${e.evaluator}.${k}`] = v;
    }
  }
}

function uniqueVariants(runs: RunsFile): VariantInfo[] {
  const seen = new Map<string, VariantInfo>();
  for (const r of runs.runs)
    if (!seen.has(r.variantId))
      seen.set(r.variantId, { id: r.variantId, selection: r.selection, isDefault: r.isDefault });
  return [...seen.values()];
}

function latencyStats(values: number[]): RunResult['latencyMs'] {
  if (values.length === 0) return { mean: 0, p50: 0, p95: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  return {
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    p50: q(0.5),
    p95: q(0.95),
    max: sorted[sorted.length - 1],
  };
}
