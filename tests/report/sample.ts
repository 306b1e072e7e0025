/**
 * A realistic results value for the report tests: 2 variants × 2 datasets, one evaluator
 * (accuracy, per-line grade), one failed line, gates passed / failed / skipped.
 */
import type { LineResult, Results, RunResult } from '../../src/shared/results/model.js';

export const DEFAULT = 'default';
export const V1 = 'summarize_text_content.variant_1';

const runs: RunResult[] = [
  run('run-default-train', DEFAULT, 'web_train', 5, 0, 120, 0.0031),
  run('run-default-test', DEFAULT, 'web_test', 5, 0, 135, 0.0029),
  run('run-v1-train', V1, 'web_train', 5, 1, 180, 0.0052),
  run('run-v1-test', V1, 'web_test', 5, 0, 210, 0.0048),
];

function run(
  runId: string,
  variantId: string,
  dataset: string,
  lines: number,
  failed: number,
  p50: number,
  costUsd: number,
): RunResult {
  return {
    runId,
    variantId,
    dataset,
    lines,
    completed: lines - failed,
    failed,
    tokens: { prompt: 900, completion: 300, total: 1200 },
    costUsd,
    latencyMs: { mean: p50 * 1.1, p50, p95: p50 * 2, max: p50 * 3 },
    durationMs: 4000,
  };
}

const categories = ['App', 'Channel', 'Academic', 'Movie', 'None'];

function linesOf(r: RunResult): LineResult[] {
  return Array.from({ length: r.lines }, (_, i) => {
    const failed = r.failed > 0 && i === 2;
    const correct = (i + r.runId.length) % 3 !== 0;
    const line: LineResult = {
      runId: r.runId,
      variantId: r.variantId,
      dataset: r.dataset,
      lineNumber: i,
      inputs: { url: `https://example.com/${r.dataset}/${i}`, answer: categories[i] },
      latencyMs: r.latencyMs.p50 + i * 10,
      tokens: { prompt: 180, completion: 60, total: 240 },
      scores: {},
    };
    if (failed) {
      line.error = { message: 'Connection timed out after 3 retries <script>x</script>', code: 'ServiceError' };
    } else {
      line.outputs = { category: correct ? categories[i] : 'None', evidence: 'Both' };
      line.scores = {
        'eval_accuracy.grade': correct ? 'Correct' : 'Incorrect',
        'eval_accuracy.score': correct ? 1 : 0,
      };
    }
    return line;
  });
}

/** A fresh copy of the sample (tests may change it). */
export function sampleResults(): Results {
  return structuredClone({
    schemaVersion: 1,
    experiment: 'web_classification',
    env: 'dev',
    build: '20250210.3',
    createdAt: '2025-02-10T14:03:07.000Z',
    variants: [
      { id: DEFAULT, selection: { summarize_text_content: 'variant_0' }, isDefault: true },
      { id: V1, selection: { summarize_text_content: 'variant_1' }, isDefault: false },
    ],
    datasets: [
      { name: 'web_train', source: 'data/data.jsonl', lines: 5, hash: 'sha256:aa' },
      { name: 'web_test', source: 'data/test.jsonl', lines: 5, version: '2' },
    ],
    runs,
    evaluations: runs.map((r, i) => ({
      runId: `eval-${r.runId}`,
      evaluator: 'eval_accuracy',
      dataset: `${r.dataset}_eval`,
      standardRunId: r.runId,
      variantId: r.variantId,
      lines: r.lines,
      failed: 0,
      metrics: { accuracy: [0.8, 0.6, 0.5, 0.75][i], error_rate: [0, 0, 0.2, 0][i] },
    })),
    metrics: [
      {
        evaluator: 'eval_accuracy',
        metric: 'accuracy',
        variantId: DEFAULT,
        kind: 'boolean',
        higherIsBetter: true,
        value: 0.7,
        interval: { n: 10, mean: 0.7, lower: 0.4, upper: 0.89, method: 'wilson', level: 0.95 },
        scoreKey: 'eval_accuracy.score',
      },
      {
        evaluator: 'eval_accuracy',
        metric: 'accuracy',
        variantId: V1,
        kind: 'boolean',
        higherIsBetter: true,
        value: 0.63,
        interval: { n: 9, mean: 0.63, lower: 0.31, upper: 0.86, method: 'wilson', level: 0.95 },
      },
      {
        evaluator: 'eval_accuracy',
        metric: 'error_rate',
        variantId: DEFAULT,
        kind: 'continuous',
        higherIsBetter: false,
        value: 0,
      },
      {
        evaluator: 'eval_accuracy',
        metric: 'error_rate',
        variantId: V1,
        kind: 'continuous',
        higherIsBetter: false,
        value: 0.1,
      },
    ],
    comparisons: [
      {
        evaluator: 'eval_accuracy',
        metric: 'accuracy',
        variantId: V1,
        against: 'default',
        test: 'mcnemar',
        n: 9,
        candidateMean: 0.63,
        referenceMean: 0.7,
        delta: -0.07,
        ciLow: -0.35,
        ciHigh: 0.21,
        pValue: 0.62,
        verdict: 'Inconclusive',
        message: 'No significant change',
      },
      {
        evaluator: 'eval_accuracy',
        metric: 'accuracy',
        variantId: DEFAULT,
        against: 'baseline',
        test: 'mcnemar',
        n: 10,
        candidateMean: 0.7,
        referenceMean: 0.9,
        delta: -0.2,
        ciLow: -0.38,
        ciHigh: -0.02,
        pValue: 0.031,
        verdict: 'Degraded',
        message: 'Accuracy dropped against the baseline',
      },
    ],
    gates: [
      {
        name: 'accuracy at least 0.6',
        metric: 'accuracy',
        evaluator: 'eval_accuracy',
        variantId: DEFAULT,
        status: 'passed',
        observed: 0.7,
        threshold: '≥ 0.6',
        message: 'accuracy 0.70 ≥ 0.6',
      },
      {
        name: 'accuracy at least 0.65',
        metric: 'accuracy',
        evaluator: 'eval_accuracy',
        variantId: V1,
        status: 'failed',
        observed: 0.63,
        threshold: '≥ 0.65',
        message: 'accuracy 0.63 < 0.65',
      },
      {
        name: 'no drop against baseline',
        metric: 'accuracy',
        evaluator: 'eval_accuracy',
        variantId: V1,
        status: 'skipped',
        threshold: 'drop ≤ 0.02',
        message: 'no baseline for this variant',
      },
      {
        name: 'failed lines at most 10%',
        metric: 'failed_lines',
        variantId: V1,
        status: 'passed',
        observed: 0.05,
        threshold: '≤ 0.1',
        message: '1 of 20 lines failed',
      },
    ],
    lines: runs.flatMap(linesOf),
  } satisfies Results);
}
