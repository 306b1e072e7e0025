/** Gates over computed metrics: pass, fail on a threshold, fail on a regression, inconclusive with too few lines. */
import type { Gate } from '../../src/shared/config/types.js';
import { computeComparisons, computeMetrics } from '../../src/shared/eval/analysis.js';
import { evaluateGates } from '../../src/shared/eval/gates.js';
import { LineTable } from '../../src/shared/results/line-table.js';
import type { EvaluationResult, LineResult, VariantInfo } from '../../src/shared/results/model.js';

const variants: VariantInfo[] = [
  { id: 'summarize.variant_0', selection: { summarize: 'variant_0' }, isDefault: true },
  { id: 'summarize.variant_1', selection: { summarize: 'variant_1' }, isDefault: false },
];

/** One evaluator "grader" with a per-line Correct/Incorrect grade and an accuracy metric, as evaluation flows log it. */
function analysed(correctByVariant: Record<string, boolean[]>) {
  const lines: LineResult[] = [];
  const evaluations: EvaluationResult[] = [];
  for (const [variantId, grades] of Object.entries(correctByVariant)) {
    grades.forEach((ok, i) =>
      lines.push({
        runId: `r-${variantId}`,
        variantId,
        dataset: 'train',
        lineNumber: i,
        inputs: {},
        outputs: {},
        latencyMs: 1,
        tokens: { prompt: 0, completion: 0, total: 0 },
        scores: { 'grader.grade': ok ? 'Correct' : 'Incorrect' },
      }),
    );
    const accuracy = Math.round((grades.filter(Boolean).length / grades.length) * 100) / 100;
    evaluations.push({
      runId: `e-${variantId}`,
      evaluator: 'grader',
      dataset: 'train',
      standardRunId: `r-${variantId}`,
      variantId,
      lines: grades.length,
      failed: 0,
      metrics: { accuracy },
    });
  }
  const used = variants.filter((v) => v.id in correctByVariant);
  const table = LineTable.fromLines(lines);
  const metrics = computeMetrics(evaluations, table, used);
  return { metrics, table, variants: used };
}

const gate = (g: Partial<Gate>): Gate => ({
  metric: 'accuracy',
  variants: 'all',
  bound: 'value',
  higherIsBetter: true,
  requireSignificance: true,
  minLines: 10,
  ...g,
});
const pattern = (n: number, correctEvery: number) => Array.from({ length: n }, (_, i) => i % correctEvery !== 0);

test('a logged metric is backed by the per-line grades: value, Wilson interval, kind', () => {
  const r = analysed({ 'summarize.variant_0': pattern(20, 4) }); // 15/20 correct
  expect(r.metrics).toEqual([
    expect.objectContaining({
      evaluator: 'grader',
      metric: 'accuracy',
      value: 0.75,
      kind: 'boolean',
      scoreKey: 'grader.grade',
      higherIsBetter: true,
    }),
  ]);
  // Wilson 95% for 15/20: [0.5313, 0.8881] (closed form with z = 1.959964).
  expect(r.metrics[0].interval?.lower).toBeCloseTo(0.5313, 3);
  expect(r.metrics[0].interval?.upper).toBeCloseTo(0.8881, 3);
});

test('pass: every variant above the minimum', () => {
  const r = analysed({ 'summarize.variant_0': pattern(20, 4), 'summarize.variant_1': pattern(20, 5) });
  const results = evaluateGates([gate({ min: 0.7 })], r);
  expect(results.map((g) => [g.variantId, g.status])).toEqual([
    ['summarize.variant_0', 'passed'],
    ['summarize.variant_1', 'passed'],
  ]);
});

test('fail on a threshold: the value, and the stricter confidence bound', () => {
  const r = analysed({ 'summarize.variant_0': pattern(20, 4) });
  expect(evaluateGates([gate({ min: 0.8 })], r)[0]).toEqual(
    expect.objectContaining({ status: 'failed', observed: 0.75, message: 'accuracy is 0.75, below the minimum 0.8' }),
  );
  const byBound = evaluateGates([gate({ min: 0.7, bound: 'confidence' })], r)[0];
  expect(byBound.status).toBe('failed');
  expect(byBound.message).toBe('the 95% confidence bound of accuracy is 0.531, below the minimum 0.7');
});

