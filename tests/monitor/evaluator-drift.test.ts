/**
 * Drift over every reference-free evaluator the use case declares: `llmops monitor --baseline results.json
 * --config experiment.yaml` runs a built-in judge (through the local model server), a safety evaluator (pii) and
 * the user's own Python flow evaluator on a sample of served requests, compares each with the last evaluation's
 * per-line scores, and names the evaluators it skipped and why (a ground-truth mapping, a served figure).
 * Half of the served answers leak a phone number, which the evaluation never saw: pii drifts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';
import { runCli } from '../support/azure/cli.js';

const evaluators = `evaluators:
  - name: judge
    builtin: relevance
    options:
      connection: aoai
      deployment: gpt-4o
    datasets:
      - name: train
        mappings:
          question: \${data.question}
          answer: \${run.outputs.answer}
  - name: leak
    builtin: pii
    datasets:
      - name: train
        mappings:
          prediction: \${run.outputs.answer}
  - name: brevity
    flow: flows/brevity
    datasets:
      - name: train
        mappings:
          text: \${run.outputs.answer}
  - name: exact
    builtin: exact_match
    datasets:
      - name: train
        mappings:
          prediction: \${run.outputs.answer}
          reference: \${data.answer}
  - name: rerun
    builtin: regex
    options:
      pattern: answer
    datasets:
      - name: train
        mappings:
          prediction: \${target.answer}
  - name: speed
    builtin: latency
    datasets:
      - name: train
        mappings: {}
`;

const brevityFlow = `inputs:
  text:
    type: string
outputs:
  words:
    type: int
    reference: \${count.output}
nodes:
- name: count
  type: python
  source:
    type: code
    path: count.py
  inputs:
    text: \${inputs.text}
`;

let model: ModelServerHandle;
beforeAll(async () => {
  model = await startModelServer({
    rules: [{ match: 'Rate the relevance', scope: 'all', json: { score: 4, reason: 'addresses the question' } }],
  });
});
afterAll(() => model.close());

test('judges, safety and user evaluators drift against the baseline; reference-needing ones are skipped, saying why', async () => {
  const uc = makeUseCase({
    'experiment.yaml': baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')) + evaluators,
    'flows/brevity/flow.dag.yaml': brevityFlow,
    'flows/brevity/count.py':
      'from promptflow import tool\n\n@tool\ndef count(text: str) -> int:\n    return len(text.split())\n',
  });
  try {
    mkdirSync(path.join(uc.dir, 'logs'));
    const t0 = Date.parse('2026-12-07T10:00:00Z');
    writeFileSync(
      path.join(uc.dir, 'logs', 'requests.jsonl'),
      Array.from({ length: 60 }, (_, i) =>
        JSON.stringify({
          time: new Date(t0 + i * 1000).toISOString(),
          request_id: `r${i}`,
          status: 200,
          latency_ms: 50,
          'inputs.question': `question ${i}`,
          'outputs.answer': i % 2 ? `call me on +44 20 7946 0958 about ${i}` : `the answer to question ${i}`,
        }),
      ).join('\n') + '\n',
    );
    const metric = (evaluator: string, name: string, scoreKey: string, value: number) => ({
      evaluator,
      metric: name,
      variantId: 'default',
      kind: 'numeric',
      higherIsBetter: name !== 'pii',
      value,
      scoreKey,
    });
    writeFileSync(
      path.join(uc.dir, 'results.json'),
      JSON.stringify({
        schemaVersion: 1,
        experiment: 'demo',
        createdAt: '2026-12-01T08:00:00.000Z',
        metrics: [
          metric('judge', 'relevance', 'judge.score', 4),
          metric('leak', 'pii', 'leak.pii', 0),
          metric('brevity', 'words', 'brevity.words', 5),
        ],
        lines: Array.from({ length: 40 }, (_, i) => ({
          runId: 'r',
          variantId: 'default',
          dataset: 'train',
          lineNumber: i,
          inputs: {},
          latencyMs: 50,
          tokens: { prompt: 0, completion: 0, total: 0 },
          scores: { 'judge.score': i % 2 ? 4 : 5, 'leak.pii': 0, 'brevity.words': 4 + (i % 3) },
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
        '30',
        '--out-dir',
        'monitor',
        '--format',
        'json,markdown',
      ],
      { cwd: uc.dir, env: { AOAI_API_BASE: model.url, AOAI_API_KEY: 'local-test-key' } },
    );
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.status).toBe(0);
    const { drift } = JSON.parse(readFileSync(path.join(uc.dir, 'monitor', 'monitor.json'), 'utf8')) as {
      drift: {
        figures: { figure: string; drifted: boolean; live: { n: number; value: number } }[];
        skipped: { figure: string; reason: string }[];
      };
    };
    const figure = (prefix: string) => drift.figures.find((f) => f.figure.startsWith(prefix));
    // The safety evaluator has two score columns (the flag and the count): each is its own figure.
    const leak = figure('leak.pii (judged on 30')!;
    expect(leak.live.value).toBeGreaterThan(0.2);
    expect(leak.live.value).toBeLessThan(0.8);
    expect(leak.drifted).toBe(true);
    expect(figure('judge (judged on 30')).toBeDefined();
    const words = figure('brevity (judged on 30')!;
    expect(words.live.n).toBe(30);
    expect(words.live.value).toBeGreaterThan(4);
    const reasons = Object.fromEntries(drift.skipped.map((s) => [s.figure, s.reason]));
    expect(reasons.exact).toMatch(/needs a reference: its mappings read \$\{data\.answer\}/);
    expect(reasons.rerun).toMatch(/read \$\{target\.answer\}: it runs the flow itself/);
    expect(reasons.speed).toMatch(/latency is compared from the request log itself/);
    expect(reasons['leak.pii_findings']).toMatch(/the baseline has no per-line scores under leak\.pii_findings/);
    const markdown = readFileSync(path.join(uc.dir, 'monitor', 'monitor.md'), 'utf8');
    expect(markdown).toContain('exact');
    expect(r.stderr).not.toContain('local-test-key');
  } finally {
    uc.cleanup();
  }
}, 90_000);
