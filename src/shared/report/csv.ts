/**
 * CSV reports with the seed template's names and columns (llmops-template.md §6.5–6.6):
 * `<evaluator>_result.csv`, `<evaluator>_metrics.csv`, `<experiment>_result.csv` and
 * `<experiment>_metrics.csv`. Datasets are columns, never part of a file name, so several
 * datasets cannot overwrite each other (the seed's bug #221); `exp_run` holds the standard
 * run each evaluation scored (the seed wrote the last run id on every row). When an evaluator has
 * the experiment's name (the template's class_flows does), the experiment's files are
 * `<experiment>_experiment_result.csv` / `_metrics.csv`, so neither overwrites the other.
 * The line files are written row by row as the lines pass, in line order: never all lines in memory.
 * @module
 */
import { stringify } from 'csv-stringify/sync';
import { evaluatorNames, safeFileName, variantById, variedNodes } from './format.js';
import type { EvaluationResult, LineResult, Results } from '../results/model.js';
import type { ReportData } from '../results/report-data.js';
import { columnUnion, forRendering } from './order.js';
import { renderInMemory } from './render-lines.js';
import type { LineRenderer, RenderOptions, ReportFile } from './types.js';

type Row = Record<string, unknown>;

/** Every CSV report of `results`: two per evaluator and two for the whole experiment. */
export function renderCsv(results: Results, options: RenderOptions = {}): ReportFile[] {
  return renderInMemory(forRendering(results, options.secrets), csvRenderers);
}

/** The CSV files of (already redacted) report data, as line renderers. */
export function csvRenderers(data: ReportData): LineRenderer[] {
  const r = data.results;
  const files: LineRenderer[] = [];
  const experimentColumns: Row = { stage: r.env ?? '', experiment_name: r.experiment, build: r.build ?? '' };
  const evaluators = evaluatorNames(r);
  for (const evaluator of evaluators) {
    const scored = new Set(r.evaluations.filter((e) => e.evaluator === evaluator).map((e) => e.standardRunId));
    files.push(lineTable(data, `${safeFileName(evaluator)}_result.csv`, scored, [evaluator]));
    files.push(
      whole(
        `${safeFileName(evaluator)}_metrics.csv`,
        metricsTable(
          data,
          r.evaluations.filter((e) => e.evaluator === evaluator),
        ),
      ),
    );
  }
  const evaluatorFiles = new Set(evaluators.map((e) => safeFileName(e).toLowerCase()));
  const experiment = safeFileName(r.experiment);
  const name = evaluatorFiles.has(experiment.toLowerCase()) ? `${experiment}_experiment` : experiment;
  const allRuns = new Set([...r.runs.map((run) => run.runId), ...data.columns.keys()]);
  files.push(lineTable(data, `${name}_result.csv`, allRuns, evaluators, experimentColumns));
  files.push(whole(`${name}_metrics.csv`, metricsTable(data, r.evaluations, experimentColumns)));
  return files;
}

/**
 * Line-level rows of the lines of `runs`: line_number (then source_line and repetition with `repeat: K`), inputs.*, outputs.*, `<evaluator>.<output>` scores,
 * error, run facts, variant columns.
 */
function lineTable(
  data: ReportData,
  name: string,
  runs: Set<string>,
  evaluators: string[],
  extra: Row = {},
): LineRenderer {
  const order = [...data.columns.keys()].filter((runId) => runs.has(runId));
  const inputKeys = columnUnion(data, order, 'inputs');
  const outputKeys = columnUnion(data, order, 'outputs');
  const prefixes = evaluators.map((e) => `${e}.`);
  const scoreKeys = columnUnion(data, order, 'scores').filter((k) => prefixes.some((p) => k.startsWith(p)));
  const nodes = variedNodes(data.results);
  const variants = variantById(data.results);
  // `repeat: K`: which data line a row repeats, and which repetition it is (only when a run of the file repeats).
  const repeats = data.results.runs.some((run) => runs.has(run.runId) && run.repeat !== undefined);
  const header = [
    'line_number',
    ...(repeats ? ['source_line', 'repetition'] : []),
    ...inputKeys.map((k) => `inputs.${k}`),
    ...outputKeys.map((k) => `outputs.${k}`),
    ...scoreKeys,
    'error',
    'latency_ms',
    'total_tokens',
    'variant',
    ...nodes,
    'dataset',
    'run_id',
    ...Object.keys(extra),
  ];
  const extraValues = Object.values(extra);
  return {
    name,
    start: () => csvRow(header),
    line(line: LineResult) {
      if (!runs.has(line.runId)) return '';
      const selection = variants.get(line.variantId)?.selection ?? {};
      return csvRow([
        line.lineNumber,
        ...(repeats ? [line.sourceLine, line.repetition] : []),
        ...inputKeys.map((k) => line.inputs[k]),
        ...outputKeys.map((k) => line.outputs?.[k]),
        ...scoreKeys.map((k) => line.scores[k]),
        line.error ? (line.error.code ? `${line.error.code}: ${line.error.message}` : line.error.message) : '',
        line.latencyMs,
        line.tokens.total,
        line.variantId,
        ...nodes.map((n) => selection[n]),
        line.dataset,
        line.runId,
        ...extraValues,
      ]);
    },
    end: () => '',
  };
}

/** One row per evaluation run: metric columns, then variant columns, dataset, flow_name, exp_run. */
function metricsTable(data: ReportData, evaluations: EvaluationResult[], extra: Row = {}): string {
  const metricKeys = unionKeys(evaluations.map((e) => e.metrics));
  const nodes = variedNodes(data.results);
  const variants = variantById(data.results);
  const header = [
    ...metricKeys,
    'variant',
    ...nodes,
    'dataset',
    'flow_name',
    'exp_run',
    'run_id',
    'line_count',
    'failed_count',
    ...Object.keys(extra),
  ];
  const rows = evaluations.map((e) => {
    const selection = variants.get(e.variantId)?.selection ?? {};
    return [
      ...metricKeys.map((k) => e.metrics[k]),
      e.variantId,
      ...nodes.map((n) => selection[n]),
      e.dataset,
      e.evaluator,
      e.standardRunId,
      e.runId,
      e.lines,
      e.failed,
      ...Object.values(extra),
    ];
  });
  return toCsv([header, ...rows]);
}

function unionKeys(records: Iterable<Record<string, unknown>>): string[] {
  const keys = new Set<string>();
  for (const record of records) for (const key of Object.keys(record)) keys.add(key);
  return [...keys];
}

/** A cell: nothing for missing values, JSON for objects and lists (as pandas would show a dict). */
function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/**
 * One CSV record (RFC 4180, as csv-stringify writes it: a field holding a comma, a quote or a line break is
 * quoted, its quotes doubled). Hand-written for the per-line rows: csv-stringify's synchronous call sets up its
 * options on every call, which at a million rows cost seconds and a stream of short-lived objects.
 */
function csvRow(row: unknown[]): string {
  let out = '';
  for (let i = 0; i < row.length; i++) {
    const text = cell(row[i]);
    out += (i === 0 ? '' : ',') + (/[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
  }
  return `${out}\n`;
}

function toCsv(rows: unknown[][]): string {
  return stringify(
    rows.map((row) => row.map(cell)),
    { eof: true },
  );
}

/** A file with no per-line rows. */
function whole(name: string, content: string): LineRenderer {
  return { name, walksLines: false, start: () => content, line: () => '', end: () => '' };
}
