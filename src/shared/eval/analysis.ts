/**
 * From evaluation results to statistics: one MetricResult per evaluator × metric × variant
 * (value, confidence interval from the per-line scores), and paired comparisons of each
 * variant against the default variant and against a baseline. The per-line scores come from
 * the compact line table (results/line-table.ts), never from one object per line.
 */
import type { LineTable } from '../results/line-table.js';
import type {
  ComparisonResult,
  EvaluationResult,
  MetricResult,
  RepeatedSummary,
  Results,
  ScoreKind,
  VariantInfo,
} from '../results/model.js';
import { comparePaired, decideVerdict, summarize, type Comparison } from './stats/index.js';
import { comparisonMde } from './stats/power.js';
import { groupClusters } from './stats/clustered.js';
import { consistency, passAtK } from './stats/repeat.js';
import type { LineClusters } from './clusters.js';
import { backingColumn } from './line-scores.js';

/** What the comparisons and gates read: the metrics, the variants, and every line's scores. */
export interface Analysed extends Pick<Results, 'metrics' | 'variants'> {
  table: LineTable;
  /** Datasets whose lines are clustered (cluster_by): their intervals and comparisons are clustered. */
  clusters?: LineClusters;
}

/** Metrics where smaller is better, by name; a gate's higher_is_better overrides it. */
export function higherIsBetterByName(metric: string): boolean {
  return !/latency|cost|error|loss|toxic|duration|tokens|pii|injection|jailbreak|content_safety|attack_success/i.test(
    metric,
  );
}

export function computeMetrics(
  evaluations: EvaluationResult[],
  table: LineTable,
  variants: VariantInfo[],
  clusters?: LineClusters,
): MetricResult[] {
  const out: MetricResult[] = [];
  const evaluators = [...new Set(evaluations.map((e) => e.evaluator))];
  for (const evaluator of evaluators) {
    const columns = table.columnsOf(evaluator);
    for (const variant of variants) {
      const evals = evaluations.filter((e) => e.evaluator === evaluator && e.variantId === variant.id);
      if (evals.length === 0) continue;
      const meanOf = (key: string) => mean(table.values(variant.id, key));
      const metricNames = [...new Set(evals.flatMap((e) => Object.keys(e.metrics)))];
      // An evaluator that logs no metric is summarised by its per-line score columns.
      const named: [string, number | undefined][] = metricNames.length
        ? metricNames.map((m) => [m, weightedMean(evals, m)])
        : [...columns.keys()].map((k) => [k.slice(evaluator.length + 1), meanOf(k)]);
      for (const [metric, value] of named) {
        if (value === undefined) continue;
        const scoreKey = backingColumn(metric, value, evaluator, columns, meanOf);
        const kind: ScoreKind = scoreKey ? columns.get(scoreKey)! : 'continuous';
        const result: MetricResult = {
          evaluator,
          metric,
          variantId: variant.id,
          kind,
          higherIsBetter: higherIsBetterByName(metric),
          value,
        };
        if (scoreKey) {
          const values = table.values(variant.id, scoreKey);
          if (values.length > 0) {
            const grouped = clusters?.forValues(table, variant.id, scoreKey);
            const s = summarize(values, kind, { clusterIds: grouped?.ids });
            result.interval = {
              n: s.n,
              mean: s.mean,
              lower: s.lower,
              upper: s.upper,
              method: s.method,
              level: s.level,
              ...(grouped && s.clusters !== undefined ? { clusteredBy: grouped.column, clusters: s.clusters } : {}),
            };
            result.scoreKey = scoreKey;
            if (kind === 'boolean' && grouped?.repeat)
              result.repeated = repeatedSummary(values, grouped.ids, grouped.repeat);
          }
        }
        out.push(result);
      }
    }
  }
  return out;
}

/** pass@k and consistency of pass/fail scores whose clusters are the data lines of a `repeat: K` run. */
function repeatedSummary(values: number[], ids: Int32Array, k: number): RepeatedSummary {
  const { sums, counts } = groupClusters(values, ids);
  const outcomes: number[][] = [];
  let passSum = 0;
  for (let g = 0; g < counts.length; g++) {
    const n = counts[g];
    const c = Math.round(sums[g]);
    passSum += passAtK(n, c, Math.min(k, n));
    outcomes.push([...Array<number>(c).fill(1), ...Array<number>(n - c).fill(0)]);
  }
  const agree = consistency(outcomes);
  return {
    k,
    dataLines: counts.length,
    passAtK: passSum / counts.length,
    unanimousShare: agree.unanimousShare,
    pairwiseAgreement: agree.pairwiseAgreement,
  };
}

