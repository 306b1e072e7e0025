/**
 * The result shape shared by every paired test, and input checks they share.
 * @module
 */
import type { PairedComparison } from '../../results/model.js';
import { checkFinite, checkLevel, mean } from './describe.js';

/** Which paired test produced a comparison. */
export type PairedTestName =
  | 'mcnemar-exact'
  | 'mcnemar-chi2'
  | 'paired-t'
  | 'paired-bootstrap'
  | 'cluster-paired-t'
  | 'wilcoxon-exact'
  | 'wilcoxon-normal';

/** A paired comparison with what the statistics know beyond the results model's shape. */
export interface Comparison extends PairedComparison {
  test: PairedTestName;
  /** Confidence level of the interval, e.g. 0.95. */
  level: number;
  /** The test statistic (t, chi-square, z, discordant count or W+), for the report. */
  statistic: number;
  /** How the interval was computed when it is not the test's own (e.g. 'paired-bootstrap'). */
  ciMethod?: string;
  /** Number of test cases, for the clustered methods. */
  clusters?: number;
}

/** Checks two paired arrays and returns the per-line differences candidate − reference. */
export function differences(candidate: readonly number[], reference: readonly number[], where: string): number[] {
  if (candidate.length !== reference.length) {
    throw new RangeError(
      `${where}: ${candidate.length} candidate values but ${reference.length} reference values; pairs must line up`,
    );
  }
  checkFinite(candidate, where);
  checkFinite(reference, where);
  return candidate.map((c, i) => c - reference[i]);
}

/** The fields every comparison shares, from the paired arrays. */
export function comparisonBase(
  candidate: readonly number[],
  reference: readonly number[],
  level: number,
  where: string,
) {
  checkLevel(level, where);
  const candidateMean = mean(candidate);
  const referenceMean = mean(reference);
  return { n: candidate.length, candidateMean, referenceMean, delta: candidateMean - referenceMean, level };
}
