/**
 * `repeat: K` in a batch run, against the local model server: every data line runs K times as lines d·K … d·K+K−1,
 * each recorded with its data line and repetition; each repetition has its own cache entries (the cache does not
 * make them one answer); a killed run resumes only the missing repetitions; a run over a repeated run scores each
 * repetition. And `repeat` in experiment.yaml that is not a whole number ≥ 1 is exit 2 at its file:line:column.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from '../../src/shared/config/connections.js';
import { readLineRecords, runBatch, type LineRecord } from '../../src/shared/runs/index.js';
import { compileRules, startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { runCli } from '../support/azure/cli.js';
import { baseEnv, experimentWith, makeUseCase } from '../helpers/use-case-dir.js';

const aoai = (server: ModelServerHandle): Connection => ({
  name: 'aoai',
  type: 'AzureOpenAIConnection',
  value: { api_key: 'k', api_base: server.url },
  secretKeys: ['api_key'],
});

async function records(dir: string): Promise<LineRecord[]> {
  const out: LineRecord[] = [];
  for await (const r of readLineRecords(join(dir, 'outputs.jsonl'))) out.push(r);
  return out.sort((a, b) => a.line_number - b.line_number);
}

function cacheEntries(root: string): number {
  let n = 0;
  for (const sub of readdirSync(root)) n += readdirSync(join(root, sub)).filter((f) => f.endsWith('.json')).length;
  return n;
}

test('repeat 3: each line runs 3 times with its own cache entries, and a killed run resumes the missing ones', async () => {
  const store = mkdtempSync(join(tmpdir(), 'llmops-repeat-'));
  const server = await startModelServer({});
  const data = join(store, 'data.jsonl');
  writeFileSync(data, Array.from({ length: 8 }, (_, i) => JSON.stringify({ question: `q${i}` })).join('\n') + '\n');
  const flowDir = join(store, 'flow');
  mkdirSync(flowDir);
  writeFileSync(
    join(flowDir, 'flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${ask.output}"}\nnodes:\n- name: ask\n  type: llm\n  source: {type: code, path: ask.jinja2}\n  connection: aoai\n  api: chat\n  inputs: {deployment_name: gpt-4o, question: "${inputs.question}"}\n',
  );
  writeFileSync(join(flowDir, 'ask.jinja2'), '# user:\n{{question}}\n');
  try {
    const controller = new AbortController();
    let done = 0;
    const progress = {
      start() {},
      finish() {},
      update() {
        if (++done === 7) controller.abort();
      },
    };
    const common = { storeRoot: store, connections: [aoai(server)], cacheMode: 'readwrite' as const };
    const first = await runBatch({
      ...common,
      flow: flowDir,
      data,
      repeat: 3,
      concurrency: 2,
      progress,
      signal: controller.signal,
      runId: 'repeated',
    });
    expect(first.status).toBe('Canceled');
    const kept = (await records(first.dir)).length;
    expect(kept).toBeGreaterThanOrEqual(7);
    expect(kept).toBeLessThan(24);

    const second = await runBatch({ ...common, resume: 'repeated' });
    expect(second.status).toBe('Completed');
    expect(second.counts).toEqual({ total: 24, completed: 24, failed: 0 });
    expect(second.skipped).toBe(kept);
    const recs = await records(second.dir);
    expect(recs.map((r) => r.line_number)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    for (const r of recs) {
      expect(r.source_line).toBe(Math.floor(r.line_number / 3));
      expect(r.repetition).toBe(r.line_number % 3);
      expect(r.outputs).toEqual({ answer: `user: q${r.source_line}` });
    }
    // One cache entry per repetition: 8 lines × 3, not 8 (the same request of each repetition is its own entry).
    expect(cacheEntries(join(store, 'cache'))).toBe(24);

    // The same run again: every repetition is found in the cache, no model call.
    const before = server.stats().requests;
    const again = await runBatch({ ...common, flow: flowDir, data, repeat: 3, runId: 'repeated-again' });
    expect(again.counts).toEqual({ total: 24, completed: 24, failed: 0 });
    expect(server.stats().requests).toBe(before);

    // A run over the repeated run (an evaluation) scores every repetition, each with its own line's output.
    const evalDir = join(store, 'eval');
    mkdirSync(evalDir);
    writeFileSync(
      join(evalDir, 'flow.dag.yaml'),
      'inputs:\n  answer: {type: string}\n  question: {type: string}\noutputs:\n  ok: {type: string, reference: "${check.output}"}\nnodes:\n- name: check\n  type: python\n  source: {type: code, path: check.py}\n  inputs: {answer: "${inputs.answer}", question: "${inputs.question}"}\n',
    );
    writeFileSync(
      join(evalDir, 'check.py'),
      'from promptflow import tool\n\n@tool\ndef check(answer: str, question: str) -> str:\n    return "1" if answer.endswith(question) else "0"\n',
    );
    const scored = await runBatch({
      ...common,
      flow: evalDir,
      data,
      referencedRun: 'repeated',
      columnMapping: { answer: '${run.outputs.answer}', question: '${data.question}' },
      runId: 'scored',
    });
    expect(scored.counts).toEqual({ total: 24, completed: 24, failed: 0 });
    const scores = await records(scored.dir);
    expect(scores.map((r) => [r.line_number, r.source_line, r.repetition, r.outputs?.ok])).toEqual(
      Array.from({ length: 24 }, (_, i) => [i, Math.floor(i / 3), i % 3, '1']),
    );
  } finally {
    await server.close();
  }
}, 60_000);

test.each([
  ['0', 'datasets[0].repeat'],
  ['2.5', 'datasets[0].repeat'],
  ['three', 'datasets[0].repeat'],
])('repeat: %s is a schema error at its file:line:column, exit 2', async (value, where) => {
  const uc = makeUseCase({
    'experiment.yaml': experimentWith(
      '    source: data/train.jsonl\n',
      `    source: data/train.jsonl\n    repeat: ${value}\n`,
    ),
  });
  try {
    const r = await runCli(['validate', '--config', 'experiment.yaml'], { cwd: uc.dir, env: baseEnv });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`experiment\\.yaml:11:13: error: ${where.replace(/[[\]]/g, '\\$&')}: found`));
  } finally {
    uc.cleanup();
  }
});

test('repeat at the top of experiment.yaml is checked the same way', async () => {
  const uc = makeUseCase({
    'experiment.yaml': experimentWith('datasets:\n', 'repeat: 0\ndatasets:\n'),
  });
  try {
    const r = await runCli(['validate', '--config', 'experiment.yaml'], { cwd: uc.dir, env: baseEnv });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /experiment\.yaml:8:9: error: repeat: found the number 0, expected a whole number of 1 or more/,
    );
  } finally {
    uc.cleanup();
  }
});

test('a model-server rule whose answers are not a list of texts is refused when loaded', () => {
  expect(() => compileRules([{ match: 'x', answers: 'b' }])).toThrow(/answers: expected a list of one or more texts/);
  expect(() => compileRules([{ match: 'x', answers: [] }])).toThrow(/expected a list of one or more texts/);
  expect(compileRules([{ match: '(x)', answers: ['{{1}}', 'y'] }])).toHaveLength(1);
  expect(() => compileRules([{ match: 'x', answers: ['{{2}}'] }])).toThrow(/placeholder \{\{2\}\}/);
});

test("a Python tool's model calls are cached per repetition too (its callbacks carry the line's repetition)", async () => {
  const store = mkdtempSync(join(tmpdir(), 'llmops-repeat-py-'));
  const server = await startModelServer({ rules: [{ match: '^q', answers: ['first', 'second', 'third'] }] });
  const data = join(store, 'data.jsonl');
  writeFileSync(data, '{"question": "q0"}\n{"question": "q1"}\n');
  const flowDir = join(store, 'flow');
  mkdirSync(flowDir);
  writeFileSync(
    join(flowDir, 'flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${ask.output}"}\nnodes:\n- name: ask\n  type: python\n  source: {type: code, path: ask.py}\n  inputs: {connection: aoai, question: "${inputs.question}"}\n',
  );
  writeFileSync(
    join(flowDir, 'ask.py'),
    [
      'from promptflow import tool',
      'from promptflow.connections import AzureOpenAIConnection',
      'from promptflow.tools.aoai import chat',
      '',
      '@tool',
      'def ask(connection: AzureOpenAIConnection, question: str) -> str:',
      '    return chat(connection, prompt="# user:\\n" + question, deployment_name="gpt-4o")',
      '',
    ].join('\n'),
  );
  try {
    const s = await runBatch({
      flow: flowDir,
      data,
      repeat: 3,
      concurrency: 1,
      storeRoot: store,
      connections: [aoai(server)],
      cacheMode: 'readwrite',
    });
    expect(s.counts).toEqual({ total: 6, completed: 6, failed: 0 });
    const recs = await records(s.dir);
    // Without a key per repetition, repetitions 1 and 2 would be cache hits of repetition 0: "first" three times.
    expect(recs.map((r) => r.outputs?.answer)).toEqual(['first', 'second', 'third', 'first', 'second', 'third']);
    expect(cacheEntries(join(store, 'cache'))).toBe(6);
  } finally {
    await server.close();
  }
}, 60_000);
