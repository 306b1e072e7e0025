/**
 * Gates on the confidence bound of the paired difference between variants (compare_to + min_difference), the
 * minimum detectable effect beside every comparison with a warning when a gate asks for less than it, and the
 * rule-of-three bound when every line passed.
 *
 * The MDE is checked against a second computation: the Agresti–Min standard error of a paired difference of
 * proportions written out by hand, times z(0.975) + z(0.8) from Python's statistics.NormalDist.
 */
import type { Gate } from '../../src/shared/config/types.js';
import { computeComparisons, computeMetrics } from '../../src/shared/eval/analysis.js';
import { evaluateGates } from '../../src/shared/eval/gates.js';
import { LineTable } from '../../src/shared/results/line-table.js';
import type { EvaluationResult, LineResult, VariantInfo } from '../../src/shared/results/model.js';
import { runCli } from '../support/azure/cli.js';
import { baseEnv, experimentWith, makeUseCase } from '../helpers/use-case-dir.js';

const variants: VariantInfo[] = [
  { id: 'summarize.variant_0', selection: { summarize: 'variant_0' }, isDefault: true },
  { id: 'summarize.variant_1', selection: { summarize: 'variant_1' }, isDefault: false },
];

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
    evaluations.push({
      runId: `e-${variantId}`,
      evaluator: 'grader',
      dataset: 'train',
      standardRunId: `r-${variantId}`,
      variantId,
      lines: grades.length,
      failed: 0,
      metrics: { accuracy: grades.filter(Boolean).length / grades.length },
    });
  }
  const used = variants.filter((v) => v.id in correctByVariant);
  const table = LineTable.fromLines(lines);
  return { metrics: computeMetrics(evaluations, table, used), table, variants: used };
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

/** n lines, 80% correct for the reference; the candidate loses `worse` of its correct lines. */
function pair(n: number, worse: number) {
  const reference = Array.from({ length: n }, (_, i) => i % 5 !== 0);
  let lost = 0;
  const candidate = reference.map((ok) => (ok && lost < worse ? (lost++, false) : ok));
  return analysed({ 'summarize.variant_0': reference, 'summarize.variant_1': candidate });
}

const Z = 1.959963984540054 + 0.8416212335729143; // z(0.975) + z(0.8)

test('a candidate not worse than the default by more than 0.05 passes on the lower confidence bound', () => {
  const results = pair(200, 2);
  const [skip, g] = evaluateGates([gate({ compareTo: 'default', minDifference: -0.05 })], results);
  expect(skip).toMatchObject({ variantId: 'summarize.variant_0', status: 'skipped' });
  expect(g.variantId).toBe('summarize.variant_1');
  expect(g.status).toBe('passed');
  expect(g.threshold).toBe('difference vs default ≥ -0.05 (confidence bound)');
  // Agresti–Min by hand: b = 0, c = 2 discordant pairs of n = 200, 0.5 added to each → centre (0.5 − 2.5)/202.
  const centre = (0.5 - 2.5) / 202;
  const se = Math.sqrt(((0.5 + 2.5) / 202 - centre * centre) / 202);
  expect(g.observed).toBeCloseTo(centre - 1.959963984540054 * se, 10);
  expect(g.mde).toBeCloseTo(Z * se, 10);
  expect(g.warning).toBeUndefined(); // MDE ≈ 0.024 < 0.05
  expect(g.message).toMatch(
    /accuracy summarize\.variant_0 0\.8 → summarize\.variant_1 0\.79 \(difference -0\.01, 95% CI \[-0\.0267, \+0\.00685\], mcnemar-exact, n = 200\) meets/,
  );
});

test('a candidate 10 points worse fails, and its bound is what the gate observed', () => {
  const results = pair(200, 20);
  const g = evaluateGates([gate({ compareTo: 'summarize.variant_0', minDifference: -0.05 })], results)[1];
  expect(g.status).toBe('failed');
  expect(g.observed!).toBeLessThan(-0.05);
  expect(g.message).toMatch(/its lower bound -0\.1\d+ is below -0\.05/);
});

