/**
 * Tests for two independent samples (production A/B: the requests one version served against the other's, no
 * line is paired): Welch's t for means, Mann–Whitney U with the Hodges–Lehmann shift and its Moses interval for
 * skewed figures such as latency, and the two-proportion test with Newcombe's hybrid score interval for rates.
 * Every result is `a − b` (candidate minus reference) with a two-sided p-value and an interval at `level`.
 * @module
 */
import { mean, sampleVariance, checkLevel } from './describe.js';
import { DEFAULT_LEVEL, wilsonInterval } from './intervals.js';
import { normalQuantile, normalSurvival, studentTQuantile, studentTTwoSided } from './special.js';
import { midRanks } from './wilcoxon.js';

export type UnpairedTestName = 'welch-t' | 'mann-whitney' | 'two-proportion';

export interface UnpairedResult {
  test: UnpairedTestName;
  nA: number;
  nB: number;
  /** The estimate of a − b: mean difference, Hodges–Lehmann shift, or difference of proportions. */
  estimate: number;
  /** The test statistic: t, U of `a`, or z. */
  statistic: number;
  pValue: number;
  lower: number;
  upper: number;
  level: number;
}

export interface UnpairedOptions {
  /** Interval level; default 0.95. */
  level?: number;
}

function checkSamples(a: readonly number[], b: readonly number[], min: number, where: string): void {
  if (a.length < min || b.length < min)
    throw new RangeError(`${where}: need at least ${min} values in each sample, got ${a.length} and ${b.length}`);
  for (const v of [...a, ...b]) if (!Number.isFinite(v)) throw new RangeError(`${where}: non-finite value ${v}`);
}

/** Welch's t-test (unequal variances) with the Welch–Satterthwaite degrees of freedom. */
export function welchTTest(a: readonly number[], b: readonly number[], options: UnpairedOptions = {}): UnpairedResult {
  const level = options.level ?? DEFAULT_LEVEL;
  checkLevel(level, 'welchTTest');
  checkSamples(a, b, 2, 'welchTTest');
  const va = sampleVariance(a) / a.length;
  const vb = sampleVariance(b) / b.length;
  const estimate = mean(a) - mean(b);
  const se = Math.sqrt(va + vb);
  const base = { test: 'welch-t' as const, nA: a.length, nB: b.length, estimate, level };
  // Both samples constant: the difference is known exactly.
  if (se === 0) return { ...base, statistic: 0, pValue: estimate === 0 ? 1 : 0, lower: estimate, upper: estimate };
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  const t = estimate / se;
  const half = studentTQuantile(1 - (1 - level) / 2, df) * se;
  return { ...base, statistic: t, pValue: studentTTwoSided(t, df), lower: estimate - half, upper: estimate + half };
}

/** Above this many pairwise differences the Hodges–Lehmann shift is taken on quantile-thinned samples. */
export const HODGES_LEHMANN_MAX_PAIRS = 2_000_000;

/** Samples without ties and at most this size each get the exact U distribution; others the normal one. */
export const MANN_WHITNEY_EXACT_MAX_N = 50;

/**
 * Mann–Whitney U test of `a` against `b` (two-sided). U counts pairs with a > b (ties count one half). The
 * p-value is exact for small samples without ties, else the normal approximation with the tie correction and a
 * continuity correction (as R's wilcox.test and SciPy's mannwhitneyu do). The estimate is the Hodges–Lehmann
 * shift (median of all a_i − b_j) with the distribution-free Moses interval from the order statistics of those
 * differences.
 */
export function mannWhitneyU(
  a: readonly number[],
  b: readonly number[],
  options: UnpairedOptions = {},
): UnpairedResult {
  const level = options.level ?? DEFAULT_LEVEL;
  checkLevel(level, 'mannWhitneyU');
  checkSamples(a, b, 1, 'mannWhitneyU');
  const n1 = a.length;
  const n2 = b.length;
  const ranks = midRanks([...a, ...b]);
  let rankSumA = 0;
  for (let i = 0; i < n1; i++) rankSumA += ranks[i];
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const ties = tieTerm(ranks);
  const exact = ties === 0 && n1 <= MANN_WHITNEY_EXACT_MAX_N && n2 <= MANN_WHITNEY_EXACT_MAX_N;
  const pValue = exact ? exactUPValue(u, n1, n2) : normalUPValue(u, n1, n2, ties);
  const { estimate, lower, upper } = hodgesLehmann(a, b, level);
  return { test: 'mann-whitney', nA: n1, nB: n2, estimate, statistic: u, pValue, lower, upper, level };
}

/** Σ (t³ − t) over groups of tied values (0 without ties). */
function tieTerm(ranks: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const r of ranks) counts.set(r, (counts.get(r) ?? 0) + 1);
  let sum = 0;
  for (const t of counts.values()) sum += t ** 3 - t;
  return sum;
}

function normalUPValue(u: number, n1: number, n2: number, ties: number): number {
  const n = n1 + n2;
  const centre = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (variance <= 0) return 1;
  const z = Math.max(0, Math.abs(u - centre) - 0.5) / Math.sqrt(variance);
  return Math.min(1, 2 * normalSurvival(z));
}

