/**
 * Long lists reach Python in parts (PROTOCOL.md "Long lists"): an aggregation node's column and `__aggregate__`'s
 * line results over thousands of lines arrive whole and in order, the user's function still receives one list,
 * and a list whose request never comes is dropped.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PythonWorkerPool } from '../../../src/shared/engine/python-worker/index.js';
import { LIST_PART } from '../../../src/shared/engine/python-worker/worker-process.js';
import { runBatch } from '../../../src/shared/runs/index.js';

// More than two parts, and not a multiple of the part size.
const N = 2 * LIST_PART + 777;
let dir: string;
let data: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'llmops-long-lists-'));
  data = join(dir, 'data.jsonl');
  writeFileSync(data, Array.from({ length: N }, (_, i) => JSON.stringify({ n: i })).join('\n') + '\n');
  mkdirSync(join(dir, 'dag'));
  writeFileSync(
    join(dir, 'dag/flow.dag.yaml'),
    `inputs:
  n: {type: int}
outputs:
  doubled: {type: int, reference: "\${double.output}"}
nodes:
- name: double
  type: python
  source: {type: code, path: double.py}
  inputs: {n: "\${inputs.n}"}
- name: summary
  type: python
  source: {type: code, path: summary.py}
  inputs: {values: "\${double.output}"}
  aggregation: true
`,
  );
  writeFileSync(
    join(dir, 'dag/double.py'),
    'from promptflow.core import tool\n\n@tool\ndef double(n: int) -> int:\n    return n * 2\n',
  );
  writeFileSync(
    join(dir, 'dag/summary.py'),
    `from promptflow.core import log_metric, tool

@tool
def summary(values: list):
    assert isinstance(values, list), type(values)
    log_metric("count", len(values))
    log_metric("in_order", all(v == 2 * i for i, v in enumerate(values)))
    log_metric("total", sum(values))
    return len(values)
`,
  );
  mkdirSync(join(dir, 'flex'));
  writeFileSync(join(dir, 'flex/flow.flex.yaml'), 'entry: entry:Scorer\n');
  writeFileSync(
    join(dir, 'flex/entry.py'),
    `class Scorer:
    def __call__(self, n: int):
        return {"square": n * n}

    def __aggregate__(self, results: list):
        assert isinstance(results, list), type(results)
        return {
            "count": len(results),
            "in_order": all(r.square == i * i for i, r in enumerate(results)),
        }
`,
  );
});

test('a python aggregation node over thousands of lines gets its whole column, in line order', async () => {
  const summary = await runBatch({
    flow: join(dir, 'dag'),
    data,
    storeRoot: join(dir, 'store-dag'),
    concurrency: 16,
    pythonRequirements: 'off',
  });
  expect(summary.counts).toEqual({ total: N, completed: N, failed: 0 });
  expect(summary.error).toBeUndefined();
  expect(summary.metrics).toEqual({ count: N, in_order: true, total: N * (N - 1) });
}, 120_000);

test("a flex flow's __aggregate__ gets every succeeded line's outputs, streamed from the store, in line order", async () => {
  const summary = await runBatch({
    flow: join(dir, 'flex'),
    data,
    storeRoot: join(dir, 'store-flex'),
    concurrency: 16,
    pythonRequirements: 'off',
  });
  expect(summary.counts.completed).toBe(N);
  expect(summary.error).toBeUndefined();
  expect(summary.metrics).toEqual({ count: N, in_order: true });
}, 120_000);

describe('the pool', () => {
  let pool: PythonWorkerPool;
  beforeAll(() => {
    writeFileSync(
      join(dir, 'count.py'),
      'from promptflow.core import tool\n\n@tool\ndef count(values: list, label: str):\n    return {"label": label, "count": len(values), "last": values[-1] if values else None}\n',
    );
    writeFileSync(
      join(dir, 'agg.py'),
      'class Agg:\n    def __call__(self, n: int):\n        return n\n\n    def __aggregate__(self, results):\n        return {"count": len(results)}\n',
    );
    pool = new PythonWorkerPool({ workingDir: dir });
  });
  afterAll(() => pool.close());

  test('short lists go inline, long ones in parts; both arrive whole', async () => {
    const short = await pool.call('count.py', { values: [1, 2, 3], label: 'short' }, { aggregation: true });
    expect(short.output).toEqual({ label: 'short', count: 3, last: 3 });
    const values = Array.from({ length: N }, (_, i) => ({ i, text: `line ${i}` }));
    const long = await pool.call('count.py', { values, label: 'long' }, { aggregation: true });
    expect(long.output).toEqual({ label: 'long', count: N, last: { i: N - 1, text: `line ${N - 1}` } });
  });

  test('a stream that fails part way is dropped in the worker, which keeps serving', async () => {
    const failing = async function* () {
      for (let i = 0; i < LIST_PART + 10; i++) yield { i };
      throw new Error('the store could not be read');
    };
    const entry = await pool.flexInit('agg:Agg');
    await expect(pool.flexAggregate(entry.key, failing())).rejects.toThrow('the store could not be read');
    const after = await pool.flexAggregate(
      entry.key,
      Array.from({ length: LIST_PART + 1 }, (_, i) => i),
    );
    expect(after.metrics).toEqual({ count: LIST_PART + 1 });
    const empty = async function* () {};
    expect((await pool.flexAggregate(entry.key, empty())).metrics).toEqual({ count: 0 });
  });
});
