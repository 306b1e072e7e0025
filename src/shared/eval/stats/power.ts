/**
 * Power and sample size: the smallest difference a comparison of this size can detect (the minimum detectable
 * effect), how many lines (and clusters) a dataset needs to detect a given difference, and the rule-of-three
 * bound on a failure rate when no line failed. Two-sided tests at level α, normal approximation (the same
 * approximation the usual tables and G*Power's "z" mode use); the t refinement only matters below ~20 lines.
 * @module
 */
import type { Comparison } from './comparison.js';
import { normalQuantile, studentTQuantile } from './special.js';

/** Power the minimum detectable effect is computed at unless told otherwise. */
export const DEFAULT_POWER = 0.8;

export interface PowerOptions {
  /** Two-sided significance level; default 0.05. */
  alpha?: number;
  /** Probability of detecting the effect; default 0.8. */
  power?: number;
  /** Degrees of freedom of the test: when given, t quantiles replace the normal ones. */
  df?: number;
}

function check(alpha: number, power: number, where: string): void {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`${where}: alpha must be in (0, 1), got ${alpha}`);
  if (!(power > 0 && power < 1)) throw new RangeError(`${where}: power must be in (0, 1), got ${power}`);
}

/** z(1 − α/2) + z(power), or the t version when df is given: the MDE in standard errors. */
export function powerMultiplier(options: PowerOptions = {}): number {
  const alpha = options.alpha ?? 0.05;
  const power = options.power ?? DEFAULT_POWER;
  check(alpha, power, 'powerMultiplier');
  if (options.df !== undefined && options.df >= 1)
    return studentTQuantile(1 - alpha / 2, options.df) + studentTQuantile(power, options.df);
  return normalQuantile(1 - alpha / 2) + normalQuantile(power);
}

/**
 * Minimum detectable effect of a comparison whose estimate has standard error `se`: the true difference that a
 * two-sided test at α detects with the given power, (z(1 − α/2) + z(power)) · se.
 */
export function minimumDetectableEffect(se: number, options: PowerOptions = {}): number {
  if (!(se >= 0)) return NaN;
  return powerMultiplier(options) * se;
}

/**
 * The standard error behind a symmetric interval [low, high] at `level` built with `df` degrees of freedom
 * (normal when df is undefined): half its width over the quantile that built it.
 */
export function standardErrorFromInterval(low: number, high: number, level: number, df?: number): number {
  if (!(Number.isFinite(low) && Number.isFinite(high))) return NaN;
  const q =
    df !== undefined && df >= 1 ? studentTQuantile(1 - (1 - level) / 2, df) : normalQuantile(1 - (1 - level) / 2);
  return (high - low) / (2 * q);
}

export interface SampleSizeInput extends PowerOptions {
  /** The difference to detect (absolute; its sign does not matter). */
  difference: number;
  /** Standard deviation of one line's score (or, for a paired comparison, of one line's difference). */
  sd: number;
  /** Lines per cluster (e.g. turns per conversation, or `repeat: K`); default 1 (independent lines). */
  clusterSize?: number;
  /** Intra-cluster correlation of the scores, 0..1; default 0. */
  icc?: number;
}

export interface SampleSize {
  /** Lines needed. */
  lines: number;
  /** Clusters needed (= lines when lines are independent). */
  clusters: number;
  /** Design effect 1 + (m − 1)·ICC the clustering costs. */
  designEffect: number;
}

/**
 * Lines needed to detect `difference` with a two-sided test: n = ((z(1 − α/2) + z(power)) · sd / δ)², times the
 * design effect 1 + (m − 1)·ICC when lines come in clusters of m (Kish 1965), rounded up to whole clusters.
 */
export function sampleSizeFor(input: SampleSizeInput): SampleSize {
  const delta = Math.abs(input.difference);
  if (!(delta > 0)) throw new RangeError(`sampleSizeFor: the difference must be non-zero, got ${input.difference}`);
  if (!(input.sd >= 0)) throw new RangeError(`sampleSizeFor: sd must be >= 0, got ${input.sd}`);
  const m = input.clusterSize ?? 1;
  if (!(Number.isInteger(m) && m >= 1))
    throw new RangeError(`sampleSizeFor: cluster size must be an integer >= 1, got ${m}`);
  const icc = input.icc ?? 0;
  if (!(icc >= 0 && icc <= 1)) throw new RangeError(`sampleSizeFor: icc must be in [0, 1], got ${icc}`);
  const designEffect = 1 + (m - 1) * icc;
  const independent = ((powerMultiplier({ alpha: input.alpha, power: input.power }) * input.sd) / delta) ** 2;
  const clusters = Math.max(2, Math.ceil((independent * designEffect) / m - 1e-9));
  return { lines: clusters * m, clusters, designEffect };
}

/** Standard deviation of a pass/fail score with pass rate p. */
export function bernoulliSd(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`bernoulliSd: the rate must be in [0, 1], got ${p}`);
  return Math.sqrt(p * (1 - p));
}

/**
 * Standard deviation of the per-line difference of two paired pass/fail scores with rates p1 and p2 and
 * correlation ρ between them (0 when unknown, which is conservative for positively correlated variants):
 * Var(d) = p1(1 − p1) + p2(1 − p2) − 2ρ·√(p1(1 − p1)·p2(1 − p2)).
 */
export function pairedBernoulliSd(p1: number, p2: number, correlation = 0): number {
  const [s1, s2] = [bernoulliSd(p1), bernoulliSd(p2)];
  return Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - 2 * correlation * s1 * s2));
}

/** Upper bounds on a failure rate when all n lines passed. */
export interface ZeroFailureBound {
  n: number;
  level: number;
  /** The rule of three, −ln(1 − level)/n (3/n at 95%): what the report prints. */
  ruleOfThree: number;
  /** The exact one-sided Clopper–Pearson bound 1 − (1 − level)^(1/n), slightly smaller. */
  exact: number;
}

/** The rule-of-three upper bound on the failure rate when none of n lines failed (Hanley & Lippman-Hand 1983). */
export function zeroFailureBound(n: number, level = 0.95): ZeroFailureBound {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`zeroFailureBound: need n >= 1 lines, got ${n}`);
  const alpha = 1 - level;
  return { n, level, ruleOfThree: Math.min(1, -Math.log(alpha) / n), exact: 1 - Math.pow(alpha, 1 / n) };
}

/**
 * The minimum detectable effect of a paired comparison, from the standard error behind its interval (t quantiles
 * with the test's degrees of freedom for the t tests, normal otherwise), at α = 1 − its level. Undefined when
 * the comparison has no interval, or a degenerate one (every line moved by the same amount).
 */
export function comparisonMde(
  c: Pick<Comparison, 'ciLow' | 'ciHigh' | 'level' | 'test' | 'n' | 'clusters'>,
  power = DEFAULT_POWER,
): number | undefined {
  if (c.ciLow === null || c.ciHigh === null || !(c.ciHigh > c.ciLow)) return undefined;
  const df = c.test === 'paired-t' ? c.n - 1 : c.test === 'cluster-paired-t' && c.clusters ? c.clusters - 1 : undefined;
  const se = standardErrorFromInterval(c.ciLow, c.ciHigh, c.level, df);
  const mde = minimumDetectableEffect(se, { alpha: 1 - c.level, power, df });
  return Number.isFinite(mde) ? mde : undefined;
}
