/**
 * Assembles the results from the run store without holding its lines: one pass over each standard run and
 * each evaluation run fills the compact line table (results/line-table.ts) the metrics with intervals,
 * comparisons and gates are computed from; the renderers then walk the lines again, each standard run in line
 * order joined with its evaluation runs, also in line order (two ordered streams walked side by side).
 */
import type { Gate } from '../config/types.js';
import { LocalDataRegistry } from '../data/registry.js';
import { ConfigError } from '../errors.js';
import { displayPath } from '../runs/data.js';
import type { LineRecord, RunRecord } from '../runs/store.js';
import { LineTable } from '../results/line-table.js';
import type {
  DatasetInfo,
  EvaluationResult,
  LineResult,
  ResultsSummary,
  RunResult,
  VariantInfo,
} from '../results/model.js';
import { FAILED_LINES_KEPT, type LineColumns, type ReportData } from '../results/report-data.js';
import type { RunsFile } from '../results/handoff.js';
import { computeComparisons, computeMetrics, type Analysed } from './analysis.js';
import { LineClusters, readDatasetClusters, type DatasetClusters } from './clusters.js';
import { evaluateGates } from './gates.js';
import { SequentialScores } from './early-stop-verdict.js';

/** What the results read from the run store (runs/store.ts RunStore). */
export interface StoredRuns {
  record(runId: string): RunRecord;
  /** A run's line records in finishing order. */
  lines(runId: string): AsyncIterable<LineRecord>;
  /** A run's line records by line number, memory-bounded. */
  linesInOrder(runId: string): AsyncIterable<LineRecord>;
}

export interface AssembleOptions {
  store: StoredRuns;
  /** The store's root folder, for the data registry (dataset versions and hashes). */
  storeRoot: string;
  runs: RunsFile;
  evaluations: EvaluationResult[];
  gates: Gate[];
  baseline?: Analysed;
  datasetSources: Record<string, string>;
  /** Datasets that declare cluster_by: the column, and the local file to read it from. */
  clusterBy?: Record<string, { column: string; file?: string }>;
  /** Datasets run with `repeat: K` (K > 1): their K repetitions of a data line are one cluster. */
  repeat?: Record<string, number>;
  build?: string;
  minLines?: number;
}

/** The report's data (summary, columns, failed lines, a line stream) and what the statistics read. */
export interface Assembled {
  data: ReportData;
  analysed: Analysed;
}

export async function assembleResults(o: AssembleOptions): Promise<Assembled> {
  const variants = uniqueVariants(o.runs);
  const table = new LineTable();
  const columns = new Map<string, { inputs: Set<string>; outputs: Set<string>; scores: Set<string> }>();
  const failed = { count: 0, lines: [] as LineResult[] };
  const runs: RunResult[] = [];
  const sequential = new SequentialScores(o.gates);
  for (const run of o.runs.runs) {
    const record = o.store.record(run.runId);
    sequential.addRun(run, record);
    const lines = table.addRun(run.runId, run.variantId, run.dataset, record.counts.total);
    const repeat = record.repeat ?? 1;
    const keys = { inputs: new Set<string>(), outputs: new Set<string>(), scores: new Set<string>() };
    columns.set(run.runId, keys);
    // Finishing order: the statistics index by line number, and an in-order walk would need the store's index.
    const firstFailed = new FirstLines(FAILED_LINES_KEPT - failed.lines.length);
    for await (const rec of o.store.lines(run.runId)) {
      lines.setLine(rec.line_number, !!rec.error, rec.latency_ms);
      for (const k in rec.inputs) if (k !== 'line_number') keys.inputs.add(k);
      for (const k in rec.outputs ?? {}) keys.outputs.add(k);
      if (rec.error) {
        failed.count += 1;
        firstFailed.offer(rec.line_number, () => lineResult(run, rec, repeat));
      }
    }
    failed.lines.push(...firstFailed.inOrder());
    runs.push({
      runId: run.runId,
      variantId: run.variantId,
      dataset: run.dataset,
      lines: record.counts.total,
      completed: record.counts.completed,
      failed: record.counts.failed,
      tokens: record.tokens,
      costUsd: record.cost_usd,
      latencyMs: latencyStats(lines.latencies()),
      durationMs: record.timings.duration_ms ?? 0,
      ...(record.early_stop?.stopped ? { stoppedAfter: record.early_stop.lines } : {}),
      ...(repeat > 1 ? { repeat } : {}),
    });
  }
  for (const e of o.evaluations) {
    const scored = table.run(e.standardRunId);
    if (!scored) continue;
    const keys = columns.get(e.standardRunId)!.scores;
    const scores = sequential.scoresOf(e);
    for await (const rec of o.store.lines(e.runId)) {
      if (rec.status !== 'Completed' || !rec.outputs) continue;
      scores?.(rec.line_number, rec.outputs);
      for (const k in rec.outputs) {
        table.addScore(scored, e.evaluator, k, rec.line_number, rec.outputs[k]);
        keys.add(`${e.evaluator}.${k}`);
      }
    }
  }
  table.compact();

  const registry = new LocalDataRegistry(o.storeRoot);
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

  const clusters = await lineClusters(o);
  const metrics = computeMetrics(o.evaluations, table, variants, clusters);
  const analysed: Analysed = { metrics, table, variants, clusters };
  const results: ResultsSummary = {
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
    gates: evaluateGates(o.gates, analysed, o.baseline, sequential.verdicts()),
  };
  const lineColumns = new Map<string, LineColumns>(
    [...columns].map(([runId, k]) => [
      runId,
      { inputs: [...k.inputs], outputs: [...k.outputs], scores: [...k.scores] },
    ]),
  );
  return {
    analysed,
    data: { results, columns: lineColumns, failed, lines: () => joinedLines(o.store, o.runs, o.evaluations) },
  };
}