/** Exact two-sided p-value: counts of U over every way of choosing which n1 of the n1 + n2 ranks are a's. */
function exactUPValue(u: number, n1: number, n2: number): number {
  // counts[i][k]: arrangements of i a's among the first positions with U = k, built one b at a time.
  const max = n1 * n2;
  let row: Float64Array[] = Array.from({ length: n1 + 1 }, (_, i) => {
    const f = new Float64Array(max + 1);
    if (i === 0) f[0] = 1;
    return f;
  });
  // Recurrence f(i, j, k) = f(i − 1, j, k − j) + f(i, j − 1, k): the largest value is an a (beating j b's) or a b.
  for (let j = 0; j <= n2; j++) {
    const next = Array.from({ length: n1 + 1 }, () => new Float64Array(max + 1));
    for (let i = 0; i <= n1; i++)
      for (let k = 0; k <= max; k++) {
        let c = j > 0 ? row[i][k] : i === 0 && k === 0 ? 1 : 0;
        if (i > 0 && k - j >= 0) c += next[i - 1][k - j];
        next[i][k] = c;
      }
    row = next;
  }
  const dist = row[n1];
  let total = 0;
  let lowerTail = 0;
  let upperTail = 0;
  for (let k = 0; k <= max; k++) {
    total += dist[k];
    if (k <= u) lowerTail += dist[k];
    if (k >= u) upperTail += dist[k];
  }
  return Math.min(1, (2 * Math.min(lowerTail, upperTail)) / total);
}

/** Evenly spaced order statistics: a sample thinned to `size` values keeping its shape. */
function thin(sorted: readonly number[], size: number): number[] {
  if (sorted.length <= size) return [...sorted];
  return Array.from({ length: size }, (_, i) => sorted[Math.round(((i + 0.5) * sorted.length) / size - 0.5)]);
}

function hodgesLehmann(a: readonly number[], b: readonly number[], level: number) {
  let xs = [...a].sort((p, q) => p - q);
  let ys = [...b].sort((p, q) => p - q);
  if (xs.length * ys.length > HODGES_LEHMANN_MAX_PAIRS) {
    // Large live samples: the shift and its interval are taken on thinned samples; their ranks keep the shape,
    // and the interval's width is then rescaled below to the full sizes.
    const side = Math.floor(Math.sqrt(HODGES_LEHMANN_MAX_PAIRS));
    xs = thin(xs, Math.min(xs.length, side));
    ys = thin(ys, Math.min(ys.length, side));
  }
  const m = xs.length;
  const n = ys.length;
  const diffs = new Float64Array(m * n);
  for (let i = 0, k = 0; i < m; i++) for (let j = 0; j < n; j++) diffs[k++] = xs[i] - ys[j];
  diffs.sort();
  const count = diffs.length;
  const estimate = count % 2 ? diffs[(count - 1) / 2] : (diffs[count / 2 - 1] + diffs[count / 2]) / 2;
  // Moses: the interval runs from the C-th smallest to the C-th largest difference, C the lower critical U.
  const z = normalQuantile(1 - (1 - level) / 2);
  const c = Math.floor((m * n) / 2 - z * Math.sqrt((m * n * (m + n + 1)) / 12));
  let lower = diffs[Math.max(0, c - 1)];
  let upper = diffs[Math.min(count - 1, count - Math.max(1, c))];
  if (m !== a.length || n !== b.length) {
    // The width goes as sqrt(1/m + 1/n).
    const scale = Math.sqrt((1 / m + 1 / n) / (1 / a.length + 1 / b.length));
    lower = estimate - (estimate - lower) / scale;
    upper = estimate + (upper - estimate) / scale;
  }
  return { estimate, lower, upper };
}

/**
 * Two-proportion test of xA/nA against xB/nB: the pooled z-test's p-value and Newcombe's hybrid score interval
 * (Newcombe 1998, method 10) for pA − pB, built from each proportion's Wilson interval.
 */
export function twoProportionTest(
  xA: number,
  nA: number,
  xB: number,
  nB: number,
  options: UnpairedOptions = {},
): UnpairedResult {
  const level = options.level ?? DEFAULT_LEVEL;
  checkLevel(level, 'twoProportionTest');
  if (!(nA > 0 && nB > 0))
    throw new RangeError(`twoProportionTest: need at least one trial in each sample, got ${nA} and ${nB}`);
  const wa = wilsonInterval(xA, nA, { level });
  const wb = wilsonInterval(xB, nB, { level });
  const pa = xA / nA;
  const pb = xB / nB;
  const estimate = pa - pb;
  const lower = estimate - Math.sqrt((pa - wa.lower) ** 2 + (wb.upper - pb) ** 2);
  const upper = estimate + Math.sqrt((wa.upper - pa) ** 2 + (pb - wb.lower) ** 2);
  const pooled = (xA + xB) / (nA + nB);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / nA + 1 / nB));
  const z = se === 0 ? 0 : estimate / se;
  return {
    test: 'two-proportion',
    nA,
    nB,
    estimate,
    statistic: z,
    pValue: se === 0 ? 1 : Math.min(1, 2 * normalSurvival(Math.abs(z))),
    lower,
    upper,
    level,
  };
}
