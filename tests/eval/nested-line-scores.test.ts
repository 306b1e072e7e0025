/**
 * An evaluation flow whose line output is a dict of figures, aggregated by log_metric (the template's
 * named-entity matcher returns {exact_match, partial_match} per line and logs exact_match_rate): the aggregated
 * metric is backed by the dict's field, so it gets a confidence interval like any per-line score.
 */
import { computeMetrics } from '../../src/shared/eval/analysis.js';
import type { EvaluationResult, LineResult, VariantInfo } from '../../src/shared/results/model.js';
import { LineTable } from '../../src/shared/results/line-table.js';

const variants: VariantInfo[] = [{ id: 'default', selection: {}, isDefault: true }];

test('a metric averaged from a field of a per-line dict gets that field as its per-line column', () => {
  const exact = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const partial = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? 1 : 0));
  const table = new LineTable();
  table.addRun('run', 'default', 'train');
  exact.forEach((e, i) => {
    const line: LineResult = {
      runId: 'run',
      variantId: 'default',
      dataset: 'train',
      lineNumber: i,
      inputs: {},
      outputs: { entities: ['x'] },
      latencyMs: 1,
      tokens: { prompt: 1, completion: 1, total: 2 },
      scores: {
        'matcher.match_cnt': { exact_match: e, partial_match: partial[i], answer: ['x'], ground_truth: ['y'] },
      },
    };
    table.addLine(line);
  });
  table.compact();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const evaluations: EvaluationResult[] = [
    {
      runId: 'eval',
      evaluator: 'matcher',
      dataset: 'train_eval',
      standardRunId: 'run',
      variantId: 'default',
      lines: 30,
      failed: 0,
      metrics: { exact_match_rate: mean(exact), partial_match_rate: mean(partial) },
    },
  ];
  const metrics = computeMetrics(evaluations, table, variants);
  const rate = metrics.find((m) => m.metric === 'exact_match_rate')!;
  expect(rate.scoreKey).toBe('matcher.match_cnt.exact_match');
  expect(rate.interval?.n).toBe(30);
  expect(rate.interval!.lower).toBeLessThan(mean(exact));
  expect(rate.interval!.upper).toBeGreaterThan(mean(exact));
  expect(metrics.find((m) => m.metric === 'partial_match_rate')?.scoreKey).toBe('matcher.match_cnt.partial_match');
});
