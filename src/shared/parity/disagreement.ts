/**
 * The one-sided upper bound of parity's disagreement rate. Lines are independent unless the dataset names a
 * `cluster_by` column whose values repeat (several lines per document or conversation); then the lines of a
 * cluster tend to disagree together and the bound is the cluster-robust one (eval/stats/summarize.ts), never
 * narrower than the independent-lines Wilson bound: with few disagreements a t-interval on 0/1 scores is too
 * short, and with none its standard error is 0, so the bound is then the zero-count Wilson bound at the number
 * of clusters, the sample size that clustering leaves.
 * @module
 */
import { hasRepeats } from '../eval/stats/clustered.js';
import { wilsonInterval } from '../eval/stats/intervals.js';
import { summarize } from '../eval/stats/summarize.js';

export interface DisagreementBound {
  /** The one-sided (1 − α) upper bound of the disagreement rate (NaN without lines). */
  upper: number;
  /** Clusters the bound was computed over (absent: lines taken as independent). */
  clusters?: number;
}

/** `disagrees[i]`: line i disagrees; `clusterIds[i]`: its cluster, when the dataset names one. */
export function disagreementUpperBound(
  disagrees: readonly boolean[],
  alpha: number,
  clusterIds?: readonly string[],
): DisagreementBound {
  const n = disagrees.length;
  if (n === 0) return { upper: NaN };
  const count = disagrees.filter(Boolean).length;
  // One-sided (1 − α): the upper end of the two-sided (1 − 2α) interval.
  const level = 1 - 2 * alpha;
  const independent = wilsonInterval(count, n, { level }).upper;
  if (!clusterIds || !hasRepeats(clusterIds)) return { upper: independent };
  const clusters = new Set(clusterIds).size;
  if (count === 0) return { upper: wilsonInterval(0, clusters, { level }).upper, clusters };
  const robust = summarize(disagrees, 'boolean', { level, clusterIds }).upper;
  return { upper: Math.max(independent, Number.isNaN(robust) ? 1 : robust), clusters };
}
