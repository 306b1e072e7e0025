/**
 * An early-stop run holds no data (not timed): the live heap while it runs, after a forced garbage collection,
 * is the same for 10,000 and 100,000 data lines. The run reads its data in the seed's order a window of lines at a
 * time and hands the stopper each line's row, rather than holding every row (and every pending line) from the
 * start (measured: 0.6 MB for either size; the old code held 4 MB for 10,000 lines and 36 MB for 100,000). A
 * resumed run reads its recorded lines back from the store in their places.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Evaluator, Gate } from '../../src/shared/config/types.js';
import { createRunStopper, type EarlyStopGate } from '../../src/shared/eval/early-stop-run.js';
import { loadFlow } from '../../src/shared/flow/index.js';
import { CompiledMapping } from '../../src/shared/runs/mapping.js';
import { runBatch, RunStore, type ProgressReporter } from '../../src/shared/runs/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const liveHeap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

let dir: string;
let flow: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'llmops-early-memory-'));
  // A flow without model or Python calls: what is measured is the runner and the stopper, not a model.
  flow = join(dir, 'flow');
  mkdirSync(flow);
  writeFileSync(
    join(flow, 'flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${render.output}"}\nnodes:\n- name: render\n  type: prompt\n  source: {type: code, path: p.jinja2}\n  inputs: {question: "${inputs.question}"}\n',
  );
  writeFileSync(join(flow, 'p.jinja2'), 'City {{question}}');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `n` lines; the flow answers line i right when i is even, so the gate (exact match ≥ 0.9) fails early. */
function dataOf(n: number): string {
  const file = join(dir, `data-${n}.jsonl`);
  writeFileSync(
    file,
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        question: i % 2 === 0 ? `${i}` : `x${i}`,
        answer: `City ${i}`,
        context: `Some context of line ${i}, of a length that makes holding the rows visible in the heap.`,
      }),
    ).join('\n') + '\n',
  );
  return file;
}

const gate: Gate = {
  metric: 'exact_match',
  evaluator: 'exact',
  variants: 'all',
  min: 0.9,
  bound: 'value',
  higherIsBetter: true,
  requireSignificance: true,
  minLines: 10,
  earlyStop: true,
};
const evaluator: Evaluator = { name: 'exact', builtin: 'exact_match', options: {}, datasets: [] };
const gates: EarlyStopGate[] = [
  {
    gate,
    name: 'exact_match ≥ 0.9',
    evaluator,
    mapping: new CompiledMapping({ prediction: '${run.outputs.answer}', reference: '${data.answer}' }),
  },
];

/** Runs an early-stop run over `n` lines and gives the live heap after its 10th line, less the heap before it. */
async function heapOfRun(
  n: number,
  runId: string,
  resume = false,
  by: EarlyStopGate[] | ((n: number) => EarlyStopGate[]) = gates,
) {
  const data = dataOf(n);
  let heap: number | undefined;
  let end: { etaMs?: number; total: number; done: number } | undefined;
  const probe: ProgressReporter = {
    start: () => {},
    update: (s) => {
      if (heap === undefined && s.done - s.skipped >= 10) heap = liveHeap();
    },
    finish: (s) => void (end = s),
  };
  const before = liveHeap();
  const stopper = await createRunStopper(typeof by === 'function' ? by(n) : by, data, 11);
  try {
    const summary = await runBatch({
      flow,
      data,
      columnMapping: { question: '${data.question}' },
      storeRoot: join(dir, 'store'),
      ...(resume ? { resume: runId } : { runId }),
      concurrency: 8,
      stopper,
      progress: probe,
    });
    return { summary, grown: heap! - before, end };
  } finally {
    await stopper.close();
  }
}

test('the heap of an early-stop run does not grow with its data (old code: 32 MB more for 90,000 more lines)', async () => {
  await heapOfRun(2_000, 'warm-up'); // first use of the engine and the store, off the measure
  const small = await heapOfRun(10_000, 'small');
  const large = await heapOfRun(100_000, 'large');
  for (const { summary } of [small, large]) {
    expect(summary.status).toBe('Completed');
    expect(summary.counts.completed).toBeLessThan(500);
  }
  const record = new RunStore(join(dir, 'store')).record('large');
  expect(record.early_stop).toMatchObject({ stopped: true, total: 100_000 });
  expect(record.early_stop!.gates[0].decision).toBe('fail');
  // The progress of a stopped run ends complete with the lines it ran (it said 29/100000, ETA 68 minutes).
  expect(large.end).toMatchObject({
    etaMs: 0,
    total: large.summary.counts.completed,
    done: large.summary.counts.completed,
  });
  // 90,000 more lines: growing by 20 bytes a line would be 1.8 MB.
  expect(large.grown - small.grown).toBeLessThan(1_800_000);
});

