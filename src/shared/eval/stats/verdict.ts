/**
 * Turns a comparison into the word a CI gate acts on: Improved, Degraded or Inconclusive,
 * with the reason, guarding against too few lines and changes too small to matter.
 * @module
 */
import type { Comparison } from './comparison.js';

export type Verdict = 'Improved' | 'Degraded' | 'Inconclusive';

/** Why a verdict was reached. */
export type VerdictReason = 'too-few-lines' | 'not-significant' | 'below-margin' | 'no-change' | 'significant';

/** Default minimum number of paired lines before any verdict other than Inconclusive. */
export const DEFAULT_MIN_N = 10;
/** Default significance level. */
export const DEFAULT_ALPHA = 0.05;

export interface VerdictOptions {
  /** Significance level: the p-value must be ≤ alpha; default 0.05. */
  alpha?: number;
  /** Fewer paired lines than this → always Inconclusive ("too few lines"); default 10. */
  minN?: number;
  /** False for metrics where lower is better (latency, cost); default true. */
  higherIsBetter?: boolean;
  /** Practical significance: |delta| must be ≥ this (metric units); default none. */
  minAbsoluteChange?: number;
  /**
   * Practical significance: |delta| / |reference mean| must be ≥ this (0.05 = 5%); default none.
   * A zero reference mean counts any non-zero change as large enough.
   */
  minRelativeChange?: number;
}

export interface VerdictResult {
  verdict: Verdict;
  reason: VerdictReason;
  /** One line for the report, e.g. "not significant (p = 0.21 > alpha 0.05)". */
  message: string;
}

const fmt = (x: number): string => (Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : String(x));

/**
 * The verdict on a comparison. Checks in order: enough lines, significance (p ≤ alpha), the
 * practical margins, then the direction of delta (flipped when lower is better).
 */
export function decideVerdict(
  comparison: Pick<Comparison, 'n' | 'delta' | 'pValue' | 'referenceMean'>,
  options: VerdictOptions = {},
): VerdictResult {
  const { n, delta, pValue, referenceMean } = comparison;
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`decideVerdict: alpha must be between 0 and 1, got ${alpha}`);
  const minN = options.minN ?? DEFAULT_MIN_N;
  if (n < minN) {
    return {
      verdict: 'Inconclusive',
      reason: 'too-few-lines',
      message: `too few lines (${n} paired, need at least ${minN})`,
    };
  }
  if (!(pValue <= alpha)) {
    return {
      verdict: 'Inconclusive',
      reason: 'not-significant',
      message: `not significant (p = ${fmt(pValue)} > alpha ${alpha})`,
    };
  }
  const size = Math.abs(delta);
  if (options.minAbsoluteChange !== undefined && size < options.minAbsoluteChange) {
    return {
      verdict: 'Inconclusive',
      reason: 'below-margin',
      message: `change ${fmt(delta)} is smaller than the margin ${options.minAbsoluteChange}`,
    };
  }
  if (options.minRelativeChange !== undefined) {
    const relative = referenceMean === 0 ? (size === 0 ? 0 : Infinity) : size / Math.abs(referenceMean);
    if (relative < options.minRelativeChange) {
      return {
        verdict: 'Inconclusive',
        reason: 'below-margin',
        message: `change ${fmt(relative * 100)}% is smaller than the margin ${fmt(options.minRelativeChange * 100)}%`,
      };
    }
  }
  if (delta === 0 || !Number.isFinite(delta)) {
    return {
      verdict: 'Inconclusive',
      reason: 'no-change',
      message: `significant (p = ${fmt(pValue)}) but the mean did not move`,
    };
  }
  const better = delta > 0 === (options.higherIsBetter ?? true);
  return {
    verdict: better ? 'Improved' : 'Degraded',
    reason: 'significant',
    message: `${better ? 'improved' : 'degraded'} by ${fmt(delta)} (p = ${fmt(pValue)})`,
  };
}
