/** The run store API: records, resume after a torn line, records in line order from an offset index. */
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore, type LineRecord, type RunRecord } from '../../src/shared/runs/index.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'llmops-store-'));
});

const runRecord = (id: string): RunRecord => ({
  version: 1,
  id,
  status: 'Running',
  flow: { path: '/f/flow.dag.yaml', kind: 'dag', name: 'f' },
  variant: { id: 'default', selection: {} },
  data: ['/f/data.jsonl'],
  column_mapping: {},
  concurrency: 4,
  counts: { total: 0, completed: 0, failed: 0 },
  timings: { created_at: '2026-01-01T00:00:00.000Z' },
  tokens: { prompt: 0, completion: 0, total: 0 },
  llm_calls: 0,
});

const line = (n: number, extra: Record<string, unknown> = {}): LineRecord => ({
  line_number: n,
  status: 'Completed',
  inputs: { q: `question ${n}`, line_number: n },
  outputs: { answer: `answer ${n}`, ...extra },
  latency_ms: 1,
  tokens: { prompt: 1, completion: 1, total: 2 },
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A deterministic shuffle (a run's finishing order). */
function shuffled(n: number, seed = 7): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

test('begin saves run.json; appended records, metrics and error are read back through the store', async () => {
  const store = new RunStore(root);
  expect(store.has('r1')).toBe(false);
  const w = store.begin(runRecord('r1'));
  expect(store.has('r1')).toBe(true);
  expect(store.record('r1').status).toBe('Running');
  for (const n of [2, 0, 1]) w.append(line(n));
  await w.close();
  w.writeMetrics({ accuracy: 0.5, odd: Number.NaN });
  w.writeError({ message: 'boom' });
  w.record.status = 'Completed';
  w.saveRun();
  expect(store.record('r1').status).toBe('Completed');
  expect((await collect(store.lines('r1'))).map((r) => r.line_number)).toEqual([2, 0, 1]);
  expect((await collect(store.linesInOrder('r1'))).map((r) => r.line_number)).toEqual([0, 1, 2]);
  expect(store.metrics('r1')).toEqual({ accuracy: 0.5, odd: Number.NaN });
  // Prompt Flow's formats: metrics.json keeps NaN as Python writes it.
  expect(readFileSync(join(store.dir('r1'), 'metrics.json'), 'utf8')).toContain('NaN');
  expect(() => store.record('nope')).toThrow(/run "nope" not found/);
});

test('open drops a torn last line; appends after it start on a clean line (resume after a kill)', async () => {
  const store = new RunStore(root);
  const w = store.begin(runRecord('r2'));
  w.append(line(0));
  w.append(line(1));
  await w.close();
  appendFileSync(join(store.dir('r2'), 'outputs.jsonl'), '{"line_number":2,"status":"Compl');
  const resumed = store.open('r2');
  resumed.append(line(2));
  resumed.append(line(3));
  await resumed.close();
  const text = readFileSync(join(store.dir('r2'), 'outputs.jsonl'), 'utf8');
  expect(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).line_number),
  ).toEqual([0, 1, 2, 3]);
  expect((await collect(store.linesInOrder('r2'))).map((r) => r.line_number)).toEqual([0, 1, 2, 3]);
});

test('begin replaces an earlier run of the same id instead of appending to it', async () => {
  const store = new RunStore(root);
  const w = store.begin(runRecord('r3'));
  w.append(line(0));
  await w.close();
  const again = store.begin(runRecord('r3'));
  again.append(line(5));
  await again.close();
  expect((await collect(store.lines('r3'))).map((r) => r.line_number)).toEqual([5]);
});

test('linesInOrder returns shuffled records in line order, each once, records larger than the read window included', async () => {
  const store = new RunStore(root);
  const w = store.begin(runRecord('big'));
  const order = shuffled(5000);
  for (const n of order) {
    // Every 997th record is larger than the 256 kB read window.
    // Line 0 is larger than the 1 MB indexing buffer.
    const blob = n === 0 ? 'y'.repeat(1_500_000) : 'x'.repeat(300_000);
    const rec = line(n, n % 997 === 0 ? { blob } : { v: Number.NaN });
    if (!w.append(rec)) await w.drain();
  }
  // A line recorded twice (an earlier session's record wins) and an unreadable line.
  w.append(line(42, { second: true }));
  await w.close();
  appendFileSync(join(store.dir('big'), 'outputs.jsonl'), 'not json\n');
  const recs = await collect(store.linesInOrder('big'));
  expect(recs.map((r) => r.line_number)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  expect(recs[42].outputs).not.toHaveProperty('second');
  expect(recs[997].outputs!.blob).toHaveLength(300_000);
  expect(recs[0].outputs!.blob).toHaveLength(1_500_000);
  expect(Number.isNaN(recs[1].outputs!.v)).toBe(true);
  const index = await store.index('big');
  expect(index.size).toBe(5000);
  const reader = index.reader();
  expect(reader.get(4321)!.outputs!.answer).toBe('answer 4321');
  expect(reader.get(5000)).toBeUndefined();
  reader.close();
});

test('linesInOrder reads records written by another writer (keys in any order, line numbers not integers)', async () => {
  const store = new RunStore(root);
  store.begin(runRecord('foreign'));
  const recs = [
    { status: 'Completed', line_number: 3, inputs: {}, latency_ms: 0, tokens: { prompt: 0, completion: 0, total: 0 } },
    {
      line_number: 1.5,
      status: 'Completed',
      inputs: {},
      latency_ms: 0,
      tokens: { prompt: 0, completion: 0, total: 0 },
    },
    { line_number: 0, status: 'Failed', inputs: {}, latency_ms: 0, tokens: { prompt: 0, completion: 0, total: 0 } },
  ];
  writeFileSync(join(store.dir('foreign'), 'outputs.jsonl'), recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  expect((await collect(store.linesInOrder('foreign'))).map((r) => r.line_number)).toEqual([0, 1.5, 3]);
});

test('the experiments hand-off files, cache and virtual environments live in the store', () => {
  const store = new RunStore(root);
  expect(store.runsFile({ name: 'web', envName: 'dev' })).toBe(join(root, 'experiments', 'web.dev', 'runs.json'));
  expect(store.evaluationsFile({ name: 'web' })).toBe(join(root, 'experiments', 'web', 'evaluations.json'));
  expect(store.cacheDir).toBe(join(root, 'cache'));
  expect(store.venvsDir).toBe(join(root, 'venvs'));
});

test('the index looks lines up when line numbers have gaps or start elsewhere', async () => {
  const store = new RunStore(root);
  const w = store.begin(runRecord('gaps'));
  const numbers = [...Array.from({ length: 100 }, (_, i) => i).filter((i) => i !== 50), 5000];
  for (const n of [...numbers].reverse()) w.append(line(n));
  await w.close();
  const index = await store.index('gaps');
  expect(index.size).toBe(100);
  expect([...index.numbers()]).toEqual(numbers);
  expect(index.completedCount(60)).toBe(59);
  const reader = index.reader();
  expect(reader.get(50)).toBeUndefined();
  expect(reader.get(51)!.line_number).toBe(51);
  expect(reader.get(5000)!.line_number).toBe(5000);
  reader.close();
});

test('the index sorts scattered line numbers instead of holding a block per line', async () => {
  const store = new RunStore(root);
  const w = store.begin(runRecord('scattered'));
  const numbers = Array.from({ length: 40 }, (_, i) => i * 1_000_003);
  for (const n of [...numbers].reverse()) w.append(line(n));
  w.append(line(numbers[3], { second: true }));
  await w.close();
  const index = await store.index('scattered');
  expect(index.size).toBe(40);
  expect([...index.numbers()]).toEqual(numbers);
  expect(index.completedCount(numbers[10])).toBe(10);
  const recs = await collect(store.linesInOrder('scattered'));
  expect(recs.map((r) => r.line_number)).toEqual(numbers);
  expect(recs[3].outputs).not.toHaveProperty('second');
});
