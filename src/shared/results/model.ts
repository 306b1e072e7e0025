/**
 * The one results model of an experiment: what the report step renders to JSON, CSV, HTML,
 * Markdown and JUnit, and what a later run compares against as its baseline.
 * JSON Schema: schemas/results.schema.json.
 * @module
 */

export type ScoreKind = 'boolean' | 'continuous' | 'likert';

/**
 * Everything of an experiment's results but its lines: what the statistics, gates and summaries are. At a
 * million lines the lines do not fit in memory; the report streams them from the run store (see
 * results/report-data.ts) and keeps only compact per-line arrays for the statistics (results/line-table.ts).
 */
export interface ResultsSummary {
  schemaVersion: 1;
  experiment: string;
  env?: string;
  /** CI build id (GITHUB_RUN_ID, BUILD_BUILDID, BUILD_NUMBER) when known. */
  build?: string;
  createdAt: string;
  variants: VariantInfo[];
  datasets: DatasetInfo[];
  /** Standard (bulk) runs: one per dataset × variant. */
  runs: RunResult[];
  /** Evaluation runs: one per evaluator × standard run it scores. */
  evaluations: EvaluationResult[];
  /** One per evaluator × metric × variant, over all datasets the evaluator scored. */
  metrics: MetricResult[];
  comparisons: ComparisonResult[];
  gates: GateResult[];
}

/** results.json: the summary and every line of every standard run. */
export interface Results extends ResultsSummary {
  /** Every line of every standard run, with its evaluation scores, run by run in line order. */
  lines: LineResult[];
}

export interface VariantInfo {
  /** "default", "node.variant", or "a.v1+b.v2". */
  id: string;
  /** node → variant id for every varied node (empty for flows without variants). */
  selection: Record<string, string>;
  isDefault: boolean;
}

export interface DatasetInfo {
  name: string;
  source: string;
  lines: number;
  version?: string;
  hash?: string;
}

export interface TokenUsage {
  prompt: number;
  completion: number;
  total: number;
}

export interface RunResult {
  runId: string;
  variantId: string;
  dataset: string;
  lines: number;
  completed: number;
  failed: number;
  tokens: TokenUsage;
  /** Estimated from the price table; absent when a model has no known price. */
  costUsd?: number;
  latencyMs: { mean: number; p50: number; p95: number; max: number };
  durationMs: number;
  /** An early_stop run that stopped before its last line: the lines it ran (the rest were not run, not failed). */
  stoppedAfter?: number;
  /** `repeat: K` (K > 1): every data line ran K times (its lines carry `sourceLine` and `repetition`). */
  repeat?: number;
}

export interface EvaluationResult {
  runId: string;
  evaluator: string;
  /** The evaluation dataset name. */
  dataset: string;
  standardRunId: string;
  variantId: string;
  lines: number;
  failed: number;
  /** Aggregated metrics (log_metric / __aggregate__ / built-in). */
  metrics: Record<string, number>;
}

export interface IntervalSummary {
  n: number;
  mean: number;
  lower: number;
  upper: number;
  method: string;
  level: number;
  /** The dataset column lines were clustered by (experiment.yaml cluster_by), when the method is clustered. */
  clusteredBy?: string;
  /** Number of clusters, when the method is clustered. */
  clusters?: number;
}

export interface RepeatedSummary {
  k: number;
  dataLines: number;
  passAtK: number;
  unanimousShare: number;
  pairwiseAgreement: number;
}

export interface MetricResult {
  evaluator: string;
  metric: string;
  variantId: string;
  kind: ScoreKind;
  higherIsBetter: boolean;
  /** The aggregated value as the evaluator reported it (mean over datasets, weighted by lines). */
  value: number;
  /** Confidence interval from the per-line scores, when the metric has them. */
  interval?: IntervalSummary;
  /** The per-line score (`LineResult.scores` key) the interval and comparisons use. */
  scoreKey?: string;
  /** A pass/fail metric of a dataset run with `repeat: K`: pass@k and how consistent each data line's K answers are. */
  repeated?: RepeatedSummary;
}

export type Verdict = 'Improved' | 'Degraded' | 'Inconclusive';

/** A candidate compared with a reference on paired lines: what the paired tests compute and the report shows. */
export interface PairedComparison {
  /** The paired test that produced it. */
  test: string;
  /** Number of paired lines. */
  n: number;
  candidateMean: number;
  referenceMean: number;
  /** candidateMean − referenceMean. */
  delta: number;
  /** Confidence interval for `delta`, or null when the method gives none (or n is too small). */
  ciLow: number | null;
  ciHigh: number | null;
  /** Two-sided p-value for "no difference"; NaN when the data cannot give one. */
  pValue: number;
  /** The dataset column pairs were clustered by, and the number of clusters, when the test is clustered. */
  clusteredBy?: string;
  clusters?: number;
}

export interface ComparisonResult extends PairedComparison {
  evaluator: string;
  metric: string;
  variantId: string;
  /** What the variant is compared against. */
  against: 'default' | 'baseline';
  verdict: Verdict;
  message: string;
  /** Minimum detectable effect: the smallest true difference this comparison detects with 80% power. */
  mde?: number;
}

export interface GateResult {
  name: string;
  metric: string;
  evaluator?: string;
  variantId: string;
  status: 'passed' | 'failed' | 'skipped';
  /** The value the gate compared (the metric, its confidence bound, or the change against the baseline). */
  observed?: number;
  /** "≥ 0.8", "drop ≤ 0.02", ... */
  threshold: string;
  message: string;
  /** Gates on a difference or a regression: the minimum detectable effect (80% power) of the comparison. */
  mde?: number;
  /** Why the outcome should be read with care (e.g. the gate asks about a difference below the MDE). */
  warning?: string;
  /** Every line passed a pass/fail metric: the rule-of-three 95% upper bound on its failure rate. */
  failureRateBound?: number;
  /** An early_stop gate: how its run went under the anytime-valid confidence sequence. */
  earlyStop?: GateEarlyStop;
}

/** An early_stop gate's run: stopped after `lines` of `total`, or run to the end, and the sequence then. */
export interface GateEarlyStop {
  runId: string;
  stopped: boolean;
  lines: number;
  total: number;
  alpha: number;
  decision: 'pass' | 'fail' | 'open';
  /** Scored lines in the sequence and its bounds (anytime-valid). */
  n: number;
  lower: number;
  upper: number;
}

export interface LineResult {
  runId: string;
  variantId: string;
  dataset: string;
  lineNumber: number;
  /** A run with `repeat: K`: the data line this line repeats, and which of its K repetitions (0-based) it is. */
  sourceLine?: number;
  repetition?: number;
  inputs: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  error?: { message: string; code?: string };
  latencyMs: number;
  tokens: TokenUsage;
  /** Per-line evaluation outputs: `<evaluator>.<output>` → value. */
  scores: Record<string, unknown>;
}
