/**
 * CSV reports with the seed template's names and columns (llmops-template.md §6.5–6.6):
 * `<evaluator>_result.csv`, `<evaluator>_metrics.csv`, `<experiment>_result.csv` and
 * `<experiment>_metrics.csv`. Datasets are columns, never part of a file name, so several
 * datasets cannot overwrite each other (the seed's bug #221); `exp_run` holds the standard
 * run each evaluation scored (the seed wrote the last run id on every row). When an evaluator has
 * the experiment's name (the template's class_flows does), the experiment's files are
 * `<experiment>_experiment_result.csv` / `_metrics.csv`, so neither overwrites the other.
 * @module
 */
import { stringify } from 'csv-stringify/sync';
import { evaluatorNames, safeFileName, variantById, variedNodes } from './format.js';
import type { EvaluationResult, LineResult, Results } from '../results/model.js';
import { forRendering } from './order.js';
import type { RenderOptions, ReportFile } from './types.js';

type Row = Record<string, unknown>;

/** Every CSV report of `results`: two per evaluator and two for the whole experiment. */
export function renderCsv(results: Results, options: RenderOptions = {}): ReportFile[] {
  const r = forRendering(results, options.secrets);
  const files: ReportFile[] = [];
  const experimentColumns: Row = { stage: r.env ?? '', experiment_name: r.experiment, build: r.build ?? '' };
  for (const evaluator of evaluatorNames(r)) {
    const scored = new Set(r.evaluations.filter((e) => e.evaluator === evaluator).map((e) => e.standardRunId));
    const lines = r.lines.filter((line) => scored.has(line.runId));
    files.push(file(`${safeFileName(evaluator)}_result.csv`, lineTable(r, lines, [evaluator])));
    files.push(
      file(
        `${safeFileName(evaluator)}_metrics.csv`,
        metricsTable(
          r,
          r.evaluations.filter((e) => e.evaluator === evaluator),
        ),
      ),
    );
  }
  const evaluatorFiles = new Set(evaluatorNames(r).map((e) => safeFileName(e).toLowerCase()));
  const experiment = safeFileName(r.experiment);
  const name = evaluatorFiles.has(experiment.toLowerCase()) ? `${experiment}_experiment` : experiment;
  files.push(file(`${name}_result.csv`, lineTable(r, r.lines, evaluatorNames(r), experimentColumns)));
  files.push(file(`${name}_metrics.csv`, metricsTable(r, r.evaluations, experimentColumns)));
  return files;
}

/** Line-level rows: line_number, inputs.*, outputs.*, `<evaluator>.<output>` scores, error, run facts, variant columns. */
function lineTable(r: Results, lines: LineResult[], evaluators: string[], extra: Row = {}): string {
  const inputKeys = unionKeys(lines.map((l) => l.inputs));
  const outputKeys = unionKeys(lines.map((l) => l.outputs ?? {}));
  const prefixes = evaluators.map((e) => `${e}.`);
  const scoreKeys = unionKeys(lines.map((l) => l.scores)).filter((k) => prefixes.some((p) => k.startsWith(p)));
  const nodes = variedNodes(r);
  const variants = variantById(r);
  const header = [
    'line_number',
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
  const rows = lines.map((line) => {
    const selection = variants.get(line.variantId)?.selection ?? {};
    return [
      line.lineNumber,
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
      ...Object.values(extra),
    ];
  });
  return toCsv(header, rows);
}

/** One row per evaluation run: metric columns, then variant columns, dataset, flow_name, exp_run. */
function metricsTable(r: Results, evaluations: EvaluationResult[], extra: Row = {}): string {
  const metricKeys = unionKeys(evaluations.map((e) => e.metrics));
  const nodes = variedNodes(r);
  const variants = variantById(r);
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
  return toCsv(header, rows);
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

function toCsv(header: string[], rows: unknown[][]): string {
  return stringify([header, ...rows.map((row) => row.map(cell))], { eof: true });
}

function file(name: string, content: string): ReportFile {
  return { name, content };
}
