/**
 * Descriptive statistics shared by the intervals and tests.
 * @module
 */

/** Arithmetic mean; NaN for an empty list. */
export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return values.length === 0 ? NaN : sum / values.length;
}

/** Sample variance with the n − 1 denominator; NaN below two values. */
export function sampleVariance(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return NaN;
  const m = mean(values);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - m) ** 2;
  return ss / (n - 1);
}

/**
 * Adjusted Fisher–Pearson sample skewness G1 (the one spreadsheets and most packages print);
 * 0 for constant data, NaN below three values.
 */
export function sampleSkewness(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 3) return NaN;
  const m = mean(values);
  let m2 = 0;
  let m3 = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i] - m;
    m2 += d * d;
    m3 += d * d * d;
  }
  m2 /= n;
  m3 /= n;
  if (m2 === 0) return 0;
  return (Math.sqrt(n * (n - 1)) / (n - 2)) * (m3 / m2 ** 1.5);
}

/**
 * Quantile of already sorted values by linear interpolation between order statistics
 * (Hyndman & Fan type 7: R's default, numpy's "linear", Python's statistics "inclusive").
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Throws a RangeError naming the function unless the level is a probability strictly between 0 and 1. */
export function checkLevel(level: number, where: string): void {
  if (!(level > 0 && level < 1))
    throw new RangeError(`${where}: level must be between 0 and 1 (e.g. 0.95), got ${level}`);
}

/** Throws a RangeError naming the function unless every value is a finite number. */
export function checkFinite(values: ArrayLike<number>, where: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]))
      throw new RangeError(`${where}: value #${i + 1} is ${values[i]}; scores must be finite numbers`);
  }
}
