/** The demo lifecycle end to end, as `npm run demo` runs it: the reports' contents are asserted. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Results } from '../../src/shared/results/model.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-demo-test-'));
const reports = path.join(work, 'reports');
let run: ReturnType<typeof spawnSync>;

beforeAll(() => {
  run = spawnSync(process.execPath, ['dist/demo.js'], {
    encoding: 'utf8',
    env: {
      ...process.env,
      LLMOPS_DEMO_STORE: path.join(work, 'store'),
      LLMOPS_DEMO_REPORTS: reports,
      AOAI_API_KEY: '',
      AOAI_API_BASE: '',
    },
    timeout: 120_000,
  });
}, 130_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the demo succeeds offline and says where the reports are', () => {
  expect(run.stderr).toContain('demo: open');
  expect(run.status).toBe(0);
});

test('the best variant is deployed locally, passes every smoke test, and is stopped', async () => {
  expect(run.stderr).toContain('demo: deploying the best variant (summarize_text_content.variant_1) locally');
  expect(run.stderr).toMatch(/demo: http:\/\/127\.0\.0\.1:\d+\/score passed 5\/5 smoke tests/);
  expect(run.stderr).toContain('demo: local deployment stopped');
  const endpoint = /demo: (http:\S+\/score) passed/.exec(String(run.stderr))![1];
  await expect(fetch(endpoint.replace('/score', '/health'))).rejects.toThrow();
});

test('both datasets × both variants ran, every line completed, and were evaluated', () => {
  const results = JSON.parse(readFileSync(path.join(reports, 'results.json'), 'utf8')) as Results;
  expect(results.experiment).toBe('web_classification');
  expect(results.runs.map((r) => `${r.dataset}/${r.variantId}`).sort()).toEqual([
    'web_classification_train/default',
    'web_classification_train/summarize_text_content.variant_1',
    'web_classification_train_new/default',
    'web_classification_train_new/summarize_text_content.variant_1',
  ]);
  expect(results.runs.every((r) => r.lines === 10 && r.failed === 0 && r.tokens.total > 0)).toBe(true);
  expect(results.evaluations).toHaveLength(4);
  // The rules file makes variant_1 right where variant_0's one-paragraph summary misleads the classifier.
  const accuracy = Object.fromEntries(results.metrics.map((m) => [m.variantId, m.value]));
  expect(accuracy).toEqual({ default: 0.85, 'summarize_text_content.variant_1': 0.95 });
  const v0 = results.metrics.find((m) => m.variantId === 'default')!;
  expect(v0.kind).toBe('boolean');
  expect(v0.interval?.method).toBe('wilson');
  expect(v0.interval?.lower).toBeCloseTo(0.6396, 3); // Wilson 95% for 17/20
  expect(results.comparisons).toEqual([
    expect.objectContaining({
      variantId: 'summarize_text_content.variant_1',
      against: 'default',
      verdict: 'Inconclusive',
      test: 'mcnemar-exact',
    }),
  ]);
  expect(results.gates.map((g) => g.status)).toEqual(['passed', 'passed']);
  expect(results.lines.filter((l) => l.scores['web_classification_flow.grade'] === 'Incorrect')).toHaveLength(4);
});

test('every report format is written, with the seed template file names', () => {
  expect(readdirSync(reports).sort()).toEqual([
    'report.html',
    'results.json',
    'results.junit.xml',
    'summary.md',
    'web_classification_flow_metrics.csv',
    'web_classification_flow_result.csv',
    'web_classification_metrics.csv',
    'web_classification_result.csv',
  ]);
  const summary = readFileSync(path.join(reports, 'summary.md'), 'utf8');
  expect(summary).toContain('<!-- llmops-report:web_classification -->');
  expect(summary).toContain('0.85');
  const junit = readFileSync(path.join(reports, 'results.junit.xml'), 'utf8');
  expect((junit.match(/<testcase /g) ?? []).length).toBeGreaterThanOrEqual(2);
  expect(junit).not.toContain('<failure');
  const csv = readFileSync(path.join(reports, 'web_classification_flow_metrics.csv'), 'utf8').split('\n');
  expect(csv[0]).toContain('accuracy');
  expect(csv.filter((l) => l.trim()).length).toBe(5);
});
