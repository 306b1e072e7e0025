/**
 * Resume at the plan level: a bulk-run of several runs (sharing one line pool) is killed with SIGKILL at random
 * points, resumed with --resume, killed again... and finally let finish. What the store then holds: every line of
 * every planned run recorded exactly once, under the run ids of the first plan. What the model saw: each line at
 * least once; a line is asked again only when a kill caught it in flight or before its record reached the file
 * (records are written in batches of up to 50 ms), so the extra requests are bounded per kill.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const concurrency = 3;
const latencyMs = 40;
const linesPer = { train: 20, more: 15 };

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({
    latencyMs,
    rules: [{ match: 'Rate the relevance', scope: 'all', json: { score: 4, reason: 'addresses the question' } }],
  });
});
afterAll(() => server.close());

/**
 * What a kill can cost: the lines in flight (≤ C) and those answered whose records still waited in the 50 ms write
 * batch — on a busy machine its timer fires late, so up to 200 ms of answers (C lines per latency) are counted.
 */
const askedAgainBound = (kills: number) => kills * concurrency * (1 + Math.ceil(200 / latencyMs));

const dataOf = (n: number, p: string) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ question: `${p}${i}`, answer: `a${i}` })).join('\n') + '\n';

test('killed at random points and resumed each time: no line lost, none recorded twice, the same run ids', async () => {
  const uc = useCase();
  const env = { ...process.env, AOAI_API_BASE: server.url, AOAI_API_KEY: 'local-test-key' };
  const store = path.join(uc.dir, '.llmops');
  const args = (resume: boolean) => [
    'dist/cli.js',
    'bulk-run',
    '--config',
    path.join(uc.dir, 'experiment.yaml'),
    '--store',
    store,
    '--concurrency',
    String(concurrency),
    '--cache-mode',
    'off',
    ...(resume ? ['--resume'] : []),
  ];
  const planFile = path.join(store, 'experiments/demo/plan.json');
  try {
    let kills = 0;
    let firstPlan: string | undefined;
    const delays: number[] = [];
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, args(existsSync(planFile)), { env, stdio: 'ignore' });
      const outcome = await killAtRandom(child, delays);
      if (outcome !== 'kill') break; // finished before the kill
      kills++;
      if (existsSync(planFile)) firstPlan ??= readFileSync(planFile, 'utf8');
    }
    expect(kills).toBeGreaterThanOrEqual(1);
    const final = await runCli(args(existsSync(planFile)), env);
    expect({ delays, status: final.status, stderr: final.stderr }).toEqual(expect.objectContaining({ status: 0 }));
    const plan = JSON.parse(readFileSync(planFile, 'utf8'));
    if (firstPlan) expect(plan).toEqual(JSON.parse(firstPlan)); // resume never re-plans
    expect(plan.runs).toHaveLength(4);
    const runsFile = JSON.parse(readFileSync(path.join(store, 'experiments/demo/runs.json'), 'utf8'));
    expect(runsFile.runs.map((r: { runId: string }) => r.runId)).toEqual(
      plan.runs.map((r: { runId: string }) => r.runId),
    );
    let total = 0;
    for (const run of plan.runs as Array<{ runId: string; lines: number }>) {
      const lineNumbers = readFileSync(path.join(store, 'runs', run.runId, 'outputs.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l).line_number as number)
        .sort((a, b) => a - b);
      expect(lineNumbers).toEqual(Array.from({ length: run.lines }, (_, i) => i));
      const record = JSON.parse(readFileSync(path.join(store, 'runs', run.runId, 'run.json'), 'utf8'));
      expect(record).toEqual(
        expect.objectContaining({ status: 'Completed', counts: { total: run.lines, completed: run.lines, failed: 0 } }),
      );
      total += run.lines;
    }
    const requests = server.stats().requests;
    expect(requests).toBeGreaterThanOrEqual(total);
    process.stderr.write(
      `plan-resume: kills ${delays.join(', ')} ms after the first request; ${requests - total} line(s) asked again\n`,
    );
    expect(requests - total).toBeLessThanOrEqual(askedAgainBound(kills));
  } finally {
    uc.cleanup();
  }
}, 120_000);

