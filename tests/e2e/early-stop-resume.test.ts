/**
 * An early-stop bulk-run killed part-way (SIGKILL of the CLI process) and resumed keeps its seeded line order:
 * the lines recorded in the end are exactly the first ones of the seed's order, no recorded line reaches the
 * model again, and the resumed run stops once the gate is decided, leaving the rest unrun.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { bySeededOrder } from '../../src/shared/runs/line-order.js';
import type { RunRecord } from '../../src/shared/runs/store.js';
import { bulkRunArgs, firstRunDir, recordedLineNumbers, runAndKill, runCli } from '../helpers/killed-run.js';
import { baseExperiment, llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';

const lines = 200;
const seed = 7;

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({ latencyMs: 60, rules: [{ match: '^(\\w+)$', answer: '{{1}}' }] });
});
afterAll(() => server.close());

test('killed, then resumed: the same order continues, no line runs twice, the run stops when decided', async () => {
  const data =
    Array.from({ length: lines }, (_, i) => JSON.stringify({ question: `q${i}`, answer: `q${i}` })).join('\n') + '\n';
  const experiment =
    baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')) +
    `execution:\n  early_stop_seed: ${seed}\n` +
    'evaluators:\n  - name: exact\n    builtin: exact_match\n    datasets:\n      - name: train\n        mappings:\n          prediction: ${run.outputs.answer}\n          reference: ${data.answer}\n' +
    'gates:\n  - {metric: exact_match, evaluator: exact, min: 0.8, early_stop: true}\n';
  const uc = makeUseCase({ 'data/train.jsonl': data, ...llmNodeFlow(), 'experiment.yaml': experiment });
  const env = { ...process.env, AOAI_API_BASE: server.url, AOAI_API_KEY: 'local-test-key' };
  const args = bulkRunArgs(uc.dir);
  try {
    const start = server.stats().requests;
    await runAndKill(args, env, () => server.stats().requests - start >= 8);

    const runDir = firstRunDir(uc.dir);
    const recorded = () => recordedLineNumbers(path.join(runDir, 'outputs.jsonl'));
    const before = recorded();
    const killed = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    expect(killed.status).toBe('Running');
    expect(killed.order).toEqual({ seed });
    expect(before.length).toBeLessThan(20);

    const beforeResume = server.stats().requests;
    const resumed = await runCli([...args, '--resume'], env);
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toContain('(resumed)');
    expect(resumed.stderr).toMatch(/early stop after \d+ of 200 lines/);

    const after = recorded();
    const run = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    expect(run).toMatchObject({ status: 'Completed', order: { seed }, resumed: 1 });
    expect(run.early_stop).toMatchObject({ stopped: true, total: lines, lines: after.length });
    expect(run.early_stop!.gates[0].decision).toBe('pass');
    // Every line once; only the lines not recorded before the kill reached the model again.
    expect(new Set(after).size).toBe(after.length);
    expect(server.stats().requests - beforeResume).toBe(after.length - before.length);
    // The recorded lines are the first ones of the seed's order, before and after the kill alike.
    const order = Array.from({ length: lines }, (_, i) => i).sort(bySeededOrder(seed));
    expect([...after].sort((a, b) => order.indexOf(a) - order.indexOf(b))).toEqual(order.slice(0, after.length));
    expect(after.length).toBeLessThan(lines / 2);
    // Resuming the stopped run again runs nothing: it is complete as it stopped.
    const settled = server.stats().requests;
    const again = await runCli([...args, '--resume'], env);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('finished earlier, kept');
    expect(server.stats().requests).toBe(settled);
    expect(recorded()).toEqual(after);
    // The order is not the file's order.
    expect(order.slice(0, after.length)).not.toEqual(Array.from({ length: after.length }, (_, i) => i));
  } finally {
    uc.cleanup();
  }
}, 60_000);
