/**
 * A code evaluator whose evaluate() result holds thousands of rows: the rows come back from the worker in parts
 * (written to a file as they come, then merged line by line), and the evaluation run holds every line once, in
 * line order, merged over the folder's functions as with a few rows; the working files are gone afterwards.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LlmService } from '../../../src/shared/engine/index.js';
import { LIST_PART } from '../../../src/shared/engine/python-worker/worker-process.js';
import { openCodeEvaluator } from '../../../src/shared/eval/code-evaluators/index.js';
import { loadCodeEvaluator } from '../../../src/shared/flow/index.js';
import { readLineRecords, type LineRecord } from '../../../src/shared/runs/index.js';

const N = 2 * LIST_PART + 321;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-code-eval-large-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Two functions returning the dict evaluate() gives; both name a score "len.value" (the second is renamed), and
// the second returns whole-number floats (Python's 2.0), which are plain numbers in the run.
const code = `import json


def _rows(data_path, score):
    with open(data_path) as f:
        return [{"inputs.text": json.loads(line)["text"], "outputs.len.value": score(i)} for i, line in enumerate(f)]


def eval_first(run_name, data_path, column_mapping, output_path):
    rows = _rows(data_path, lambda i: i % 7)
    return {"rows": rows, "metrics": {"len.value": sum(r["outputs.len.value"] for r in rows) / len(rows)}}


def eval_second(run_name, data_path, column_mapping, output_path):
    rows = _rows(data_path, lambda i: float(i))
    return {"rows": rows, "metrics": {"len.value": 1.5}}
`;

test(`an evaluation of ${N} rows is merged line by line from rows sent in parts`, async () => {
  const useCaseDir = path.join(dir, 'uc');
  const folder = path.join(useCaseDir, 'flows', 'eval_large');
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'eval_large.py'), code);
  const data = path.join(useCaseDir, 'data.jsonl');
  writeFileSync(data, Array.from({ length: N }, (_, i) => JSON.stringify({ text: `line ${i}` })).join('\n') + '\n');
  const session = await openCodeEvaluator({
    name: 'large',
    code: loadCodeEvaluator(folder),
    useCaseDir,
    flowDir: folder,
    connections: [],
    llm: new LlmService(),
    concurrency: 2,
  });
  try {
    const store = path.join(dir, 'store');
    const summary = await session.run({ runId: 'e1', storeRoot: store, runName: 'uc_eval_1', data, mappings: {} });
    expect(summary.error).toBeUndefined();
    expect(summary.counts).toEqual({ total: N, completed: N, failed: 0 });
    const lines: LineRecord[] = [];
    for await (const r of readLineRecords(path.join(store, 'runs', 'e1', 'outputs.jsonl'))) lines.push(r);
    expect(lines.map((l) => l.line_number)).toEqual(Array.from({ length: N }, (_, i) => i));
    const last = lines[N - 1];
    expect(last.inputs).toEqual({ text: `line ${N - 1}`, line_number: N - 1 });
    expect(last.outputs).toEqual({ 'len.value': (N - 1) % 7, 'eval_second.len.value': N - 1 });
    expect(Number.isInteger(last.outputs!['eval_second.len.value'])).toBe(true);
    expect(summary.metrics['eval_second.len.value']).toBe(1.5);
    expect(summary.metrics['len.value']).toBeCloseTo(
      lines.reduce((s, l) => s + (l.outputs!['len.value'] as number), 0) / N,
      12,
    );
    expect(readdirSync(path.join(store, 'runs', 'e1', 'evaluation')).filter((f) => f.endsWith('.rows.jsonl'))).toEqual(
      [],
    );
  } finally {
    await session.close();
  }
}, 120_000);