test('a resumed early-stop run takes in its recorded lines in their places and starts none once they decide', async () => {
  const first = await heapOfRun(100_000, 'resumed');
  // An earlier session that recorded some lines and was stopped: drop the run's verdict and resume it.
  const store = new RunStore(join(dir, 'store'));
  const writer = store.open('resumed');
  delete writer.record.early_stop;
  writer.record.status = 'Canceled';
  writer.saveRun();
  await writer.close();
  const again = await heapOfRun(100_000, 'resumed', true);

  expect(again.summary.skipped).toBe(first.summary.counts.completed);
  // Every recorded line is seen again in its place: the gate is decided at once and nothing more runs.
  expect(again.summary.counts.completed).toBe(first.summary.counts.completed);
  expect(store.record('resumed').early_stop).toMatchObject({ stopped: true, lines: first.summary.counts.completed });
});

/** A gate on an evaluation flow (a Python node scores each line) with its own data file of `n` lines. */
function evaluationFlowGate(n: number): EarlyStopGate[] {
  const flowDir = join(dir, 'eval-flow');
  mkdirSync(flowDir, { recursive: true });
  writeFileSync(
    join(flowDir, 'flow.dag.yaml'),
    'inputs:\n  groundtruth: {type: string}\n  prediction: {type: string}\noutputs:\n  score: {type: int, reference: "${grade.output}"}\nnodes:\n- name: grade\n  type: python\n  source: {type: code, path: grade.py}\n  inputs: {groundtruth: "${inputs.groundtruth}", prediction: "${inputs.prediction}"}\n',
  );
  writeFileSync(
    join(flowDir, 'grade.py'),
    'from promptflow import tool\n\n\n@tool\ndef grade(groundtruth: str, prediction: str) -> int:\n    return 1 if groundtruth == prediction else 0\n',
  );
  const file = join(dir, `eval-${n}.jsonl`);
  // The evaluation data's own rows: the ground truth of line i (right for even lines, as the run's answers).
  writeFileSync(
    file,
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        truth: `City ${i}`,
        note: `Evaluation row ${i}, long enough for its rows to be seen in the heap.`,
      }),
    ).join('\n') + '\n',
  );
  const model = loadFlow(flowDir);
  const evaluator: Evaluator = {
    name: 'graded',
    flow: { path: flowDir, file: join(flowDir, 'flow.dag.yaml'), kind: 'dag', model },
    options: {},
    datasets: [],
  };
  return [
    {
      gate: { ...gate, metric: 'accuracy', evaluator: 'graded', lineScore: 'score' },
      name: 'accuracy ≥ 0.9',
      evaluator,
      mapping: new CompiledMapping({ groundtruth: '${data.truth}', prediction: '${run.outputs.answer}' }),
      dataFile: file,
    },
  ];
}

// Old code: 7 MB at 10,000 lines, 55 MB at 100,000 (the run's rows and the evaluation file's, both held).
test('an evaluation flow gate reads its own data file alongside the run, not whole', async () => {
  const small = await heapOfRun(10_000, 'flow-small', false, evaluationFlowGate);
  const large = await heapOfRun(100_000, 'flow-large', false, evaluationFlowGate);
  for (const { summary } of [small, large]) expect(summary.counts.completed).toBeLessThan(500);
  const record = new RunStore(join(dir, 'store')).record('flow-large');
  // Scored from the evaluation file's rows: the even lines are right, so the gate fails at about half.
  expect(record.early_stop).toMatchObject({ stopped: true });
  expect(record.early_stop!.gates[0]).toMatchObject({ decision: 'fail' });
  expect(record.early_stop!.gates[0].mean).toBeGreaterThan(0.2);
  expect(record.early_stop!.gates[0].mean).toBeLessThan(0.8);
  expect(large.grown - small.grown).toBeLessThan(1_800_000);
}, 60_000);
