/**
 * Confidence intervals for the mean score of one set of independent lines.
 * Pure functions: values in, `Summary` out. Bounds are NaN when the data cannot give one
 * (no lines, or a single line for the t-interval).
 * @module
 */
import { checkFinite, checkLevel, mean, quantileSorted, sampleVariance } from './describe.js';
import { createRandom, DEFAULT_SEED, randomIndex } from './random.js';
import { normalQuantile, studentTQuantile } from './special.js';

/** How an interval was computed; printed next to it in reports. */
export type IntervalMethod = 'wilson' | 'wilson-cc' | 't' | 'bootstrap' | 'cluster-t' | 'cluster-bootstrap';

/** The mean of a set of scores and a confidence interval around it. */
export interface Summary {
  /** Number of lines (scores). */
  n: number;
  mean: number;
  /** Lower confidence bound (NaN when the data cannot give one). */
  lower: number;
  /** Upper confidence bound (NaN when the data cannot give one). */
  upper: number;
  method: IntervalMethod;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** Number of clusters (test cases), for the clustered methods only. */
  clusters?: number;
}

/** Default confidence level of every interval. */
export const DEFAULT_LEVEL = 0.95;
/** Default number of bootstrap resamples. */
export const DEFAULT_RESAMPLES = 2000;

export interface WilsonOptions {
  /** Confidence level; default 0.95. */
  level?: number;
  /** Use Newcombe's (1998) continuity-corrected form (what Foundry's agent-evals prints); default false. */
  continuityCorrection?: boolean;
}

/**
 * Wilson score interval for a proportion (Wilson 1927; continuity-corrected form from
 * Newcombe 1998, method 4). Unlike the Wald interval it stays inside [0, 1] and keeps its
 * coverage at 0/n and n/n.
 */
export function wilsonInterval(successes: number, n: number, options: WilsonOptions = {}): Summary {
  const level = options.level ?? DEFAULT_LEVEL;
  checkLevel(level, 'wilsonInterval');
  if (!(Number.isInteger(n) && n >= 0 && Number.isInteger(successes) && successes >= 0 && successes <= n)) {
    throw new RangeError(`wilsonInterval: need integers 0 <= successes <= n, got ${successes}/${n}`);
  }
  const method = options.continuityCorrection ? 'wilson-cc' : 'wilson';
  if (n === 0) return { n, mean: NaN, lower: NaN, upper: NaN, method, level };
  const p = successes / n;
  const z = normalQuantile(1 - (1 - level) / 2);
  const z2 = z * z;
  if (!options.continuityCorrection) {
    const denom = 1 + z2 / n;
    const center = (p + z2 / (2 * n)) / denom;
    const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
    return { n, mean: p, lower: Math.max(0, center - half), upper: Math.min(1, center + half), method, level };
  }
  const denom = 2 * (n + z2);
  const lower = p === 0 ? 0 : (2 * n * p + z2 - 1 - z * Math.sqrt(z2 - 2 - 1 / n + 4 * p * (n * (1 - p) + 1))) / denom;
  const upper = p === 1 ? 1 : (2 * n * p + z2 + 1 + z * Math.sqrt(z2 + 2 - 1 / n + 4 * p * (n * (1 - p) - 1))) / denom;
  return { n, mean: p, lower: Math.max(0, lower), upper: Math.min(1, upper), method, level };
}

export interface TIntervalOptions {
  /** Confidence level; default 0.95. */
  level?: number;
}

/** Student t-interval for a mean: x̄ ± t(1 − α/2, n − 1) · s / √n. Needs n ≥ 2 for bounds. */
export function tInterval(values: readonly number[], options: TIntervalOptions = {}): Summary {
  const level = options.level ?? DEFAULT_LEVEL;
  checkLevel(level, 'tInterval');
  checkFinite(values, 'tInterval');
  const n = values.length;
  const m = mean(values);
  if (n < 2) return { n, mean: m, lower: NaN, upper: NaN, method: 't', level };
  const half = studentTQuantile(1 - (1 - level) / 2, n - 1) * Math.sqrt(sampleVariance(values) / n);
  return { n, mean: m, lower: m - half, upper: m + half, method: 't', level };
}

export interface BootstrapOptions {
  /** Confidence level; default 0.95. */
  level?: number;
  /** Number of resamples; default 2,000. */
  resamples?: number;
  /** PRNG seed; the same seed and data always give the same interval. Default DEFAULT_SEED. */
  seed?: number;
}

/**
 * Percentile bootstrap interval for the mean (Efron 1979): resample the lines with replacement,
 * take the (α/2, 1 − α/2) quantiles (type 7) of the resampled means.
 */
export function bootstrapInterval(values: readonly number[], options: BootstrapOptions = {}): Summary {
  const level = options.level ?? DEFAULT_LEVEL;
  checkLevel(level, 'bootstrapInterval');
  checkFinite(values, 'bootstrapInterval');
  const n = values.length;
  const m = mean(values);
  if (n === 0) return { n, mean: m, lower: NaN, upper: NaN, method: 'bootstrap', level };
  const means = bootstrapMeans(values, options.resamples ?? DEFAULT_RESAMPLES, options.seed ?? DEFAULT_SEED);
  const [lower, upper] = percentileBounds(means, level);
  return { n, mean: m, lower, upper, method: 'bootstrap', level };
}

/** Means of `resamples` bootstrap resamples of `values` (unsorted). */
export function bootstrapMeans(values: readonly number[], resamples: number, seed: number): Float64Array {
  if (!(Number.isInteger(resamples) && resamples > 0))
    throw new RangeError(`bootstrap: resamples must be a positive integer, got ${resamples}`);
  const random = createRandom(seed);
  const n = values.length;
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[randomIndex(random, n)];
    means[b] = sum / n;
  }
  return means;
}

/** The equal-tailed percentile bounds of a bootstrap distribution (sorts `replicates` in place). */
export function percentileBounds(replicates: Float64Array, level: number): [number, number] {
  replicates.sort();
  const alpha = 1 - level;
  return [quantileSorted(replicates, alpha / 2), quantileSorted(replicates, 1 - alpha / 2)];
}
