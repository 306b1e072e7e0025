/**
 * `llmops plan-sample`: lines needed to detect a difference. Reference values by the closed form in Python
 * (statistics.NormalDist quantiles): n = ((z(0.975) + z(0.8)) · sd / δ)², rounded up:
 *   rate 0.8, δ 0.05: sd = 0.4                                       → 502.33 → 503 lines
 *   sd 1, δ 0.5, clusters of 5 with ICC 0.1: 31.3955 · 1.4 = 43.95   → 9 clusters, 45 lines
 *   paired rates 0.8 / 0.75, ρ 0.5: Var = 0.16 + 0.1875 − 2·0.5·√(0.16·0.1875) = 0.17430 → 547.27 → 548 lines
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { planSample } from '../../src/shared/eval/plan-sample.js';
import type { ResultsSummary } from '../../src/shared/results/model.js';
import { runCli } from '../support/azure/cli.js';
import { writeReports } from '../../src/shared/report/write.js';
import { sampleResults } from '../report/sample.js';

const env = {} as Record<string, string>;
const cli = (args: string[], cwd = os.tmpdir()) => runCli(['plan-sample', ...args], { cwd, env });

test('from a baseline pass rate', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'plan-sample-'));
  try {
    const r = await cli(['--rate', '0.8', '--difference', '0.05', '--json', 'plan.json'], dir);
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toContain('from a pass rate of 0.8:\n  503 lines');
    expect(JSON.parse(readFileSync(path.join(dir, 'plan.json'), 'utf8'))).toMatchObject({
      lines: 503,
      sd: expect.closeTo(0.4, 12),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('clusters with a design effect', async () => {
  const r = await cli(['--sd', '1', '--difference', '0.5', '--cluster-size', '5', '--icc', '0.1']);
  expect(r.status).toBe(0);
  expect(r.stdout + r.stderr).toContain('45 lines in 9 clusters (design effect 1.4)');
});

test('a pass rate of 1 plans from the spread of the rate it would drop to, not from no spread at all', async () => {
  // All lines pass today: detecting a drop to 0.95 needs the spread of 0.95 (sd 0.218), about 150 lines, not 2.
  const r = await cli(['--rate', '1', '--difference', '0.05']);
  expect(r.stdout + r.stderr).toMatch(/from a pass rate of 1:\n {2}1[45]\d lines/);
});

test('a paired comparison of two pass rates with a correlation', async () => {
  const r = await cli(['--rate', '0.8', '--paired', '--correlation', '0.5', '--difference', '-0.05']);
  expect(r.stdout + r.stderr).toContain('paired pass rates 0.8 and 0.75 (correlation 0.5):\n  548 lines');
});

test.each([
  [['--rate', '1.5', '--difference', '0.05'], 'option --rate: error: found "1.5", expected a rate in [0, 1]'],
  [['--rate', '0.5', '--sd', '1', '--difference', '0.05'], 'found 2 of --rate, --sd, --results, expected exactly one'],
  [['--sd', '1', '--difference', '0'], 'option --difference: error: found "0", expected a non-zero number'],
  [
    ['--sd', '0.3', '--difference', '0.05', '--cluster-size', '5'],
    'option --cluster-size: error: found --cluster-size without --icc, expected both',
  ],
  [['--sd', '0.3', '--difference', '0.05', '--icc', '0.2'], 'option --icc: error: found --icc without --cluster-size'],
  [
    ['--rate', '0.8', '--difference', '3'],
    'option --difference: error: found 3, expected a difference a pass rate of 0.8 can move by (at most 0.8)',
  ],
])('bad input %j is exit 2 with what was expected', async (args, message) => {
  const r = await cli(args);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(message);
});

/** A results summary with one clustered pass/fail metric and a paired comparison, as the report writes them. */
const results = {
  metrics: [
    {
      evaluator: 'grader',
      metric: 'accuracy',
      variantId: 'v0',
      kind: 'boolean',
      higherIsBetter: true,
      value: 0.8,
      interval: { n: 200, mean: 0.8, lower: 0.7, upper: 0.9, method: 'cluster-t', level: 0.95, clusters: 50 },
      scoreKey: 'grader.grade',
    },
  ],
  comparisons: [
    {
      evaluator: 'grader',
      metric: 'accuracy',
      variantId: 'v1',
      against: 'default',
      test: 'paired-t',
      n: 101,
      candidateMean: 0.8,
      referenceMean: 0.82,
      delta: -0.02,
      ciLow: -0.06,
      ciHigh: 0.02,
      pValue: 0.3,
      verdict: 'No significant change',
      message: '',
    },
  ],
} as unknown as ResultsSummary;

