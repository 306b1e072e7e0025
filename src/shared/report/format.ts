/**
 * Number, date and name formatting shared by the human-readable renderers (HTML, Markdown),
 * so the same value reads the same everywhere.
 * @module
 */
import type { IntervalSummary, Results, ResultsSummary, VariantInfo, Verdict } from '../results/model.js';

/** A metric value: integers as they are, others with 2 decimals (2 significant digits below 0.1). */
export function formatNumber(value: number | undefined | null): string {
  if (value === undefined || value === null || Number.isNaN(value)) return '–';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  if (abs >= 1000) return value.toLocaleString('en-US', { maximumFractionDigits: 0 });
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 0.1 || abs === 0) return value.toFixed(2);
  if (abs < 1e-4) return value.toExponential(1);
  // Two significant digits without trailing zeros: 0.05, 0.021.
  return String(Number(value.toPrecision(2)));
}

/** `0.82 [0.71, 0.90]`, or the bare value when there is no interval. */
export function formatWithInterval(value: number, interval?: IntervalSummary): string {
  if (!interval) return formatNumber(value);
  return `${formatNumber(value)} [${formatNumber(interval.lower)}, ${formatNumber(interval.upper)}]`;
}

/** A signed change, `+0.05` / `−0.10`. */
export function formatDelta(value: number): string {
  const text = formatNumber(Math.abs(value));
  return value > 0 ? `+${text}` : value < 0 ? `−${text}` : text;
}

export function formatPValue(p: number): string {
  if (Number.isNaN(p)) return '–';
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

export function formatCost(usd: number | undefined): string {
  if (usd === undefined) return '–';
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.round(ms)} ms`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `2025-02-10 14:03 UTC` from an ISO timestamp; the text itself when it does not parse. */
export function formatDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export const verdictWords: Record<Verdict, string> = {
  Improved: '🟢 Improved',
  Degraded: '🔴 Degraded',
  Inconclusive: '⚪ Inconclusive',
};

/** Nodes that vary across the experiment's variants, in first-seen order: the variant columns of the CSVs. */
export function variedNodes(results: Pick<Results, 'variants'>): string[] {
  const nodes = new Set<string>();
  for (const variant of results.variants) for (const node of Object.keys(variant.selection)) nodes.add(node);
  return [...nodes];
}

export function variantById(results: Pick<Results, 'variants'>): Map<string, VariantInfo> {
  return new Map(results.variants.map((v) => [v.id, v]));
}

/** A name made safe for a file name on every OS (evaluator and experiment names become file names). */
export function safeFileName(name: string): string {
  const cleaned = name
    // eslint-disable-next-line no-control-regex -- control characters are exactly what a file name must not hold
    .replace(/[<>:"/\\|?*\u0000-\u001f]/g, '_')
    .replace(/^\.+/, '_')
    .trim();
  return cleaned.length > 0 ? cleaned.slice(0, 120) : '_';
}

/** Evaluators in first-seen order across evaluations, metrics and gates. */
export function evaluatorNames(results: Pick<ResultsSummary, 'evaluations' | 'metrics'>): string[] {
  const names = new Set<string>();
  for (const e of results.evaluations) names.add(e.evaluator);
  for (const m of results.metrics) names.add(m.evaluator);
  return [...names];
}

/** Whether a run of the report repeats its data lines (`repeat: K`): its per-line tables then say which is which. */
export function hasRepeats(r: { runs: Array<{ repeat?: number }> }): boolean {
  return r.runs.some((run) => run.repeat !== undefined);
}

/** A repeated line's data line and repetition as a reader sees them, e.g. `data line 2, repetition 1` (0-based). */
export function repetitionText(l: { sourceLine?: number; repetition?: number }): string | undefined {
  return l.sourceLine === undefined ? undefined : `data line ${l.sourceLine}, repetition ${l.repetition ?? 0}`;
}

/** A run's lines; an early-stopped run says how many of them ran (the rest were not run, not failed). */
export function formatRunLines(run: { lines: number; stoppedAfter?: number }): string {
  return run.stoppedAfter === undefined
    ? formatCount(run.lines)
    : `${formatCount(run.stoppedAfter)} of ${formatCount(run.lines)} (stopped early)`;
}
