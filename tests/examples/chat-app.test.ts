/** examples/chat_app through the whole lifecycle, as `npm run demo -- chat_app` runs it. */
import { spawn } from 'node:child_process';
import { startModelServer } from '../../src/model-server/index.js';
import { metricTable, runExample, runPullRequestPath, scoresByLine, type ExampleRun } from './run-example.js';

let run: ExampleRun;
beforeAll(async () => {
  run = await runExample('chat_app');
}, 90_000);
afterAll(() => run?.cleanup());

test('validate → register-data → bulk-run → evaluate → report → deploy → smoke tests, in under a minute', () => {
  expect(run.log).not.toContain('internal error');
  expect(run.status).toBe(0);
  expect(run.log).toContain('experiment chat_app: flex flow examples/chat_app/flows/chat/flow.flex.yaml');
  expect(run.log).toContain('conversations: 10 rows');
  // The smoke tests include a follow-up answered from its chat history, and the same one without it.
  expect(run.log).toMatch(/demo: http:\/\/127\.0\.0\.1:\d+\/score passed 4\/4 smoke tests/);
  expect(run.seconds).toBeLessThan(60);
});

test('per-turn metrics with intervals, and the per-conversation success rate', () => {
  const results = run.results();
  expect(metricTable(results)).toEqual({
    'conversation_eval.turn_success [default]': 0.8,
    'conversation_eval.fact_recall [default]': 0.85,
    'conversation_eval.conversation_success [default]': 0.5,
  });
  const byName = Object.fromEntries(results.metrics.map((m) => [m.metric, m]));
  // Clustered by conversation (cluster_by: conversation_id): 4 conversations, t with 3 degrees of freedom.
  // By hand: cluster residual sums ±0.4, SE = sqrt(4/3 · 0.64 / 100) = 0.092376, 0.8 − 3.182446 · SE = 0.50602.
  expect(byName.turn_success.interval).toMatchObject({
    n: 10,
    method: 'cluster-t',
    clusteredBy: 'conversation_id',
    clusters: 4,
    upper: 1,
  });
  expect(byName.turn_success.interval!.lower).toBeCloseTo(0.5060182030340161, 6);
  expect(byName.fact_recall.interval).toMatchObject({ n: 10, clusteredBy: 'conversation_id', clusters: 4 });
  expect(run.log).toContain('Intervals and comparisons clustered by conversation_id (4 clusters)');
  expect(run.log).toContain('only 4 clusters of conversation_id: with fewer than 30 clusters');
  // Known per conversation only: no per-line column backs it.
  expect(byName.conversation_success.interval).toBeUndefined();
  expect(results.gates.every((g) => g.status === 'passed')).toBe(true);
});

test('follow-ups are answered from the chat history; the two failed turns name the missing facts', () => {
  const results = run.results();
  const answer = (n: number) => results.lines.find((l) => l.lineNumber === n)!.outputs!.answer;
  expect(answer(1)).toBe('An e-bike costs €18 for a whole day.'); // after the e-bike turn
  expect(answer(4)).toBe('A classic bike costs €10 for a whole day.'); // the same question after the classic one
  expect(scoresByLine(results, 'conversation_eval.turn_success')).toEqual([1, 1, 0, 1, 1, 1, 1, 0, 1, 1]);
  expect(scoresByLine(results, 'conversation_eval.missing_facts')).toEqual([
    '',
    '',
    'any station',
    '',
    '',
    '',
    '',
    'refund',
    '',
    '',
  ]);
  expect(scoresByLine(results, 'conversation_eval.conversation_id')[2]).toBe('ebike-price');
});

test('the pr overlay runs one conversation; pr and dev validate', async () => {
  const pr = await runPullRequestPath('chat_app');
  expect(pr.validated).toEqual(['pr: experiment.pr.yaml', 'dev: experiment.dev.yaml']);
  expect(pr.runs).toEqual([{ dataset: 'conversations_pr', variantId: 'default', lines: 3, failed: 0 }]);
}, 60_000);

test('the token budget from init drops the oldest turns: a follow-up over budget loses its history', async () => {
  const model = await startModelServer({ rules: 'examples/chat_app/model-rules.yaml' });
  const answer = (budget: number) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          'dist/cli.js',
          'flow',
          'test',
          'examples/chat_app/flows/chat',
          '--inputs-file',
          'examples/chat_app/sample-request.json',
          '--init',
          `max_total_token=${budget}`,
        ],
        { env: { ...process.env, AZURE_OPENAI_ENDPOINT: model.url, AZURE_OPENAI_API_KEY: 'local-test-key' } },
      );
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out).answer) : reject(new Error(`exit ${code}`))));
    });
  try {
    // init.json's budget (2048) keeps the history; 400 tokens cannot hold it beside the facts and max_tokens.
    expect(await answer(2048)).toBe('An e-bike costs €18 for a whole day.');
    expect(await answer(400)).toBe('Which bike do you mean: a classic bike or an e-bike?');
  } finally {
    await model.close();
  }
}, 60_000);
