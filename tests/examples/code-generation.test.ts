/** examples/code_generation through the whole lifecycle, as `npm run demo -- code_generation` runs it. */
import { metric, metricTable, runExample, runPullRequestPath, scoresByLine, type ExampleRun } from './run-example.js';

let run: ExampleRun;
beforeAll(async () => {
  run = await runExample('code_generation');
}, 90_000);
afterAll(() => run?.cleanup());

test('validate → register-data → bulk-run → evaluate → report → deploy → smoke tests, in under a minute', () => {
  expect(run.log).not.toContain('internal error');
  expect(run.status).toBe(0);
  expect(run.log).toContain(
    'experiment code_generation: flex flow examples/code_generation/flows/programmer/flow.flex.yaml',
  );
  expect(run.log).toContain('coding_tasks: 8 rows');
  expect(run.log).toMatch(/demo: http:\/\/127\.0\.0\.1:\d+\/score passed 3\/3 smoke tests/);
  expect(run.seconds).toBeLessThan(60);
});

test('pass@1 from the unit tests run in the sandbox, and the code-quality judge, each with an interval', () => {
  const results = run.results();
  // A flex flow has no variants: one run, the flow as written.
  expect(results.runs.map((r) => `${r.variantId}: ${r.completed}/${r.lines}`)).toEqual(['default: 8/8']);
  expect(metricTable(results)).toEqual({
    'unit_tests.pass_at_1 [default]': 0.625,
    'code_quality.quality [default]': 4.125,
  });
  expect(metric(results, 'unit_tests', 'pass_at_1')).toMatchObject({ kind: 'boolean', scoreKey: 'unit_tests.passed' });
  expect(metric(results, 'code_quality', 'quality')).toMatchObject({
    kind: 'likert',
    scoreKey: 'code_quality.quality',
  });
  expect(results.gates.every((g) => g.status === 'passed')).toBe(true);
  expect(run.reportFiles()).toEqual(
    expect.arrayContaining(['unit_tests_result.csv', 'code_quality_metrics.csv', 'report.html', 'summary.md']),
  );
});

test('each failing solution says why: the failed assert, or the time limit for an endless loop', () => {
  const results = run.results();
  expect(scoresByLine(results, 'unit_tests.passed')).toEqual([1, 0, 1, 1, 1, 0, 0, 1]);
  expect(scoresByLine(results, 'unit_tests.failure')).toEqual([
    '',
    "a test failed: assert fizzbuzz(5) == ['1', '2', 'Fizz', '4', 'Buzz']",
    '',
    '',
    '',
    "a test failed: assert roman_to_int('MCMXCIV') == 1994",
    'timeout: still running after 3 s',
    '',
  ]);
  // The judge sees the code: type hints and a docstring, a docstring only, neither.
  expect(scoresByLine(results, 'code_quality.quality')).toEqual([5, 5, 5, 4, 2, 5, 5, 2]);
  const code = results.lines.find((l) => l.lineNumber === 0)!.outputs!.code as string;
  expect(code.startsWith('def is_palindrome(text: str) -> bool:')).toBe(true);
});

test('the pr overlay runs three tasks; pr and dev validate', async () => {
  const pr = await runPullRequestPath('code_generation');
  expect(pr.validated).toEqual(['pr: experiment.pr.yaml', 'dev: experiment.dev.yaml']);
  expect(pr.runs).toEqual([{ dataset: 'coding_tasks_pr', variantId: 'default', lines: 3, failed: 0 }]);
}, 60_000);
