/**
 * Intervals for the mean when lines are not independent: several lines share a test case
 * (repeated runs of the same input), so their scores move together. Treating them as independent
 * makes intervals too narrow; these methods treat the test case (the cluster) as the unit.
 * @module
 */
import { checkFinite, checkLevel } from './describe.js';
import {
  DEFAULT_LEVEL,
  DEFAULT_RESAMPLES,
  percentileBounds,
  type BootstrapOptions,
  type Summary,
} from './intervals.js';
import { createRandom, DEFAULT_SEED, resampledClusterMean } from './random.js';
import { studentTQuantile } from './special.js';

/** Identifies the cluster (test case) a line belongs to. */
export type ClusterId = string | number;

/**
 * The cluster of each line, `ids[i]` for line i: a plain array, or a typed array of cluster indexes (what the
 * report holds: 4 bytes a line, not a string a line).
 */
export type ClusterIds = ArrayLike<ClusterId>;

/** Lines grouped by cluster, in order of first appearance. */
export interface Clusters {
  ids: ClusterId[];
  sums: Float64Array;
  counts: Float64Array;
}

/** Groups the values by their cluster id (`clusterIds[i]` belongs to `values[i]`). */
export function groupClusters(values: readonly number[], clusterIds: ClusterIds): Clusters {
  if (values.length !== clusterIds.length) {
    throw new RangeError(
      `clusters: ${values.length} values but ${clusterIds.length} cluster ids; give one id per value`,
    );
  }
  if (clusterIds instanceof Int32Array) return groupDense(values, clusterIds);
  const index = new Map<ClusterId, number>();
  const sums: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < values.length; i++) {
    let g = index.get(clusterIds[i]);
    if (g === undefined) {
      g = sums.length;
      index.set(clusterIds[i], g);
      sums.push(0);
      counts.push(0);
    }
    sums[g] += values[i];
    counts[g] += 1;
  }
  return { ids: [...index.keys()], sums: Float64Array.from(sums), counts: Float64Array.from(counts) };
}

/**
 * groupClusters for cluster indexes (0 or more, as the report assigns them): a slot per index instead of a Map
 * entry per cluster, so a million lines cost 4 bytes a cluster here, not a hash-table entry.
 */
function groupDense(values: readonly number[], clusterIds: Int32Array): Clusters {
  let max = -1;
  for (let i = 0; i < clusterIds.length; i++) {
    if (clusterIds[i] < 0) throw new RangeError(`clusters: cluster index ${clusterIds[i]} is negative`);
    if (clusterIds[i] > max) max = clusterIds[i];
  }
  const slot = new Int32Array(max + 1).fill(-1);
  const ids: number[] = [];
  for (let i = 0; i < clusterIds.length; i++)
    if (slot[clusterIds[i]] < 0) {
      slot[clusterIds[i]] = ids.length;
      ids.push(clusterIds[i]);
    }
  const sums = new Float64Array(ids.length);
  const counts = new Float64Array(ids.length);
  for (let i = 0; i < values.length; i++) {
    const g = slot[clusterIds[i]];
    sums[g] += values[i];
    counts[g] += 1;
  }
  return { ids, sums, counts };
}

/** True when at least one cluster holds more than one line (so clustering changes anything). */
export function hasRepeats(clusterIds: ClusterIds): boolean {
  if (clusterIds instanceof Int32Array) {
    let max = -1;
    for (let i = 0; i < clusterIds.length; i++) if (clusterIds[i] > max) max = clusterIds[i];
    const seenIndex = new Uint8Array(max + 1);
    for (let i = 0; i < clusterIds.length; i++) {
      if (seenIndex[clusterIds[i]]) return true;
      seenIndex[clusterIds[i]] = 1;
    }
    return false;
  }
  const seen = new Set<ClusterId>();
  for (let i = 0; i < clusterIds.length; i++) {
    if (seen.has(clusterIds[i])) return true;
    seen.add(clusterIds[i]);
  }
  return false;
}