test('a gate asking for less than the dataset can detect is warned about', () => {
  const results = pair(30, 0);
  const g = evaluateGates([gate({ compareTo: 'default', minDifference: -0.01 })], results)[1];
  expect(g.mde!).toBeGreaterThan(0.01);
  expect(g.warning).toMatch(
    /asks about a difference of 0\.01, but these lines can only detect 0\.\d+ or more with 80% power/,
  );
});

test('every comparison carries its minimum detectable effect', () => {
  const results = pair(200, 20);
  const [c] = computeComparisons(results);
  expect(c.mde).toBeGreaterThan(0);
  // The MDE is Z standard errors, and the interval is ±z(0.975) standard errors.
  expect(c.mde!).toBeCloseTo((Z * (c.ciHigh! - c.ciLow!)) / (2 * 1.959963984540054), 12);
});

test('an unknown variant to compare to fails the gate and lists the variants', () => {
  const g = evaluateGates([gate({ compareTo: 'summarize.variant_9', minDifference: 0 })], pair(50, 0))[0];
  expect(g.status).toBe('failed');
  expect(g.message).toContain(
    'no variant "summarize.variant_9" in this run (variants: summarize.variant_0, summarize.variant_1',
  );
});

test('compare_to baseline without baseline results is skipped, not passed', () => {
  const g = evaluateGates([gate({ compareTo: 'baseline', minDifference: -0.02, variants: 'default' })], pair(50, 0))[0];
  expect(g).toMatchObject({ status: 'skipped', message: 'difference to the baseline skipped: no baseline results' });
});

test('compare_to baseline pairs the lines with the baseline', () => {
  const current = pair(200, 0);
  const old = pair(200, 0);
  const g = evaluateGates(
    [gate({ compareTo: 'baseline', minDifference: -0.03, variants: 'default' })],
    current,
    old,
  )[0];
  expect(g.status).toBe('passed');
  expect(g.message).toContain('accuracy baseline 0.8 → summarize.variant_0 0.8 (difference 0');
});

test('when every line passes, the rule-of-three bound on the failure rate is shown', () => {
  const results = analysed({ 'summarize.variant_0': Array.from({ length: 50 }, () => true) });
  const [g] = evaluateGates([gate({ min: 0.9 })], results);
  expect(g.status).toBe('passed');
  expect(g.failureRateBound).toBeCloseTo(-Math.log(0.05) / 50, 12);
  expect(g.message).toContain('all 50 lines passed, so the failure rate is at most 5.99% (95%, rule of three)');
});

describe('experiment.yaml: difference gates are checked at file:line:col', () => {
  const withGate = (yaml: string) => experimentWith('evaluators:\n', `gates:\n${yaml}evaluators:\n`);

  test.each([
    [
      '  - metric: accuracy\n    compare_to: default\n',
      'experiment.yaml:15:17: error: gates[0].compare_to: found "default" without a bound, expected min_difference and/or max_difference beside it',
    ],
    [
      '  - metric: accuracy\n    min_difference: -0.02\n',
      'experiment.yaml:15:5: error: gates[0]: a bound on the difference needs what to compare to, expected compare_to: <variant id>, default or baseline',
    ],
    [
      '  - metric: accuracy\n    compare_to: default\n    min_difference: -0.02\n    min: 0.8\n',
      'experiment.yaml:17:5: error: gates[0]: a gate with compare_to checks the difference only, expected min in a gate of its own',
    ],
    [
      '  - metric: accuracy\n    compare_to: default\n    min_difference: lots\n',
      'experiment.yaml:16:21: error: gates[0].min_difference: found the text "lots", expected a number',
    ],
    [
      '  - metric: accuracy\n    compare_to: defualt\n    min_difference: -0.02\n',
      'experiment.yaml:15:17: error: gates[0].compare_to: found "defualt", expected default, baseline or a variant of the flow (it has none); did you mean "default"?',
    ],
  ])('%j', async (yaml, expected) => {
    const uc = makeUseCase({ 'experiment.yaml': withGate(yaml) });
    try {
      const r = await runCli(['validate', '--config', 'experiment.yaml'], { cwd: uc.dir, env: baseEnv });
      expect(r.stderr).toContain(expected);
      expect(r.stderr).toMatch(/error: 1 problem found/);
      expect(r.status).toBe(2);
    } finally {
      uc.cleanup();
    }
  });
});
