/**
 * Paired tests for boolean and continuous scores: McNemar, the paired t-test, the paired
 * bootstrap and a cluster-robust paired t-test for repeated runs.
 * @module
 */
import { clusterRobustStandardError, groupClusters, type ClusterIds } from './clustered.js';
import { comparisonBase, differences, type Comparison } from './comparison.js';
import { mean, sampleVariance } from './describe.js';
import { DEFAULT_LEVEL, DEFAULT_RESAMPLES, percentileBounds } from './intervals.js';
import { createRandom, DEFAULT_SEED, resampledClusterMean } from './random.js';
import { chiSquareSurvival, lnGamma, normalQuantile, studentTQuantile, studentTTwoSided } from './special.js';

/** Below this many discordant pairs McNemar uses the exact binomial test. */
export const MCNEMAR_EXACT_BELOW = 25;

export interface McNemarOptions {
  /** Confidence level of the delta interval; default 0.95. */
  level?: number;
  /** Use the exact binomial test when discordant pairs < this; default 25. */
  exactBelow?: number;
}

/** Two-sided exact binomial p-value for k of n successes at p = 1/2: min(1, 2 · P(X ≤ min(k, n − k))). */
export function binomialTwoSidedHalf(k: number, n: number): number {
  const lo = Math.min(k, n - k);
  let tail = 0;
  for (let i = 0; i <= lo; i++) tail += Math.exp(lnGamma(n + 1) - lnGamma(i + 1) - lnGamma(n - i + 1) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

/**
 * McNemar's test for paired pass/fail scores (values 0/1). With b = pairs the candidate passes and
 * the reference fails, c = the reverse: exact binomial test of b among b + c when b + c < 25,
 * else chi-square (|b − c| − 1)² / (b + c) with Edwards' continuity correction, 1 df.
 * The delta interval is the Agresti–Min (2005) adjusted Wald interval (0.5 added to each cell).
 */
export function mcnemarTest(
  candidate: readonly number[],
  reference: readonly number[],
  options: McNemarOptions = {},
): Comparison {
  const level = options.level ?? DEFAULT_LEVEL;
  differences(candidate, reference, 'mcnemarTest');
  const base = comparisonBase(candidate, reference, level, 'mcnemarTest');
  let b = 0;
  let c = 0;
  for (let i = 0; i < candidate.length; i++) {
    if (candidate[i] !== 0 && candidate[i] !== 1)
      throw new RangeError(`mcnemarTest: candidate value #${i + 1} is ${candidate[i]}; need 0/1`);
    if (reference[i] !== 0 && reference[i] !== 1)
      throw new RangeError(`mcnemarTest: reference value #${i + 1} is ${reference[i]}; need 0/1`);
    if (candidate[i] > reference[i]) b++;
    else if (candidate[i] < reference[i]) c++;
  }
  const n = candidate.length;
  const discordant = b + c;
  const exact = discordant < (options.exactBelow ?? MCNEMAR_EXACT_BELOW);
  const statistic = exact ? b : discordant === 0 ? 0 : Math.max(0, Math.abs(b - c) - 1) ** 2 / discordant;
  const pValue = discordant === 0 ? 1 : exact ? binomialTwoSidedHalf(b, discordant) : chiSquareSurvival(statistic, 1);
  let ciLow: number | null = null;
  let ciHigh: number | null = null;
  if (n > 0) {
    const z = normalQuantile(1 - (1 - level) / 2);
    const [b1, c1, n1] = [b + 0.5, c + 0.5, n + 2];
    const centre = (b1 - c1) / n1;
    const se = Math.sqrt(((b1 + c1) / n1 - centre * centre) / n1);
    ciLow = Math.max(-1, centre - z * se);
    ciHigh = Math.min(1, centre + z * se);
  }
  return { ...base, test: exact ? 'mcnemar-exact' : 'mcnemar-chi2', ciLow, ciHigh, pValue, statistic };
}

export interface PairedTOptions {
  /** Confidence level of the delta interval; default 0.95. */
  level?: number;
}

/** t-test of the mean difference d̄ with the standard error of the differences, df − 1. */
function tOnDifferences(dMean: number, se: number, df: number, level: number) {
  if (!(df >= 1)) return { ciLow: null, ciHigh: null, pValue: NaN, statistic: NaN };
  if (se === 0) {
    // Every line moved by the same amount: no noise at all, so any non-zero shift is certain.
    return {
      ciLow: dMean,
      ciHigh: dMean,
      pValue: dMean === 0 ? 1 : 0,
      statistic: dMean === 0 ? 0 : Math.sign(dMean) * Infinity,
    };
  }
  const t = dMean / se;
  const half = studentTQuantile(1 - (1 - level) / 2, df) * se;
  return { ciLow: dMean - half, ciHigh: dMean + half, pValue: studentTTwoSided(t, df), statistic: t };
}

/** Paired (dependent samples) t-test: t = d̄ / (s_d / √n), n − 1 df, with the t-interval for the mean difference. */
export function pairedTTest(
  candidate: readonly number[],
  reference: readonly number[],
  options: PairedTOptions = {},
): Comparison {
  const level = options.level ?? DEFAULT_LEVEL;
  const d = differences(candidate, reference, 'pairedTTest');
  const base = comparisonBase(candidate, reference, level, 'pairedTTest');
  const se = Math.sqrt(sampleVariance(d) / d.length);
  return { ...base, test: 'paired-t', ...tOnDifferences(mean(d), se, d.length - 1, level) };
}

export interface ClusteredPairedOptions extends PairedTOptions {
  /** Apply the G / (G − 1) small-sample factor; default true. */
  smallSampleCorrection?: boolean;
}

/**
 * Paired t-test for repeated runs: the mean difference with its cluster-robust standard error
 * (clustered by test case), G − 1 df. For 0/1 scores this is a clustered McNemar-type test.
 */
export function clusteredPairedTest(
  candidate: readonly number[],
  reference: readonly number[],
  clusterIds: ClusterIds,
  options: ClusteredPairedOptions = {},
): Comparison {
  const level = options.level ?? DEFAULT_LEVEL;
  const d = differences(candidate, reference, 'clusteredPairedTest');
  const base = comparisonBase(candidate, reference, level, 'clusteredPairedTest');
  const r = clusterRobustStandardError(d, clusterIds, options);
  return {
    ...base,
    test: 'cluster-paired-t',
    clusters: r.clusters,
    ...tOnDifferences(r.mean, r.standardError, r.clusters - 1, level),
  };
}

export interface PairedBootstrapOptions {
  /** Confidence level; default 0.95. */
  level?: number;
  /** Resamples; default 2,000. */
  resamples?: number;
  /** PRNG seed; default DEFAULT_SEED. */
  seed?: number;
  /** Test-case id of each pair: when given, whole test cases are resampled (cluster bootstrap). */
  clusterIds?: ClusterIds;
}

/**
 * Paired bootstrap of the mean difference: resample pairs (or whole test cases) with replacement;
 * the interval is the percentile interval of the resampled mean differences and the two-sided
 * p-value is 2 · min(share of resampled deltas ≤ 0, share ≥ 0), capped at 1 — the smallest α whose
 * percentile interval still excludes zero.
 */
export function pairedBootstrap(
  candidate: readonly number[],
  reference: readonly number[],
  options: PairedBootstrapOptions = {},
): Comparison {
  const level = options.level ?? DEFAULT_LEVEL;
  const d = differences(candidate, reference, 'pairedBootstrap');
  const base = comparisonBase(candidate, reference, level, 'pairedBootstrap');
  if (d.length === 0)
    return { ...base, test: 'paired-bootstrap', ciLow: null, ciHigh: null, pValue: NaN, statistic: NaN };
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  if (!(Number.isInteger(resamples) && resamples > 0))
    throw new RangeError(`pairedBootstrap: resamples must be a positive integer, got ${resamples}`);
  const { sums, counts } = groupClusters(d, options.clusterIds ?? d.map((_, i) => i));
  const g = sums.length;
  const random = createRandom(options.seed ?? DEFAULT_SEED);
  const deltas = new Float64Array(resamples);
  let atOrBelow = 0;
  let atOrAbove = 0;
  for (let b = 0; b < resamples; b++) {
    const delta = resampledClusterMean(random, sums, counts);
    deltas[b] = delta;
    if (delta <= 0) atOrBelow++;
    if (delta >= 0) atOrAbove++;
  }
  const [ciLow, ciHigh] = percentileBounds(deltas, level);
  const pValue = Math.min(1, (2 * Math.min(atOrBelow, atOrAbove)) / resamples);
  return {
    ...base,
    test: 'paired-bootstrap',
    ciLow,
    ciHigh,
    pValue,
    statistic: mean(d),
    clusters: options.clusterIds ? g : undefined,
  };
}
