/**
 * Resume at the plan level: a bulk-run of several runs (sharing one line pool) is killed with SIGKILL at random
 * points, resumed with --resume, killed again... and finally let finish. What the store then holds: every line of
 * every planned run recorded exactly once, under the run ids of the first plan. What the model saw: each line at
 * least once; a line is asked again only when a kill caught it in flight or before its record reached the file
 * (records are written in batches of up to 50 ms), so the extra requests are bounded per kill.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const concurrency = 3;
const latencyMs = 40;
const linesPer = { train: 20, more: 15 };

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({ latencyMs });
});
afterAll(() => server.close());

const dataOf = (n: number, p: string) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ question: `${p}${i}`, answer: `a${i}` })).join('\n') + '\n';

test('killed at random points and resumed each time: no line lost, none recorded twice, the same run ids', async () => {
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
  const uc = makeUseCase({
    ...flow,
    'data/train.jsonl': dataOf(linesPer.train, 't'),
    'data/more.jsonl': dataOf(linesPer.more, 'm'),
    'experiment.yaml':
      baseExperiment.slice(0, baseExperiment.indexOf('datasets:')) +
      'datasets:\n  - name: train\n    source: data/train.jsonl\n    mappings:\n      question: ${data.question}\n  - name: more\n    source: data/more.jsonl\n    mappings:\n      question: ${data.question}\n',
  });
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
      const delay = Math.round(150 + Math.random() * 700);
      delays.push(delay);
      const child = spawn(process.execPath, args(existsSync(planFile)), { env, stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const outcome = await Promise.race([exited, new Promise((r) => setTimeout(() => r('kill'), delay))]);
      if (outcome !== 'kill') break; // finished before the kill
      child.kill('SIGKILL');
      await exited;
      kills++;
      if (existsSync(planFile)) firstPlan ??= readFileSync(planFile, 'utf8');
    }
    expect(kills).toBeGreaterThanOrEqual(1);
    const final = await runCli(args(existsSync(planFile)), env);
    expect({ delays, status: final.status, stderr: final.stderr }).toEqual(
      expect.objectContaining({ status: 0 }),
    );
    const plan = JSON.parse(readFileSync(planFile, 'utf8'));
    if (firstPlan) expect(plan).toEqual(JSON.parse(firstPlan)); // resume never re-plans
    expect(plan.runs).toHaveLength(4);
    const runsFile = JSON.parse(readFileSync(path.join(store, 'experiments/demo/runs.json'), 'utf8'));
    expect(runsFile.runs.map((r: { runId: string }) => r.runId)).toEqual(plan.runs.map((r: { runId: string }) => r.runId));
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
    // Per kill: the lines in flight (≤ C) plus those answered in the last 50 ms whose records were not written yet.
    process.stderr.write(`plan-resume: kills after ${delays.join(', ')} ms; ${requests - total} line(s) asked again\n`);
    expect(requests - total).toBeLessThanOrEqual(kills * concurrency * (1 + Math.ceil(50 / latencyMs) + 1));
  } finally {
    uc.cleanup();
  }
}, 120_000);

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (status) => resolve({ status, stderr }));
  });
}
