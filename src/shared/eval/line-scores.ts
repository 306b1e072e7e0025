/**
 * Per-line scores: which evaluation outputs are scores, of which kind, and which aggregated
 * metric they back (so a metric logged with log_metric gets a confidence interval).
 */
import type { LineResult, ScoreKind } from '../results/model.js';

const passWords = new Set(['correct', 'pass', 'passed', 'true', 'yes']);
const failWords = new Set(['incorrect', 'fail', 'failed', 'false', 'no']);

/** A line's score as a number (booleans and pass/fail words as 1/0), or undefined when it is not a score. */
export function scoreValue(value: unknown): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') {
    const w = value.trim().toLowerCase();
    if (passWords.has(w)) return 1;
    if (failWords.has(w)) return 0;
    if (w !== '' && Number.isFinite(Number(w))) return Number(w);
  }
  return undefined;
}

/**
 * The kind of a score column: all 0/1 → boolean; all whole numbers within 1..5 → likert;
 * other numbers → continuous. undefined when fewer than half the values are scores.
 */
export function scoreKind(values: unknown[]): ScoreKind | undefined {
  const numbers = values.map(scoreValue).filter((v): v is number => v !== undefined);
  if (numbers.length === 0 || numbers.length * 2 < values.length) return undefined;
  if (numbers.every((v) => v === 0 || v === 1)) return 'boolean';
  if (numbers.every((v) => Number.isInteger(v) && v >= 1 && v <= 5)) return 'likert';
  return 'continuous';
}

/** Score columns of an evaluator across lines: `<evaluator>.<output>` → kind. */
export function scoreColumns(lines: LineResult[], evaluator: string): Map<string, ScoreKind> {
  const prefix = `${evaluator}.`;
  const keys = new Set<string>();
  for (const l of lines) for (const k of Object.keys(l.scores)) if (k.startsWith(prefix)) keys.add(k);
  const out = new Map<string, ScoreKind>();
  for (const key of keys) {
    const kind = scoreKind(lines.filter((l) => key in l.scores).map((l) => l.scores[key]));
    if (kind) out.set(key, kind);
  }
  return out;
}

/**
 * Which score column backs an aggregated metric: the column named like the metric, else the
 * only column whose mean reproduces the metric (to the 2 decimals evaluation flows round to).
 */
export function backingColumn(
  metric: string,
  value: number,
  evaluator: string,
  columns: Map<string, ScoreKind>,
  meanOf: (key: string) => number | undefined,
): string | undefined {
  const named = `${evaluator}.${metric}`;
  if (columns.has(named)) return named;
  const matching = [...columns.keys()].filter((k) => {
    const mean = meanOf(k);
    return mean !== undefined && Math.abs(mean - value) <= 0.005 + 1e-9;
  });
  return matching.length === 1 ? matching[0] : undefined;
}
