/**
 * Memory stays flat in the number of lines (not timed): the heap a run keeps alive is measured after a forced
 * garbage collection while the run is going, from the run's own progress calls, and must not grow with the
 * lines run so far or with the size of a referenced run.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Evaluator } from '../../src/shared/config/types.js';
import { LlmService } from '../../src/shared/engine/index.js';
import { runBuiltinEvaluator } from '../../src/shared/eval/builtin/run-builtin.js';
import { runBatch, type ProgressReporter } from '../../src/shared/runs/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** Heap in use after a full collection. */
const liveHeap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const N = 40_000;
let dir: string;
let data: string;
let flow: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'llmops-memory-'));
  data = join(dir, 'data.jsonl');
  writeFileSync(
    data,
    Array.from({ length: N }, (_, i) =>
      JSON.stringify({ question: `What is the capital of country number ${i}?`, answer: `City ${i}` }),
    ).join('\n') + '\n',
  );
  // A flow without model or Python calls: what is measured is the runner and the store, not a model.
  flow = join(dir, 'flow');
  mkdirSync(flow);
  writeFileSync(
    join(flow, 'flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${render.output}"}\nnodes:\n- name: render\n  type: prompt\n  source: {type: code, path: p.jinja2}\n  inputs: {question: "${inputs.question}"}\n',
  );
  writeFileSync(join(flow, 'p.jinja2'), 'The answer to {{question}} is here, in a text of some length.\n');
});

/** A progress reporter that measures the live heap when the run passes `at` (shares of its lines). */
function heapAt(at: number[]): { reporter: ProgressReporter; heap: number[] } {
  const heap: number[] = [];
  let next = 0;
  const probe = (done: number, total: number) => {
    while (next < at.length && done >= at[next] * total) {
      heap.push(liveHeap());
      next++;
    }
  };
  return {
    heap,
    reporter: { start: (s) => probe(s.done, s.total), update: (s) => probe(s.done, s.total), finish: () => {} },
  };
}

const perLine = (bytes: number, lines: number) => Math.round(bytes / lines);

test('a flow run keeps no per-line state while it runs (old code: about 1 kB per finished line)', async () => {
  const { reporter, heap } = heapAt([0.1, 0.9]);
  const controller = new AbortController(); // a run that can be canceled, as the CLI's
  const s = await runBatch({
    flow,
    data,
    storeRoot: join(dir, 'store'),
    runId: 'std',
    concurrency: 32,
    progress: reporter,
    signal: controller.signal,
  });
  expect(s.counts.completed).toBe(N);
  expect(heap).toHaveLength(2);
  // 80% of the lines ran between the two measures.
  expect(perLine(heap[1] - heap[0], 0.8 * N)).toBeLessThan(100);
});

test('an evaluation run joined to a referenced run holds an offset index, not the referenced outputs', async () => {
  const store = join(dir, 'store');
  const before = liveHeap();
  const { reporter, heap } = heapAt([0.05, 0.9]);
  const s = await runBatch({
    flow,
    data,
    columnMapping: { question: '${run.outputs.answer}' },
    referencedRun: 'std',
    storeRoot: store,
    runId: 'eval',
    concurrency: 32,
    progress: reporter,
  });
  expect(s.counts.completed).toBe(N);
  // Old code: a Map of every referenced line's outputs, built before the first line (over 300 bytes a line).
  expect(perLine(heap[0] - before, N)).toBeLessThan(60);
  expect(perLine(heap[1] - heap[0], 0.85 * N)).toBeLessThan(100);
});

test('a built-in evaluator holds neither the data rows nor the referenced records', async () => {
  const evaluator: Evaluator = { name: 'em', builtin: 'exact_match', options: {}, datasets: [] };
  const before = liveHeap();
  const { reporter, heap } = heapAt([0.05, 0.9]);
  const s = await runBuiltinEvaluator({
    evaluator,
    dataset: {
      name: 'd',
      source: data,
      localPath: data,
      reference: 'd',
      mappings: { prediction: '${run.outputs.answer}', reference: '${data.answer}' },
    },
    standardRunId: 'std',
    runId: 'std.em',
    storeRoot: join(dir, 'store'),
    concurrency: 8,
    connections: [],
    llm: new LlmService(),
    progress: reporter,
  });
  expect(s.counts.completed).toBe(N);
  expect(s.metrics).toEqual({ exact_match: 0 });
  // Old code: every data row in an array and every standard record in a Map, for the whole run.
  expect(perLine(heap[0] - before, N)).toBeLessThan(60);
  expect(perLine(heap[1] - heap[0], 0.85 * N)).toBeLessThan(100);
});
