/**
 * Statistics for the evaluate and report steps: confidence intervals for one run's metrics,
 * paired comparisons of a candidate with a reference, and the verdict a gate acts on.
 * Pure functions, no I/O.
 * @module
 */
export {
  summarize,
  toNumbers,
  SCORE_KINDS,
  T_INTERVAL_MIN_N,
  SKEWNESS_LIMIT,
  type ScoreKind,
  type SummarizeOptions,
} from './summarize.js';
export {
  wilsonInterval,
  tInterval,
  bootstrapInterval,
  DEFAULT_LEVEL,
  DEFAULT_RESAMPLES,
  type Summary,
  type IntervalMethod,
  type WilsonOptions,
  type TIntervalOptions,
  type BootstrapOptions,
} from './intervals.js';
export {
  clusterRobustStandardError,
  clusterRobustInterval,
  clusterBootstrapInterval,
  type ClusterId,
  type ClusterRobustOptions,
  type ClusterRobustMean,
} from './clustered.js';
export { pairRows, pairKey, type ScoreRow, type PairedScore, type Pairing } from './pairing.js';
export type { Comparison, PairedTestName } from './comparison.js';
export {
  mcnemarTest,
  pairedTTest,
  pairedBootstrap,
  clusteredPairedTest,
  MCNEMAR_EXACT_BELOW,
  type McNemarOptions,
  type PairedTOptions,
  type PairedBootstrapOptions,
  type ClusteredPairedOptions,
} from './paired-tests.js';
export { wilcoxonSignedRank, WILCOXON_EXACT_MAX_N, type WilcoxonOptions } from './wilcoxon.js';
export { compareScores, comparePaired, type CompareOptions, type ScoreComparison } from './compare.js';
export {
  decideVerdict,
  DEFAULT_ALPHA,
  DEFAULT_MIN_N,
  type Verdict,
  type VerdictReason,
  type VerdictOptions,
  type VerdictResult,
} from './verdict.js';
export { DEFAULT_SEED, createRandom } from './random.js';
export { normalQuantile, studentTQuantile, studentTCdf } from './special.js';
export {
  welchTTest,
  mannWhitneyU,
  twoProportionTest,
  type UnpairedResult,
  type UnpairedTestName,
  type UnpairedOptions,
} from './unpaired.js';
