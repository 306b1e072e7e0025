/**
 * A deterministic experiment for the statistics: 2 variants × 2 datasets × 40 lines, one evaluator with a
 * pass/fail grade, a continuous similarity, a 1–5 rating and a text reason per line; failed lines, lines an
 * evaluator did not score, a second evaluator logging no metric, and a baseline of the same shape. Its statistics as computed from one object per
 * line (before the compact per-line arrays) are kept in fixtures/stats-before.json.
 */
import type { Gate } from '../../src/shared/config/types.js';
import type { EvaluationResult, LineResult, RunResult, VariantInfo } from '../../src/shared/results/model.js';

export const variants: VariantInfo[] = [
  { id: 'default', selection: { answer: 'variant_0' }, isDefault: true },
  { id: 'answer.variant_1', selection: { answer: 'variant_1' }, isDefault: false },
];

const datasets = ['train', 'test'];
const perRun = 40;

/** A small linear congruential generator, so the fixture is the same on every machine. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

export interface Experiment {
  runs: Pick<RunResult, 'runId' | 'variantId' | 'dataset'>[];
  lines: LineResult[];
  evaluations: EvaluationResult[];
}

/** `shift` moves each variant's quality up or down (the baseline uses another shift). */
export function experiment(prefix: string, seed: number, shift: Record<string, number>): Experiment {
  const next = random(seed);
  const runs: Experiment['runs'] = [];
  const lines: LineResult[] = [];
  const evaluations: EvaluationResult[] = [];
  for (const v of variants) {
    for (const dataset of datasets) {
      const runId = `${prefix}-${v.id}-${dataset}`;
      runs.push({ runId, variantId: v.id, dataset });
      let correct = 0;
      let scored = 0;
      for (let i = 0; i < perRun; i++) {
        const quality = next() + (shift[v.id] ?? 0);
        const line: LineResult = {
          runId,
          variantId: v.id,
          dataset,
          lineNumber: i,
          inputs: { question: `q${i}` },
          latencyMs: Math.round(next() * 1000),
          tokens: { prompt: 10, completion: 5, total: 15 },
          scores: {},
        };
        if (i % 17 === 5) line.error = { message: 'timed out', code: 'ServiceError' };
        else line.outputs = { answer: `a${i}` };
        // Line 7 of every run was not scored (the evaluation line failed).
        if (i !== 7) {
          const ok = quality > 0.45;
          line.scores = {
            'grader.grade': ok ? 'Correct' : 'Incorrect',
            'grader.reason': ok ? 'fine' : 'wrong answer',
            'judge.similarity': Math.round(quality * 1000) / 1000,
            'judge.rating': Math.max(1, Math.min(5, Math.round(quality * 5))),
            'judge.reason': 'judged',
          };
          if (!line.error) {
            scored += 1;
            if (ok) correct += 1;
          }
        }
        lines.push(line);
      }
      evaluations.push({
        runId: `eval-${runId}`,
        evaluator: 'grader',
        dataset: `${dataset}_eval`,
        standardRunId: runId,
        variantId: v.id,
        lines: perRun,
        failed: 1,
        // accuracy is logged rounded to 2 decimals, as evaluation flows do; latency_p95 has no per-line column.
        metrics: { accuracy: Math.round((correct / scored) * 100) / 100, latency_p95: 100 + runs.length },
      });
      // An evaluator that logs no metric: summarised by its per-line columns (continuous, likert).
      evaluations.push({
        runId: `judge-${runId}`,
        evaluator: 'judge',
        dataset: `${dataset}_eval`,
        standardRunId: runId,
        variantId: v.id,
        lines: perRun,
        failed: 1,
        metrics: {},
      });
    }
  }
  return { runs, lines, evaluations };
}

export const current = () => experiment('cur', 11, { default: 0, 'answer.variant_1': 0.12 });
export const baseline = () => experiment('base', 23, { default: 0.1, 'answer.variant_1': 0.1 });

const gate = (g: Partial<Gate>): Gate => ({
  metric: 'accuracy',
  variants: 'all',
  bound: 'value',
  higherIsBetter: true,
  requireSignificance: true,
  minLines: 10,
  ...g,
});

export const gates: Gate[] = [
  gate({ min: 0.5 }),
  gate({ min: 0.6, bound: 'confidence' }),
  gate({ maxDrop: 0.02 }),
  gate({ maxDrop: 0.02, requireSignificance: false, variants: 'default' }),
  gate({ metric: 'similarity', evaluator: 'judge', min: 0.4, variants: 'best' }),
  gate({ metric: 'similarity', evaluator: 'judge', maxDrop: 0.01 }),
  gate({ metric: 'rating', maxRelativeDrop: 0.01 }),
  gate({ metric: 'latency_p95', max: 150, higherIsBetter: false }),
];