export interface ClusterRobustOptions {
  /** Confidence level; default 0.95. */
  level?: number;
  /** Multiply the variance by G / (G − 1) (the usual CR1 small-sample factor for a mean); default true. */
  smallSampleCorrection?: boolean;
}

/** The mean, its cluster-robust standard error, and the number of clusters. */
export interface ClusterRobustMean {
  n: number;
  mean: number;
  standardError: number;
  clusters: number;
}

/**
 * Cluster-robust ("sandwich") standard error of a mean (Liang & Zeger 1986):
 * SE² = c · Σ_g (Σ_{i∈g} (y_i − ȳ))² / N², with c = G / (G − 1) when corrected.
 * Without the factor it is the clustered SE of Miller (2024), "Adding error bars to evals" (arXiv 2411.00640).
 */
export function clusterRobustStandardError(
  values: readonly number[],
  clusterIds: ClusterIds,
  options: ClusterRobustOptions = {},
): ClusterRobustMean {
  checkFinite(values, 'clusterRobustStandardError');
  const { sums, counts } = groupClusters(values, clusterIds);
  const n = values.length;
  const g = sums.length;
  let total = 0;
  for (const s of sums) total += s;
  const m = n === 0 ? NaN : total / n;
  if (g < 2) return { n, mean: m, standardError: NaN, clusters: g };
  let ss = 0;
  // Σ_{i∈g} (y_i − ȳ) = sum_g − count_g · ȳ: no second pass over the lines.
  for (let k = 0; k < g; k++) ss += (sums[k] - counts[k] * m) ** 2;
  const factor = (options.smallSampleCorrection ?? true) ? g / (g - 1) : 1;
  return { n, mean: m, standardError: Math.sqrt((factor * ss) / (n * n)), clusters: g };
}

/** Cluster-robust t-interval: ȳ ± t(1 − α/2, G − 1) · SE_cluster. Needs at least two clusters. */
export function clusterRobustInterval(
  values: readonly number[],
  clusterIds: ClusterIds,
  options: ClusterRobustOptions = {},
): Summary {
  const level = options.level ?? DEFAULT_LEVEL;
  checkLevel(level, 'clusterRobustInterval');
  const r = clusterRobustStandardError(values, clusterIds, options);
  const base = { n: r.n, mean: r.mean, method: 'cluster-t' as const, level, clusters: r.clusters };
  if (r.clusters < 2) return { ...base, lower: NaN, upper: NaN };
  const half = studentTQuantile(1 - (1 - level) / 2, r.clusters - 1) * r.standardError;
  return { ...base, lower: r.mean - half, upper: r.mean + half };
}

/**
 * Cluster bootstrap (Field & Welsh 2007): resample whole clusters with replacement and take the
 * percentile interval of the pooled mean Σ sums / Σ counts of the drawn clusters.
 */
export function clusterBootstrapInterval(
  values: readonly number[],
  clusterIds: ClusterIds,
  options: BootstrapOptions = {},
): Summary {
  const level = options.level ?? DEFAULT_LEVEL;
  checkLevel(level, 'clusterBootstrapInterval');
  checkFinite(values, 'clusterBootstrapInterval');
  const { sums, counts } = groupClusters(values, clusterIds);
  const g = sums.length;
  let total = 0;
  for (const s of sums) total += s;
  const base = {
    n: values.length,
    mean: values.length ? total / values.length : NaN,
    method: 'cluster-bootstrap' as const,
    level,
    clusters: g,
  };
  if (g === 0) return { ...base, lower: NaN, upper: NaN };
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  if (!(Number.isInteger(resamples) && resamples > 0))
    throw new RangeError(`clusterBootstrapInterval: resamples must be a positive integer, got ${resamples}`);
  const random = createRandom(options.seed ?? DEFAULT_SEED);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) means[b] = resampledClusterMean(random, sums, counts);
  const [lower, upper] = percentileBounds(means, level);
  return { ...base, lower, upper };
}
