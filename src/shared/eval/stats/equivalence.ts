/**
 * Equivalence by two one-sided tests (TOST, Schuirmann 1987) on paired per-line scores: candidate and baseline
 * are equivalent within ±margin when both H0: Δ ≤ −margin and H0: Δ ≥ +margin are rejected at α, which is the
 * same as the (1 − 2α) interval of the mean paired difference lying inside (−margin, +margin). The standard error
 * is the paired t's (s_d / √n, n − 1 df), or cluster-robust when lines share a cluster (G − 1 df).
 * @module
 */
import { clusterRobustStandardError, type ClusterIds } from './clustered.js';
import { studentTCdf, studentTQuantile } from './special.js';

export interface EquivalenceOptions {
  /** Level of each one-sided test; default 0.05 (so the interval shown is the 90% one). */
  alpha?: number;
  /** Lines sharing a value are one cluster (a conversation, a document). */
  clusterIds?: ClusterIds;
}

export interface EquivalenceTest {
  n: number;
  /** Mean of candidate − baseline. */
  meanDifference: number;
  standardError: number;
  df: number;
  margin: number;
  alpha: number;
  /** The (1 − 2α) interval of the mean difference. */
  ciLow: number;
  ciHigh: number;
  /** p of H0: Δ ≤ −margin, and of H0: Δ ≥ +margin; the TOST p-value is the larger. */
  pLower: number;
  pUpper: number;
  pValue: number;
  equivalent: boolean;
  /** Why, in words (for reports and gate messages). */
  reason: string;
}

/** TOST on paired scores (same lines, same order). Throws on unequal lengths or non-finite values. */
export function equivalenceTest(
  candidate: readonly number[],
  baseline: readonly number[],
  margin: number,
  options: EquivalenceOptions = {},
): EquivalenceTest {
  if (candidate.length !== baseline.length)
    throw new RangeError(
      `equivalenceTest: ${candidate.length} candidate scores for ${baseline.length} baseline scores`,
    );
  if (!(margin > 0)) throw new RangeError(`equivalenceTest: margin must be > 0, got ${margin}`);
  const alpha = options.alpha ?? 0.05;
  const d = candidate.map((c, i) => c - baseline[i]);
  if (d.some((x) => !Number.isFinite(x))) throw new RangeError('equivalenceTest: scores must be finite numbers');
  const n = d.length;
  let mean = 0;
  let se: number;
  let df: number;
  if (options.clusterIds) {
    const r = clusterRobustStandardError(d, options.clusterIds);
    mean = r.mean;
    se = r.standardError;
    df = r.clusters - 1;
  } else {
    for (const x of d) mean += x / n;
    let ss = 0;
    for (const x of d) ss += (x - mean) ** 2;
    se = n > 1 ? Math.sqrt(ss / (n - 1) / n) : NaN;
    df = n - 1;
  }
  const base = { n, meanDifference: mean, standardError: se, df, margin, alpha };
  if (!(df >= 1) || Number.isNaN(se))
    return {
      ...base,
      ciLow: NaN,
      ciHigh: NaN,
      pLower: NaN,
      pUpper: NaN,
      pValue: NaN,
      equivalent: false,
      reason: `too few ${options.clusterIds ? 'clusters' : 'lines'} (${df + 1}) to test equivalence`,
    };
  let pLower: number;
  let pUpper: number;
  let ciLow: number;
  let ciHigh: number;
  if (se === 0) {
    // Every line moved by the same amount: the difference is known exactly.
    pLower = mean > -margin ? 0 : 1;
    pUpper = mean < margin ? 0 : 1;
    ciLow = ciHigh = mean;
  } else {
    pLower = 1 - studentTCdf((mean + margin) / se, df);
    pUpper = studentTCdf((mean - margin) / se, df);
    const half = studentTQuantile(1 - alpha, df) * se;
    ciLow = mean - half;
    ciHigh = mean + half;
  }
  const pValue = Math.max(pLower, pUpper);
  const equivalent = pValue < alpha;
  const pct = `${Math.round((1 - 2 * alpha) * 100)}%`;
  const interval = `[${fmt(ciLow)}, ${fmt(ciHigh)}]`;
  const reason = equivalent
    ? `the ${pct} interval of the difference ${interval} lies within ±${fmt(margin)}`
    : `the ${pct} interval of the difference ${interval} reaches beyond ±${fmt(margin)}`;
  return { ...base, ciLow, ciHigh, pLower, pUpper, pValue, equivalent, reason };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x * 10000) / 10000) : String(x);
}
