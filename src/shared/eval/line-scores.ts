/**
 * Per-line scores: which evaluation outputs are scores, of which kind (results/line-table.ts counts them as
 * they arrive), and which aggregated metric they back (so a metric logged with log_metric gets a confidence
 * interval).
 */
import type { ScoreKind } from '../results/model.js';

export { scoreValue } from '../results/line-table.js';

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