/** One node with two variants, two datasets (four runs), and a relevance judge on every run. */
function useCase() {
  // One node with two variants, two datasets: four runs in the plan.
  const variant = (maxTokens: number) =>
    `        node: { type: llm, source: { type: code, path: ask.jinja2 }, inputs: { deployment_name: gpt-4o, max_tokens: ${maxTokens}, question: "\${inputs.question}" }, connection: aoai, api: chat }\n`;
  const flow = {
    'flows/std/flow.dag.yaml':
      'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${ask.output}\n' +
      'nodes:\n- name: ask\n  use_variants: true\nnode_variants:\n  ask:\n    default_variant_id: v0\n    variants:\n' +
      `      v0:\n${variant(5)}      v1:\n${variant(9)}`,
    'flows/std/ask.jinja2': '# user:\n{{question}}\n',
  };
  return makeUseCase({
    ...flow,
    'data/train.jsonl': dataOf(linesPer.train, 't'),
    'data/more.jsonl': dataOf(linesPer.more, 'm'),
    'experiment.yaml':
      baseExperiment.slice(0, baseExperiment.indexOf('datasets:')) +
      'evaluators:\n  - name: judge\n    builtin: relevance\n    options: { connection: aoai, deployment: gpt-4o }\n    datasets:\n      - name: train\n        mappings:\n          question: ${data.question}\n          answer: ${run.outputs.answer}\n      - name: more\n        mappings:\n          question: ${data.question}\n          answer: ${run.outputs.answer}\n' +
      'datasets:\n  - name: train\n    source: data/train.jsonl\n    mappings:\n      question: ${data.question}\n  - name: more\n    source: data/more.jsonl\n    mappings:\n      question: ${data.question}\n',
  });
}

/**
 * Once the model saw this session's first request, waits a random 0–400 ms (the lines run meanwhile) and kills the
 * CLI with SIGKILL; 'exit' when it finished first. The delays after the first request are noted in `delays`.
 */
async function killAtRandom(child: ChildProcess, delays: number[]): Promise<'kill' | 'exit'> {
  const exited = new Promise<'exit'>((resolve) => child.on('exit', () => resolve('exit')));
  const seen = server.stats().requests;
  const started = (async () => {
    while (server.stats().requests === seen) await new Promise((r) => setTimeout(r, 5));
  })();
  if ((await Promise.race([exited, started])) === 'exit') return 'exit';
  const delay = Math.round(Math.random() * 400);
  delays.push(delay);
  if ((await Promise.race([exited, new Promise((r) => setTimeout(() => r('kill'), delay))])) === 'exit') return 'exit';
  child.kill('SIGKILL');
  await exited;
  return 'kill';
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (status) => resolve({ status, stderr }));
  });
}

test('evaluate killed at random points and resumed: every evaluation line recorded once, finished runs kept', async () => {
  const uc = useCase();
  const env = { ...process.env, AOAI_API_BASE: server.url, AOAI_API_KEY: 'local-test-key' };
  const store = path.join(uc.dir, '.llmops');
  const step = (name: string, resume = false) => [
    'dist/cli.js',
    name,
    '--config',
    path.join(uc.dir, 'experiment.yaml'),
    '--store',
    store,
    '--concurrency',
    String(concurrency),
    '--cache-mode',
    'off',
    ...(resume ? ['--resume'] : []),
  ];
  try {
    expect((await runCli(step('bulk-run'), env)).status).toBe(0);
    const start = server.stats().requests;
    let kills = 0;
    const delays: number[] = [];
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, step('evaluate', round > 0), { env, stdio: 'ignore' });
      const outcome = await killAtRandom(child, delays);
      if (outcome !== 'kill') break;
      kills++;
    }
    const final = await runCli(step('evaluate', kills > 0), env);
    expect({ delays, status: final.status, stderr: final.stderr }).toEqual(expect.objectContaining({ status: 0 }));
    const evaluations = JSON.parse(readFileSync(path.join(store, 'experiments/demo/evaluations.json'), 'utf8'))
      .evaluations as Array<{ runId: string; lines: number; failed: number; metrics: Record<string, number> }>;
    expect(evaluations).toHaveLength(4);
    let total = 0;
    for (const e of evaluations) {
      const lineNumbers = readFileSync(path.join(store, 'runs', e.runId, 'outputs.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l).line_number as number)
        .sort((a, b) => a - b);
      expect(lineNumbers).toEqual(Array.from({ length: e.lines }, (_, i) => i));
      expect(e).toEqual(expect.objectContaining({ failed: 0, metrics: { relevance: 4 } }));
      total += e.lines;
    }
    expect(total).toBe(2 * (linesPer.train + linesPer.more));
    const requests = server.stats().requests - start;
    process.stderr.write(
      `plan-resume (evaluate): kills ${delays.join(', ')} ms after the first request; ${requests - total} line(s) asked again\n`,
    );
    expect(requests).toBeGreaterThanOrEqual(total);
    expect(requests - total).toBeLessThanOrEqual(askedAgainBound(kills));
  } finally {
    uc.cleanup();
  }
}, 120_000);