test('from clustered results: the clustering is in the spread, whole clusters are added', () => {
  const plan = planSample(
    { difference: 0.05, alpha: 0.05, power: 0.8 },
    { kind: 'results', file: 'results.json', results, metric: 'accuracy' },
  );
  // SE from the interval: 0.1 / t(0.975, 49) = 0.1 / 2.009575237129 (scipy.stats.t.ppf); sd = SE · √200.
  const se = 0.1 / 2.009575237129;
  expect(plan.sd).toBeCloseTo(se * Math.sqrt(200), 8);
  const independentLines = ((2.801585218112968 * plan.sd) / 0.05) ** 2;
  expect(plan.clusters).toBe(Math.ceil(Math.ceil(independentLines) / 4)); // 4 lines a cluster
  expect(plan.lines).toBe(plan.clusters * 4);
  expect(plan.current).toEqual({ lines: 200, clusters: 50, mde: expect.closeTo(2.801585218112968 * se, 8) });
});

test('from a paired comparison against the default variant', () => {
  const plan = planSample(
    { difference: 0.02, alpha: 0.05, power: 0.8 },
    { kind: 'results', file: 'results.json', results, metric: 'accuracy', against: 'default' },
  );
  const se = 0.04 / 1.983971518523552; // t(0.975, 100)
  expect(plan.sd).toBeCloseTo(se * Math.sqrt(101), 8);
  expect(plan.lines).toBe(Math.ceil(((2.801585218112968 * plan.sd) / 0.02) ** 2));
});

test('a metric the results do not have lists those they do', () => {
  expect(() =>
    planSample(
      { difference: 0.05, alpha: 0.05, power: 0.8 },
      { kind: 'results', file: 'results.json', results, metric: 'f1' },
    ),
  ).toThrow(/no metric "f1" with per-line scores, expected one of: grader.accuracy/);
});

test('from a results.json on the command line (the sample report: accuracy 0.7 over 10 lines)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'plan-sample-'));
  try {
    await writeReports(sampleResults(), dir, ['json']);
    const r = await cli(
      ['--results', 'results.json', '--metric', 'accuracy', '--variant', 'default', '--difference', '0.1'],
      dir,
    );
    expect(r.status).toBe(0);
    // Wilson-backed boolean metric: sd = √(0.7 · 0.3) = 0.458; n = (2.8016 · 0.458 / 0.1)² = 164.8 → 165 lines.
    expect(r.stdout + r.stderr).toContain(
      'eval_accuracy.accuracy of default = 0.7 over 10 lines in results.json:\n  165 lines',
    );
    expect(r.stdout + r.stderr).toMatch(/The current 10 lines detect 0\.406 or more; 155 more needed\./);
    const missing = await cli(['--results', 'results.json', '--difference', '0.1'], dir);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('option --metric: error: missing, expected the metric to plan for with --results');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--help teaches with examples, and each example runs (exit 0)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'plan-sample-'));
  try {
    await writeReports(sampleResults(), path.join(dir, 'reports'), ['json']);
    const help = await cli(['--help'], dir);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Examples:');
    const examples = [...help.stdout.matchAll(/^\s+\$ llmops plan-sample (.+)$/gm)].map((m) => m[1].split(/\s+/));
    expect(examples.length).toBeGreaterThanOrEqual(4);
    expect(examples.map((e) => e.find((a) => ['--rate', '--sd', '--results'].includes(a)))).toEqual(
      expect.arrayContaining(['--rate', '--sd', '--results']),
    );
    for (const args of examples) {
      const r = await cli(args, dir);
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: expect.any(String) });
      expect(r.stdout + r.stderr).toMatch(/\d+ lines/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
