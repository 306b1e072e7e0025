/** Batch runs into the run store, against the local model server (spec §6). */
import { mkdtempSync, readFileSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Connection } from '../../src/shared/config/connections.js';
import { ConfigError } from '../../src/shared/errors.js';
import { readLineRecords, runBatch, type LineRecord } from '../../src/shared/runs/index.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';

const WC = resolve('examples/web_classification');
let store: string;
beforeEach(() => {
  store = mkdtempSync(join(tmpdir(), 'llmops-runs-'));
});

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

test('aggregation runs over succeeded lines; the failed line is recorded with its error and the run completes (§1.9, §6.6)', async () => {
  const s = await runBatch({
    flow: 'tests/runs/fixtures/agg',
    data: 'tests/runs/fixtures/agg/data.jsonl',
    storeRoot: store,
    concurrency: 2,
  });
  expect(s.status).toBe('Completed');
  expect(s.counts).toEqual({ total: 3, completed: 2, failed: 1 });
  expect(s.metrics).toEqual({ lines: 2, total: 6, texts: 'ab,abcd' });
  const recs = await records(s.dir);
  expect(recs[1]).toMatchObject({
    line_number: 1,
    status: 'Failed',
    error: { code: 'UserError', innerError: { code: 'ToolExecutionError' } },
  });
  expect(recs[1].error!.message).toBe("Execution failure in 'grade': (RuntimeError) exploded on purpose");
  expect(recs[0]).toMatchObject({
    line_number: 0,
    status: 'Completed',
    outputs: { size: 2 },
    inputs: { text: 'ab', line_number: 0 },
  });
  const err = JSON.parse(readFileSync(join(s.dir, 'error.json'), 'utf8'));
  expect(err.message).toBe(
    "Failed to run 1/3 lines. First error message is: Execution failure in 'grade': (RuntimeError) exploded on purpose",
  );
  expect(JSON.parse(readFileSync(join(s.dir, 'metrics.json'), 'utf8'))).toEqual(s.metrics);
  const run = JSON.parse(readFileSync(join(s.dir, 'run.json'), 'utf8'));
  expect(run).toMatchObject({
    id: s.runId,
    status: 'Completed',
    counts: { total: 3, completed: 2, failed: 1 },
    flow: { kind: 'dag' },
  });
});

test('an unresolvable column mapping is a ConfigError before any model call (§6.4)', async () => {
  const server = await startModelServer({});
  try {
    const run = runBatch({
      flow: `${WC}/flows/experiment`,
      data: `${WC}/data/data.jsonl`,
      columnMapping: { url: '${data.link}' },
      storeRoot: store,
      connections: [aoai(server)],
    });
    await expect(run).rejects.toBeInstanceOf(ConfigError);
    await expect(run).rejects.toThrow(/url: \$\{data.link\} cannot be resolved/);
    expect(server.stats().requests).toBe(0);
  } finally {
    await server.close();
  }
});

test('web_classification end to end with the rules file, then its evaluation over ${run.outputs.category}', async () => {
  const server = await startModelServer({ rules: `${WC}/model-rules.yaml` });
  try {
    const conns = [aoai(server)];
    const run = await runBatch({
      flow: `${WC}/flows/experiment`,
      data: `${WC}/data/data.jsonl`,
      columnMapping: { url: '${data.url}' },
      storeRoot: store,
      connections: conns,
      concurrency: 4,
    });
    expect(run.counts).toEqual({ total: 10, completed: 10, failed: 0 });
    const recs = await records(run.dir);
    expect(recs[0].outputs).toEqual({ category: 'Movie', evidence: 'Both' });
    expect(recs[0].tokens.total).toBeGreaterThan(0);
    const ev = await runBatch({
      flow: `${WC}/flows/evaluation`,
      data: `${WC}/data/data.jsonl`,
      referencedRun: run.runId,
      columnMapping: { groundtruth: '${data.answer}', prediction: '${run.outputs.category}' },
      storeRoot: store,
    });
    // Deterministic rules: most right, a few deliberately wrong.
    expect(ev.metrics.accuracy).toBeGreaterThanOrEqual(0.7);
    expect(ev.metrics.accuracy).toBeLessThan(1);
    // The two summarize variants answer differently.
    const v1 = await runBatch({
      flow: `${WC}/flows/experiment`,
      data: `${WC}/data/data_pr.jsonl`,
      variant: '${summarize_text_content.variant_1}',
      columnMapping: { url: '${data.url}' },
      storeRoot: store,
      connections: conns,
    });
    const v0 = await runBatch({
      flow: `${WC}/flows/experiment`,
      data: `${WC}/data/data_pr.jsonl`,
      columnMapping: { url: '${data.url}' },
      storeRoot: store,
      connections: conns,
    });
    expect(v1.runId).not.toBe(v0.runId);
    expect(v1.runId).toContain('variant_1');
  } finally {
    await server.close();
  }
});

test('resume after an interrupted run calls the model only for unfinished lines; a torn last record is discarded', async () => {
  const server = await startModelServer({ latencyMs: 20 });
  const data = join(store, 'data.jsonl');
  writeFileSync(data, Array.from({ length: 40 }, (_, i) => JSON.stringify({ question: `q${i}` })).join('\n') + '\n');
  const flowDir = join(store, 'flow');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(flowDir);
  writeFileSync(
    join(flowDir, 'flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${ask.output}"}\nnodes:\n- name: ask\n  type: llm\n  source: {type: code, path: ask.jinja2}\n  connection: aoai\n  api: chat\n  inputs: {deployment_name: gpt-4o, question: "${inputs.question}"}\n',
  );
  writeFileSync(join(flowDir, 'ask.jinja2'), '# user:\n{{question}}\n');
  try {
    const controller = new AbortController();
    let seen = 0;
    const progress = {
      start() {},
      finish() {},
      update() {
        if (++seen === 10) controller.abort();
      },
    };
    const first = await runBatch({
      flow: flowDir,
      data,
      storeRoot: store,
      connections: [aoai(server)],
      concurrency: 4,
      progress,
      signal: controller.signal,
      runId: 'interrupted',
    });
    expect(first.status).toBe('Canceled');
    const done = (await records(first.dir)).length;
    expect(done).toBeGreaterThanOrEqual(10);
    expect(done).toBeLessThan(40);
    // A kill in the middle of a write leaves a torn line: it must be dropped and that line run again.
    appendFileSync(join(first.dir, 'outputs.jsonl'), '{"line_number": 39, "status": "Comp');
    const before = server.stats().requests;
    const second = await runBatch({ resume: 'interrupted', storeRoot: store, connections: [aoai(server)] });
    expect(second.status).toBe('Completed');
    expect(second.counts).toEqual({ total: 40, completed: 40, failed: 0 });
    expect(second.skipped).toBe(done);
    expect(server.stats().requests - before).toBe(40 - done);
    const recs = await records(second.dir);
    expect(recs.map((r) => r.line_number)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(recs[7].outputs).toEqual({ answer: 'user: q7' });
    expect(existsSync(join(second.dir, 'error.json'))).toBe(false);
  } finally {
    await server.close();
  }
});