/**
 * Clusters of a run with `repeat: K`: line n is a repetition of data line ⌊n / K⌋, so the data line (or, with
 * cluster_by too, the data line's own cluster) is the unit every interval and paired test counts.
 */
function repeatedClusters(lines: number, k: number, byData?: DatasetClusters): DatasetClusters {
  const ids = new Int32Array(lines);
  for (let n = 0; n < lines; n++) ids[n] = byData ? byData.ids[Math.floor(n / k)] : Math.floor(n / k);
  const count = byData ? byData.count : Math.ceil(lines / k);
  if (byData) return { column: `${byData.column} (repeat ${k})`, ids, count };
  return { column: `data line (repeat ${k})`, ids, count, repeat: k };
}

/** The cluster of every line of the datasets that declare cluster_by and were run; undefined when none. */
async function lineClusters(o: AssembleOptions): Promise<LineClusters | undefined> {
  const clusters = new LineClusters();
  for (const [dataset, { column, file }] of Object.entries(o.clusterBy ?? {})) {
    const runs = o.runs.runs.filter((r) => r.dataset === dataset);
    // An azureml: dataset's file is in the cache of the machine that ran it; without it lines stay unclustered.
    if (runs.length === 0 || !file) continue;
    const c = await readDatasetClusters(file, column);
    const longest = Math.max(...runs.map((r) => r.lines)) / (o.repeat?.[dataset] ?? 1);
    if (longest > c.ids.length)
      throw ConfigError.at(
        { file: displayPath(file) },
        `has ${c.ids.length} rows but a run of dataset "${dataset}" has ${longest} lines: the data changed since bulk-run; expected the file the runs read (run bulk-run again)`,
      );
    clusters.set(dataset, c);
  }
  for (const [dataset, k] of Object.entries(o.repeat ?? {})) {
    const runs = o.runs.runs.filter((r) => r.dataset === dataset);
    if (runs.length === 0 || k <= 1) continue;
    clusters.set(dataset, repeatedClusters(Math.max(...runs.map((r) => r.lines)), k, clusters.get(dataset)));
  }
  return clusters.size ? clusters : undefined;
}

/** The `max` lines of lowest line number among those offered (a bounded max-heap), however they arrive. */
class FirstLines {
  private readonly heap: { n: number; line: LineResult }[] = [];
  constructor(private readonly max: number) {}

