/**
 * Built-in scorers run through the batch runner: recorded like flow runs (run.json, outputs.jsonl in the same
 * shape, metrics.json written once by the runner), resumable after a kill, a throwing scorer's lines failed.
 */
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Evaluator } from '../../src/shared/config/types.js';
import { LlmService } from '../../src/shared/engine/index.js';
import { runBuiltinEvaluator } from '../../src/shared/eval/builtin/run-builtin.js';
import { RunStore, type LineRecord, type RunRecord } from '../../src/shared/runs/index.js';

const N = 200;
let root: string;
let data: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'llmops-builtin-'));
  data = join(root, 'data.jsonl');
  // Every third answer is wrong; line 7 of the standard run failed (nothing to score).
  writeFileSync(
    data,
    Array.from({ length: N }, (_, i) => JSON.stringify({ question: `q${i}`, answer: `a${i}` })).join('\n') + '\n',
  );
  const store = new RunStore(root);
  const w = store.begin(standardRecord());
  for (let i = N - 1; i >= 0; i--) {
    const rec: LineRecord = {
      line_number: i,
      status: i === 7 ? 'Failed' : 'Completed',
      inputs: { question: `q${i}`, line_number: i },
      latency_ms: i,
      tokens: { prompt: 1, completion: 1, total: 2 },
    };
    if (i !== 7) rec.outputs = { answer: i % 3 === 0 ? 'wrong' : `a${i}` };
    w.append(rec);
  }
  return w.close();
});

function standardRecord(): RunRecord {
  return {
    version: 1,
    id: 'std',
    status: 'Completed',
    flow: { path: '/f/flow.dag.yaml', kind: 'dag', name: 'f' },
    variant: { id: 'default', selection: {} },
    data: [data],
    column_mapping: {},
    concurrency: 4,
    counts: { total: N, completed: N - 1, failed: 1 },
    timings: { created_at: '2026-01-01T00:00:00.000Z' },
    tokens: { prompt: 0, completion: 0, total: 0 },
    llm_calls: 0,
  };
}

const evaluator = (builtin: string, options: Record<string, unknown> = {}): Evaluator => ({
  name: builtin,
  builtin,
  options,
  datasets: [],
});

const run = (builtin: string, options: Record<string, unknown> = {}, resume = false) =>
  runBuiltinEvaluator({
    evaluator: evaluator(builtin, options),
    dataset: {
      name: 'd',
      source: 'data.jsonl',
      localPath: data,
      reference: 'd',
      mappings: { prediction: '${run.outputs.answer}', reference: '${data.answer}' },
    },
    standardRunId: 'std',
    runId: `std.${builtin}`,
    storeRoot: root,
    concurrency: 4,
    connections: [],
    llm: new LlmService(),
    resume,
  });

async function records(store: RunStore, id: string): Promise<LineRecord[]> {
  const out: LineRecord[] = [];
  for await (const r of store.linesInOrder(id)) out.push(r);
  return out;
}

test('a built-in scorer run is recorded like a flow run: run.json, a record per aligned line, metrics.json', async () => {
  const s = await run('exact_match');
  const store = new RunStore(root);
  expect(s.status).toBe('Completed');
  expect(s.counts).toEqual({ total: N - 1, completed: N - 1, failed: 0 });
  const scored = Array.from({ length: N }, (_, i) => i).filter((i) => i !== 7);
  const expected = scored.filter((i) => i % 3 !== 0).length / scored.length;
  expect(s.metrics.exact_match).toBeCloseTo(expected, 12);
  expect(store.metrics(s.runId)).toEqual(s.metrics);
  const run1 = store.record(s.runId);
  expect(run1).toMatchObject({
    status: 'Completed',
    flow: { path: 'builtin:exact_match', kind: 'dag', name: 'exact_match' },
    referenced_run: 'std',
    counts: { total: N - 1, completed: N - 1, failed: 0 },
    concurrency: 4,
  });
  const recs = await records(store, s.runId);
  expect(recs.map((r) => r.line_number)).toEqual(scored);
  expect(recs[0]).toMatchObject({
    status: 'Completed',
    inputs: { prediction: 'wrong', reference: 'a0', line_number: 0 },
    outputs: { exact_match: 0 },
  });
  expect(recs[1].outputs).toEqual({ exact_match: 1 });
});

test('a killed built-in run resumes: only lines without a record run, the metric covers every line', async () => {
  const full = await run('exact_match');
  const store = new RunStore(root);
  const file = join(store.dir(full.runId), 'outputs.jsonl');
  // As after a kill: half the records, a torn last line, run.json still Running.
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  writeFileSync(file, lines.slice(0, 90).join('\n') + '\n');
  appendFileSync(file, lines[90].slice(0, 20));
  const w = store.open(full.runId);
  w.record.status = 'Running';
  w.saveRun();
  const resumed = await run('exact_match', {}, true);
  expect(resumed.skipped).toBe(90);
  expect(resumed.counts).toEqual(full.counts);
  expect(resumed.metrics).toEqual(full.metrics);
  expect(store.record(full.runId).resumed).toBe(1);
  const recs = await records(store, full.runId);
  expect(recs).toHaveLength(N - 1);
  expect(new Set(recs.map((r) => r.line_number)).size).toBe(N - 1);
});

test('a scorer that throws fails its lines with the error recorded (error.json), and the run still completes', async () => {
  const s = await run('regex', { pattern: '(unclosed' });
  const store = new RunStore(root);
  expect(s.counts).toEqual({ total: N - 1, completed: 0, failed: N - 1 });
  expect(s.metrics).toEqual({});
  const recs = await records(store, s.runId);
  expect(recs[0]).toMatchObject({
    status: 'Failed',
    error: { code: 'UserError', innerError: { code: 'BuiltinEvaluatorError' } },
  });
  expect(recs[0].error!.message).toMatch(/Invalid regular expression/);
  const err = JSON.parse(readFileSync(join(store.dir(s.runId), 'error.json'), 'utf8')) as { message: string };
  expect(err.message).toMatch(/^Failed to run 199\/199 lines/);
});

test('latency reads the standard line of each scored line', async () => {
  const s = await run('latency');
  const scored = Array.from({ length: N }, (_, i) => i).filter((i) => i !== 7);
  expect(s.metrics.latency_ms).toBeCloseTo(scored.reduce((a, b) => a + b, 0) / scored.length, 9);
});

test("${run.inputs.x} reads the referenced run's data rows, from the same file or another one", async () => {
  const evaluate = (file: string, id: string) =>
    runBuiltinEvaluator({
      evaluator: evaluator('exact_match'),
      dataset: {
        name: 'd',
        source: file,
        localPath: file,
        reference: 'd',
        mappings: { prediction: '${run.outputs.answer}', reference: '${run.inputs.answer}' },
      },
      standardRunId: 'std',
      runId: id,
      storeRoot: root,
      concurrency: 4,
      connections: [],
      llm: new LlmService(),
    });
  const same = await evaluate(data, 'same');
  // Another file with the same line count: run.inputs still come from the standard run's own data.
  const other = join(root, 'other.jsonl');
  writeFileSync(other, Array.from({ length: N }, (_, i) => JSON.stringify({ x: i })).join('\n') + '\n');
  const differ = await evaluate(other, 'differ');
  const scored = Array.from({ length: N }, (_, i) => i).filter((i) => i !== 7);
  const expected = scored.filter((i) => i % 3 !== 0).length / scored.length;
  expect(same.metrics.exact_match).toBeCloseTo(expected, 12);
  expect(differ.metrics.exact_match).toBeCloseTo(expected, 12);
});