export interface CompareSettings {
  minLines?: number;
  alpha?: number;
}

/** Each non-default variant against the default variant, and every variant against the baseline when there is one. */
export function computeComparisons(
  results: Analysed,
  baseline?: Analysed,
  settings: CompareSettings = {},
): ComparisonResult[] {
  const out: ComparisonResult[] = [];
  const defaultId = results.variants.find((v) => v.isDefault)?.id;
  for (const m of results.metrics) {
    if (!m.scoreKey) continue;
    if (defaultId && m.variantId !== defaultId) {
      const c = pairedComparison(m, results, { table: results.table, variantId: defaultId, scoreKey: m.scoreKey });
      out.push(withVerdict(m, c, 'default', settings));
    }
    const ref = baseline && baselineReference(baseline, m);
    if (ref) out.push(withVerdict(m, pairedComparison(m, results, ref), 'baseline', settings));
  }
  return out;
}

/** Where a comparison's reference scores are: a table, a variant of it and a score column. */
export interface Reference {
  table: LineTable;
  variantId: string;
  scoreKey: string;
}

/** The baseline's lines for the same metric: the same variant if it had one, else its default variant. */
export function baselineReference(baseline: Analysed, m: MetricResult): Reference | undefined {
  const sameVariant = baseline.metrics.find(
    (b) => b.evaluator === m.evaluator && b.metric === m.metric && b.variantId === m.variantId && b.scoreKey,
  );
  const defaultId = baseline.variants.find((v) => v.isDefault)?.id;
  const fallback = baseline.metrics.find(
    (b) => b.evaluator === m.evaluator && b.metric === m.metric && b.variantId === defaultId && b.scoreKey,
  );
  const b = sameVariant ?? fallback;
  return b ? { table: baseline.table, variantId: b.variantId, scoreKey: b.scoreKey! } : undefined;
}

/** The metric's per-line scores against the reference's, paired by dataset and line number. */
export function pairedComparison(m: MetricResult, results: Analysed, ref: Reference): Comparison {
  const { candidate, reference } = results.table.paired(
    m.variantId,
    m.scoreKey!,
    ref.table,
    ref.variantId,
    ref.scoreKey,
  );
  const grouped = results.clusters?.forPaired(
    results.table,
    m.variantId,
    m.scoreKey!,
    ref.table,
    ref.variantId,
    ref.scoreKey,
  );
  const c = comparePaired(candidate, reference, m.kind, {}, grouped?.ids);
  return grouped && c.clusters !== undefined ? { ...c, clusteredBy: grouped.column } : c;
}

function withVerdict(
  m: MetricResult,
  c: Comparison,
  against: 'default' | 'baseline',
  settings: CompareSettings,
): ComparisonResult {
  const v = decideVerdict(c, { minN: settings.minLines, alpha: settings.alpha, higherIsBetter: m.higherIsBetter });
  return {
    evaluator: m.evaluator,
    metric: m.metric,
    variantId: m.variantId,
    against,
    test: c.test,
    n: c.n,
    candidateMean: c.candidateMean,
    referenceMean: c.referenceMean,
    delta: c.delta,
    ciLow: c.ciLow,
    ciHigh: c.ciHigh,
    pValue: c.pValue,
    ...(c.clusteredBy !== undefined ? { clusteredBy: c.clusteredBy, clusters: c.clusters } : {}),
    verdict: v.verdict,
    message: v.message,
    ...withMde(c),
  };
}

function withMde(c: Comparison): { mde?: number } {
  const mde = comparisonMde(c);
  return mde === undefined ? {} : { mde };
}

function weightedMean(evals: EvaluationResult[], metric: string): number | undefined {
  let sum = 0;
  let weight = 0;
  for (const e of evals) {
    const v = e.metrics[metric];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    const w = Math.max(1, e.lines - e.failed);
    sum += v * w;
    weight += w;
  }
  return weight ? sum / weight : undefined;
}

function mean(values: number[]): number | undefined {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : undefined;
}
