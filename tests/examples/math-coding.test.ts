/** examples/math_coding through the whole lifecycle, as `npm run demo -- math_coding` runs it. */
import { metric, metricTable, runExample, runPullRequestPath, scoresByLine, type ExampleRun } from './run-example.js';

let run: ExampleRun;
beforeAll(async () => {
  run = await runExample('math_coding');
}, 90_000);
afterAll(() => run?.cleanup());

test('validate → register-data → bulk-run → evaluate → report → deploy → smoke tests, in under a minute', () => {
  expect(run.log).not.toContain('internal error');
  expect(run.status).toBe(0);
  expect(run.log).toContain('examples/math_coding/experiment.yaml: valid');
  expect(run.log).toContain('math_train: 10 rows');
  expect(run.log).toMatch(/demo: http:\/\/127\.0\.0\.1:\d+\/score passed 4\/4 smoke tests/);
  expect(run.log).toContain('demo: local deployment stopped');
  expect(run.seconds).toBeLessThan(60);
});

test('both variants ran every line; numeric accuracy with tolerance and the error rate, with intervals', () => {
  const results = run.results();
  expect(results.runs.map((r) => `${r.variantId}: ${r.completed}/${r.lines}`).sort()).toEqual([
    'default: 10/10',
    'write_code.variant_1: 10/10',
  ]);
  expect(metricTable(results)).toEqual({
    'math_accuracy.accuracy [default]': 0.8,
    'math_accuracy.error_rate [default]': 0.1,
    'math_accuracy.accuracy [write_code.variant_1]': 0.9,
    'math_accuracy.error_rate [write_code.variant_1]': 0,
  });
  const accuracy = metric(results, 'math_accuracy', 'accuracy');
  expect(accuracy.kind).toBe('boolean');
  expect(accuracy.interval?.method).toBe('wilson');
  expect(accuracy.interval?.lower).toBeCloseTo(0.4902, 3); // Wilson 95% for 8/10
  expect(results.gates.every((g) => g.status === 'passed')).toBe(true);
});

test('the programs ran in the sandbox: a runaway one was stopped at the time limit, tolerance accepts 28.274 for 28.27', () => {
  const results = run.results();
  const line = (n: number, variant = 'default') =>
    results.lines.find((l) => l.lineNumber === n && l.variantId === variant)!;
  // Naive recursive Fibonacci(40): stopped, the line itself completes with the sandbox's reason.
  expect(line(7).outputs).toMatchObject({ answer: '', error: 'timeout: still running after 3 s' });
  expect(line(7).outputs!.code).toContain('fib(n - 1) + fib(n - 2)');
  expect(line(7, 'write_code.variant_1').outputs).toMatchObject({ answer: '102334155', error: '' });
  // 7 // 2 = 3 is wrong; 7 / 2 = 3.5 matches the ground truth written as 7/2.
  expect(line(6).outputs!.answer).toBe('3');
  expect(line(6, 'write_code.variant_1').outputs!.answer).toBe('3.5');
  expect(scoresByLine(results, 'math_accuracy.correct')).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 1, 1]);
  expect(line(5).outputs!.answer).toMatch(/^28\.2743/);
  expect(line(5).scores['math_accuracy.difference']).toBeCloseTo(0.00433, 4);
});

test('the pr overlay runs three questions with every variant; pr and dev validate', async () => {
  const pr = await runPullRequestPath('math_coding');
  expect(pr.validated).toEqual(['pr: experiment.pr.yaml', 'dev: experiment.dev.yaml']);
  expect(pr.runs.map((r) => `${r.dataset}/${r.variantId}: ${r.lines - r.failed}/${r.lines}`).sort()).toEqual([
    'math_pr/default: 3/3',
    'math_pr/write_code.variant_1: 3/3',
  ]);
}, 60_000);
