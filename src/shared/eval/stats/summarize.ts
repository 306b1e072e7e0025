/**
 * One entry point for "mean and confidence interval of this metric", choosing the method from
 * the kind of score. The rule is fixed and documented so a report can say why it printed what it did.
 * @module
 */
import { clusterBootstrapInterval, clusterRobustInterval, hasRepeats, type ClusterIds } from './clustered.js';
import { checkFinite, sampleSkewness } from './describe.js';
import { bootstrapInterval, tInterval, wilsonInterval, type Summary } from './intervals.js';

/**
 * What a metric's scores are: `boolean` pass/fail (0/1), `continuous` (any real, e.g. similarity
 * or latency) or `likert` (ordinal, e.g. a 1–5 rating from an LLM judge).
 */
export type ScoreKind = 'boolean' | 'continuous' | 'likert';

/** The score kinds, for validating user input. */
export const SCORE_KINDS: readonly ScoreKind[] = ['boolean', 'continuous', 'likert'];

/** Below this many lines a skewed continuous metric gets a bootstrap interval instead of a t-interval. */
export const T_INTERVAL_MIN_N = 30;
/** |sample skewness| above which a small continuous sample is called skewed. */
export const SKEWNESS_LIMIT = 1;

export interface SummarizeOptions {
  /** Confidence level; default 0.95. */
  level?: number;
  /** Bootstrap resamples; default 2,000. */
  resamples?: number;
  /** Bootstrap seed; default DEFAULT_SEED. */
  seed?: number;
  /** Test-case id of each score. When some id repeats, the clustered methods are used. */
  clusterIds?: ClusterIds;
  /** Boolean scores only: use the continuity-corrected Wilson interval; default false. */
  continuityCorrection?: boolean;
}

/**
 * Mean and confidence interval of a metric's scores. The method, by kind:
 *
 * - `boolean` → Wilson score interval.
 * - `continuous` → Student t-interval when n ≥ 30 (the central limit theorem makes it adequate)
 *   or when the sample is roughly symmetric (|adjusted skewness G1| ≤ 1); otherwise (n < 30 and
 *   skewed) the percentile bootstrap, whose interval follows the skew.
 * - `likert` → percentile bootstrap (ordinal scores: no normal assumption).
 *
 * When `clusterIds` has repeats (several lines per test case), `boolean` and `continuous` use the
 * cluster-robust t-interval (boolean bounds clamped to [0, 1]) and `likert` the cluster bootstrap.
 *
 * @throws RangeError when a score is not finite, or a boolean score is not 0/1/true/false.
 */
export function summarize(
  scores: readonly (number | boolean)[],
  kind: ScoreKind,
  options: SummarizeOptions = {},
): Summary {
  const values = toNumbers(scores, kind);
  const { level, resamples, seed, clusterIds } = options;
  if (clusterIds && hasRepeats(clusterIds)) {
    if (kind === 'likert') return clusterBootstrapInterval(values, clusterIds, { level, resamples, seed });
    const s = clusterRobustInterval(values, clusterIds, { level });
    return kind === 'boolean' ? { ...s, lower: Math.max(0, s.lower), upper: Math.min(1, s.upper) } : s;
  }
  if (kind === 'boolean') {
    const successes = values.reduce((a, b) => a + b, 0);
    return wilsonInterval(successes, values.length, { level, continuityCorrection: options.continuityCorrection });
  }
  if (
    kind === 'continuous' &&
    (values.length >= T_INTERVAL_MIN_N || !(Math.abs(sampleSkewness(values)) > SKEWNESS_LIMIT))
  ) {
    return tInterval(values, { level });
  }
  return bootstrapInterval(values, { level, resamples, seed });
}

/** Scores as numbers, checked for the kind: booleans become 0/1. */
export function toNumbers(scores: readonly (number | boolean)[], kind: ScoreKind): number[] {
  if (!SCORE_KINDS.includes(kind))
    throw new RangeError(`unknown score kind '${String(kind)}'; expected one of ${SCORE_KINDS.join(', ')}`);
  const values = scores.map((s) => (typeof s === 'boolean' ? (s ? 1 : 0) : s));
  checkFinite(values, kind);
  if (kind === 'boolean') {
    const bad = values.findIndex((v) => v !== 0 && v !== 1);
    if (bad >= 0)
      throw new RangeError(`boolean: value #${bad + 1} is ${values[bad]}; boolean scores must be 0/1 or true/false`);
  }
  return values;
}