test('a gate on a metric nobody reports fails and lists what exists', () => {
  const r = analysed({ 'summarize.variant_0': pattern(20, 4) });
  expect(evaluateGates([gate({ metric: 'f1', min: 0.5 })], r)[0]).toEqual(
    expect.objectContaining({
      status: 'failed',
      message: 'no evaluator reported the metric "f1" (metrics reported: grader.accuracy)',
    }),
  );
});

test('fail on a regression: a significant drop beyond the limit against the baseline', () => {
  const baseline = analysed({ 'summarize.variant_0': Array(40).fill(true) });
  const current = analysed({ 'summarize.variant_0': pattern(40, 3) }); // 26/40: 14 lines now wrong
  const [g] = evaluateGates([gate({ maxDrop: 0.05 })], current, baseline);
  expect(g.status).toBe('failed');
  expect(g.message).toMatch(
    /^accuracy 1 → 0\.65 \(drop 0\.35, 35%\) exceeds the regression limit and is significant \(mcnemar-exact, p = /,
  );
});

test('a drop beyond the limit that is not significant does not fail a gate requiring significance', () => {
  const baseline = analysed({ 'summarize.variant_0': Array(40).fill(true) });
  const current = analysed({ 'summarize.variant_0': pattern(40, 20) }); // 2 lines now wrong: McNemar p = 0.5
  const [g] = evaluateGates([gate({ maxDrop: 0.01 })], current, baseline);
  expect(g.status).toBe('passed');
  expect(g.message).toContain('exceeds the limit but is not significant');
  expect(evaluateGates([gate({ maxDrop: 0.01, requireSignificance: false })], current, baseline)[0].status).toBe(
    'failed',
  );
});

test('inconclusive with too few lines: the regression check is skipped, saying why', () => {
  const baseline = analysed({ 'summarize.variant_0': Array(6).fill(true) });
  const current = analysed({ 'summarize.variant_0': [true, false, false, false, false, false] });
  const [g] = evaluateGates([gate({ maxDrop: 0.05 })], current, baseline);
  expect(g.status).toBe('skipped');
  expect(g.message).toBe(
    'accuracy 1 → 0.17 (drop 0.83, 83%): inconclusive, too few lines (6 paired, need at least 10)',
  );
});

test('no baseline: regression limits are skipped, thresholds still apply', () => {
  const r = analysed({ 'summarize.variant_0': pattern(20, 4) });
  expect(evaluateGates([gate({ maxDrop: 0.05 })], r)[0].status).toBe('skipped');
  expect(evaluateGates([gate({ maxDrop: 0.05, min: 0.9 })], r)[0].status).toBe('failed');
});

test('variants: "best" checks only the best variant; "default" only the default', () => {
  const r = analysed({ 'summarize.variant_0': pattern(20, 2), 'summarize.variant_1': pattern(20, 10) });
  expect(evaluateGates([gate({ min: 0.8, variants: 'best' })], r).map((g) => [g.variantId, g.status])).toEqual([
    ['summarize.variant_1', 'passed'],
  ]);
  expect(evaluateGates([gate({ min: 0.8, variants: 'default' })], r).map((g) => [g.variantId, g.status])).toEqual([
    ['summarize.variant_0', 'failed'],
  ]);
});

test('comparisons: each variant against the default, paired by dataset and line', () => {
  const r = analysed({ 'summarize.variant_0': pattern(30, 2), 'summarize.variant_1': Array(30).fill(true) });
  const [c] = computeComparisons(r);
  // 15 discordant pairs all favouring variant_1: exact McNemar p = 2 * 0.5^15 = 6.1e-5.
  expect(c).toEqual(
    expect.objectContaining({
      variantId: 'summarize.variant_1',
      against: 'default',
      test: 'mcnemar-exact',
      n: 30,
      verdict: 'Improved',
    }),
  );
  expect(c.pValue).toBeCloseTo(2 * 0.5 ** 15, 8);
  expect(c.delta).toBeCloseTo(0.5, 10);
});