  offer(n: number, make: () => LineResult): void {
    const h = this.heap;
    if (this.max <= 0 || (h.length >= this.max && n >= h[0].n)) return;
    if (h.length < this.max) {
      h.push({ n, line: make() });
      for (let i = h.length - 1; i > 0;) {
        const parent = (i - 1) >> 1;
        if (h[parent].n >= h[i].n) break;
        [h[parent], h[i]] = [h[i], h[parent]];
        i = parent;
      }
      return;
    }
    h[0] = { n, line: make() };
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < h.length && h[l].n > h[top].n) top = l;
      if (r < h.length && h[r].n > h[top].n) top = r;
      if (top === i) break;
      [h[top], h[i]] = [h[i], h[top]];
      i = top;
    }
  }

  inOrder(): LineResult[] {
    return [...this.heap].sort((a, b) => a.n - b.n).map((x) => x.line);
  }
}

/**
 * Every standard line with its scores, run by run, each in line order: the run's records and those of the
 * evaluation runs that scored it are read side by side in line order, so nothing is held per line.
 */
async function* joinedLines(
  store: StoredRuns,
  runsFile: RunsFile,
  evaluations: EvaluationResult[],
): AsyncGenerator<LineResult> {
  for (const run of runsFile.runs) {
    const scorers = evaluations
      .filter((e) => e.standardRunId === run.runId)
      .map((e) => new OrderedScores(e.evaluator, store.linesInOrder(e.runId)));
    const repeat = store.record(run.runId).repeat ?? 1;
    try {
      for await (const rec of store.linesInOrder(run.runId)) {
        const line = lineResult(run, rec, repeat);
        for (const s of scorers) await s.addTo(line);
        yield line;
      }
    } finally {
      await Promise.all(scorers.map((s) => s.close()));
    }
  }
}

/** One evaluation run's records in line order, consumed as the standard run's lines pass. */
class OrderedScores {
  private readonly it: AsyncIterator<LineRecord>;
  private current: LineRecord | undefined;
  private done = false;
  /** The outputs last given to a line: a line recorded twice in the standard run gets them both times. */
  private last: { line: number; outputs: Record<string, unknown> } | undefined;
  constructor(
    private readonly evaluator: string,
    records: AsyncIterable<LineRecord>,
  ) {
    this.it = records[Symbol.asyncIterator]();
  }

  async addTo(line: LineResult): Promise<void> {
    const n = line.lineNumber;
    if (!this.current && !this.done) await this.next();
    while (this.current && this.current.line_number <= n) {
      const rec = this.current;
      if (rec.line_number === n && rec.status === 'Completed' && rec.outputs)
        this.last = { line: n, outputs: rec.outputs };
      await this.next();
    }
    if (this.last?.line === n)
      for (const k in this.last.outputs) line.scores[`${this.evaluator}.${k}`] = this.last.outputs[k];
  }

  async close(): Promise<void> {
    if (!this.done) await this.it.return?.();
  }

  private async next(): Promise<void> {
    const r = await this.it.next();
    this.done = r.done === true;
    this.current = r.done ? undefined : r.value;
  }
}

/** A line of a run as the report shows it; `repeat`: the run's K (its lines say which data line they repeat). */
function lineResult(run: RunsFile['runs'][number], rec: LineRecord, repeat: number): LineResult {
  const { line_number: _drop, ...inputs } = rec.inputs;
  const n = rec.line_number;
  const line: LineResult = {
    runId: run.runId,
    variantId: run.variantId,
    dataset: run.dataset,
    lineNumber: n,
    // Records carry them; a line number alone says them too (line n repeats data line ⌊n / K⌋).
    ...(repeat > 1
      ? { sourceLine: rec.source_line ?? Math.floor(n / repeat), repetition: rec.repetition ?? n % repeat }
      : {}),
    inputs,
    latencyMs: rec.latency_ms,
    tokens: rec.tokens,
    scores: {},
  };
  if (rec.outputs) line.outputs = rec.outputs;
  if (rec.error)
    line.error = rec.error.code ? { message: rec.error.message, code: rec.error.code } : { message: rec.error.message };
  return line;
}

function uniqueVariants(runs: RunsFile): VariantInfo[] {
  const seen = new Map<string, VariantInfo>();
  for (const r of runs.runs)
    if (!seen.has(r.variantId))
      seen.set(r.variantId, { id: r.variantId, selection: r.selection, isDefault: r.isDefault });
  return [...seen.values()];
}

function latencyStats(values: Float64Array): RunResult['latencyMs'] {
  if (values.length === 0) return { mean: 0, p50: 0, p95: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return { mean: sum / values.length, p50: q(0.5), p95: q(0.95), max: sorted[sorted.length - 1] };
}
