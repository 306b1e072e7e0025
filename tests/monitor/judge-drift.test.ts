/**
 * Drift of a reference-free judge, computed: `llmops monitor --baseline results.json --config experiment.yaml`
 * runs the use case's relevance judge (its experiment mappings read from the request log's columns) on a sample
 * of served requests through the local model server, and compares its scores with the last evaluation's.
 * Half of the served answers are off-topic, which the judge (a model-server rule) scores 2 instead of 4.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';
import { runCli } from '../support/azure/cli.js';

const withEvaluators = (evaluators: string) =>
  baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')) + evaluators;

let model: ModelServerHandle;
beforeAll(async () => {
  model = await startModelServer({
    rules: [
      { match: 'Answer: off-topic', scope: 'all', json: { score: 2, reason: 'does not answer' } },
      { match: 'Rate the relevance', scope: 'all', json: { score: 4, reason: 'addresses the question' } },
    ],
  });
});
afterAll(() => model.close());

test('the judge scores a sample of served requests; its drift against the baseline is reported', async () => {
  const uc = makeUseCase({
    'experiment.yaml': withEvaluators(
      'evaluators:\n  - name: judge\n    builtin: relevance\n    options:\n      connection: aoai\n      deployment: gpt-4o\n    datasets:\n      - name: train\n        mappings:\n          question: ${data.question}\n          answer: ${run.outputs.answer}\n',
    ),
  });
  try {
    const logs = path.join(uc.dir, 'logs');
    mkdirSync(logs);
    const t0 = Date.parse('2026-12-07T10:00:00Z');
    writeFileSync(
      path.join(logs, 'requests.jsonl'),
      Array.from({ length: 80 }, (_, i) =>
        JSON.stringify({
          time: new Date(t0 + i * 1000).toISOString(),
          request_id: `r${i}`,
          status: 200,
          latency_ms: 50,
          'inputs.question': `question ${i}`,
          'outputs.answer': i % 2 ? `off-topic reply ${i}` : `answer to question ${i}`,
        }),
      ).join('\n') + '\n',
    );
    writeFileSync(
      path.join(uc.dir, 'results.json'),
      JSON.stringify({
        schemaVersion: 1,
        experiment: 'demo',
        createdAt: '2026-12-01T08:00:00.000Z',
        metrics: [
          {
            evaluator: 'judge',
            metric: 'relevance',
            variantId: 'default',
            kind: 'likert',
            higherIsBetter: true,
            value: 4,
            scoreKey: 'judge.score',
          },
        ],
        lines: Array.from({ length: 40 }, (_, i) => ({
          runId: 'r',
          variantId: 'default',
          dataset: 'train',
          lineNumber: i,
          inputs: {},
          latencyMs: 50,
          tokens: { prompt: 0, completion: 0, total: 0 },
          scores: { 'judge.score': 4 },
        })),
      }),
    );
    const r = await runCli(
      [
        'monitor',
        'logs',
        '--baseline',
        'results.json',
        '--config',
        'experiment.yaml',
        '--sample',
        '40',
        '--out-dir',
        'out',
        '--format',
        'json',
      ],
      { cwd: uc.dir, env: { AOAI_API_BASE: model.url, AOAI_API_KEY: 'local-test-key' } },
    );
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.status).toBe(0);
    const { drift } = JSON.parse(readFileSync(path.join(uc.dir, 'out', 'monitor.json'), 'utf8')) as {
      drift: {
        figures: {
          figure: string;
          drifted: boolean;
          live: { n: number; value: number };
          baseline: { value: number };
        }[];
      };
    };
    const judge = drift.figures.find((f) => f.figure.startsWith('judge'))!;
    // 40 of the 80 requests drawn at random (an evenly spaced sample would take only the on-topic ones): some of
    // each kind, so the mean lies strictly between 2 and 4, and it is 4 − 2·(off-topic share).
    expect(judge.figure).toBe('judge (judged on 40 sampled request(s))');
    expect(judge.live.n).toBe(40);
    expect(judge.live.value).toBeGreaterThan(2.5);
    expect(judge.live.value).toBeLessThan(3.5);
    expect(Number.isInteger(judge.live.value * 20)).toBe(true);
    expect(judge.baseline.value).toBe(4);
    expect(judge.drifted).toBe(true);
    expect(r.stderr).not.toContain('local-test-key');
  } finally {
    uc.cleanup();
  }
}, 60_000);
