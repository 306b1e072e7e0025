/**
 * From evaluation results to statistics: one MetricResult per evaluator × metric × variant
 * (value, confidence interval from the per-line scores), and paired comparisons of each
 * variant against the default variant and against a baseline.
 */
import type {
  ComparisonResult,
  EvaluationResult,
  LineResult,
  MetricResult,
  Results,
  ScoreKind,
  VariantInfo,
} from '../results/model.js';
import { compareScores, decideVerdict, summarize, type ScoreRow } from './stats/index.js';
import { backingColumn, scoreColumns, scoreValue } from './line-scores.js';

/** Metrics where smaller is better, by name; a gate's higher_is_better overrides it. */
export function higherIsBetterByName(metric: string): boolean {
  return !/latency|cost|error|loss|toxic|duration|tokens/i.test(metric);
}

/** Score rows of one variant for one column; lines are identified across variants by dataset and line number. */
export function scoreRows(lines: LineResult[], variantId: string, scoreKey: string): ScoreRow[] {
  const rows: ScoreRow[] = [];
  for (const l of lines) {
    if (l.variantId !== variantId || l.error) continue;
    const v = scoreValue(l.scores[scoreKey]);
    if (v !== undefined) rows.push({ id: `${l.dataset}#${l.lineNumber}`, value: v });
  }
  return rows;
}

export function computeMetrics(
  evaluations: EvaluationResult[],
  lines: LineResult[],
  variants: VariantInfo[],
): MetricResult[] {
  const out: MetricResult[] = [];
  const evaluators = [...new Set(evaluations.map((e) => e.evaluator))];
  for (const evaluator of evaluators) {
    const columns = scoreColumns(lines, evaluator);
    for (const variant of variants) {
      const evals = evaluations.filter((e) => e.evaluator === evaluator && e.variantId === variant.id);
      if (evals.length === 0) continue;
      const meanOf = (key: string) => mean(scoreRows(lines, variant.id, key).map((r) => Number(r.value)));
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
          const values = scoreRows(lines, variant.id, scoreKey).map((r) => Number(r.value));
          if (values.length > 0) {
            const s = summarize(values, kind);
            result.interval = {
              n: s.n,
              mean: s.mean,
              lower: s.lower,
              upper: s.upper,
              method: s.method,
              level: s.level,
            };
            result.scoreKey = scoreKey;
          }
        }
        out.push(result);
      }
    }
  }
  return out;
}

export interface CompareSettings {
  minLines?: number;
  alpha?: number;
}

/** Each non-default variant against the default variant, and every variant against the baseline when there is one. */
export function computeComparisons(
  results: Pick<Results, 'metrics' | 'lines' | 'variants'>,
  baseline?: Pick<Results, 'metrics' | 'lines' | 'variants'>,
  settings: CompareSettings = {},
): ComparisonResult[] {
  const out: ComparisonResult[] = [];
  const defaultId = results.variants.find((v) => v.isDefault)?.id;
  for (const m of results.metrics) {
    if (!m.scoreKey) continue;
    const candidate = scoreRows(results.lines, m.variantId, m.scoreKey);
    if (defaultId && m.variantId !== defaultId) {
      out.push(compare(m, candidate, scoreRows(results.lines, defaultId, m.scoreKey), 'default', settings));
    }
    if (baseline) {
      const ref = baselineRows(baseline, m);
      if (ref) out.push(compare(m, candidate, ref, 'baseline', settings));
    }
  }
  return out;
}

/** The baseline's lines for the same metric: the same variant if it had one, else its default variant. */
export function baselineRows(
  baseline: Pick<Results, 'metrics' | 'lines' | 'variants'>,
  m: MetricResult,
): ScoreRow[] | undefined {
  const sameVariant = baseline.metrics.find(
    (b) => b.evaluator === m.evaluator && b.metric === m.metric && b.variantId === m.variantId && b.scoreKey,
  );
  const defaultId = baseline.variants.find((v) => v.isDefault)?.id;
  const fallback = baseline.metrics.find(
    (b) => b.evaluator === m.evaluator && b.metric === m.metric && b.variantId === defaultId && b.scoreKey,
  );
  const b = sameVariant ?? fallback;
  return b ? scoreRows(baseline.lines, b.variantId, b.scoreKey!) : undefined;
}

function compare(
  m: MetricResult,
  candidate: ScoreRow[],
  reference: ScoreRow[],
  against: 'default' | 'baseline',
  settings: CompareSettings,
): ComparisonResult {
  const c = compareScores(candidate, reference, m.kind);
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
    verdict: v.verdict,
    message: v.message,
  };
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
