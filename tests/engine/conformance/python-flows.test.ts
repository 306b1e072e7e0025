/**
 * Conformance of DAG flows made of python (and prompt) nodes: input coercion, literal inputs, activate chains,
 * aggregation and batch failure accounting. Each expectation is what Prompt Flow produces (section of
 * promptflow-formats.md noted).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadFlow } from '../../../src/shared/flow/index.js';
import { createExecutor, type FlowExecutor } from '../../../src/shared/engine/index.js';
import { runBatch } from '../../../src/shared/runs/index.js';
import { FIX, lineRecords, runFile, tempStore } from './helpers.js';

let store: string;
beforeAll(() => {
  store = tempStore();
});

async function withExecutor<T>(name: string, fn: (ex: FlowExecutor) => Promise<T>): Promise<T> {
  const ex = await createExecutor(loadFlow(`${FIX}/${name}`));
  try {
    return await fn(ex);
  } finally {
    await ex.close();
  }
}

describe('flow inputs and literal node inputs through a batch run', () => {
  let dir: string;
  let summary: Awaited<ReturnType<typeof runBatch>>;
  beforeAll(async () => {
    summary = await runBatch({
      flow: `${FIX}/inputs`,
      data: `${FIX}/inputs/data.jsonl`,
      storeRoot: store,
      concurrency: 3,
    });
    dir = summary.dir;
  });

  test('§1.2: inputs are coerced like ValueType.parse and defaults fill absent keys', async () => {
    const [first, , third] = await lineRecords(dir);
    expect(first.status).toBe('Completed');
    // int("3"), float("2.5"), "TRUE" → True, JSON list text parsed, str(5), object default, int default.
    // (An integral double such as float("2") reaches Python as the int 2: a known deviation of the worker wire.)
    expect(first.outputs!.seen).toEqual({
      n: ['3', 'int'],
      d: ['2.5', 'float'],
      b: ['True', 'bool'],
      l: ["[1, 'x']", 'list'],
      s: ["'5'", 'str'],
      o: ["{'k': 'v'}", 'dict'],
      opt: ['7', 'int'],
    });
    // int(5.9) == 5; float("1.5e-5") prints 1.5e-05. The row's `o` and `opt` columns are ignored: inputs with a
    // default are not mapped from same-name columns unless the column mapping says so (§6.4).
    expect(third.outputs!.seen).toMatchObject({
      n: ['5', 'int'],
      d: ['1.5e-05', 'float'],
      b: ['False', 'bool'],
      o: ["{'k': 'v'}", 'dict'],
      opt: ['7', 'int'],
    });
    expect(third.inputs).not.toHaveProperty('opt');
  });

  test('§1.2: a bool input given the int 1 fails only that line with InputTypeError', async () => {
    const recs = await lineRecords(dir);
    expect(recs.map((r) => r.status)).toEqual(['Completed', 'Failed', 'Completed']);
    expect(recs[1].outputs).toBeUndefined();
    expect(recs[1].error).toMatchObject({
      code: 'UserError',
      innerError: { code: 'ValidationError', innerError: { code: 'InputTypeError' } },
    });
    expect(recs[1].error!.message).toContain(
      "flow input 'b' in line 1 of input data does not match the expected type 'bool'",
    );
  });

  test('§1.6: python literals — "" and null dropped (parameter default used), strings parsed by annotation', async () => {
    const [first] = await lineRecords(dir);
    expect(first.outputs!.lits).toEqual({
      temp: '0.7',
      items: '[1, 2]',
      empty: "'empty-default'",
      nothing: '5',
      count: '12',
      obj: "{'a': 1}",
      flag: 'True',
      // unannotated parameter with default None → object type: JSON text "123" becomes the int 123
      loose: '123',
    });
  });

  test('§1.6: prompt node literals reach the template as written (no dropping, no parsing)', async () => {
    const [first] = await lineRecords(dir);
    expect(first.outputs!.shown).toBe('empty=[] nothing=None nums=[1,2] temp=0.7');
  });

  test('§6.6: a failed line never fails the run; run.json and error.json record it', () => {
    expect(summary.status).toBe('Completed');
    expect(summary.counts).toEqual({ total: 3, completed: 2, failed: 1 });
    expect(runFile(dir, 'run.json')).toMatchObject({
      status: 'Completed',
      counts: { total: 3, completed: 2, failed: 1 },
    });
    const err = runFile(dir, 'error.json') as {
      message: string;
      additionalInfo: Array<{ type: string; info: { errors: Array<{ line_number: number }> } }>;
    };
    expect(err.message).toMatch(
      /^Failed to run 1\/3 lines\. First error message is: The input for flow is incorrect\. The value for flow input 'b' in line 1 /,
    );
    expect(err.additionalInfo[0].type).toBe('BulkRunErrors');
    expect(err.additionalInfo[0].info.errors.map((e) => e.line_number)).toEqual([1]);
  });
});

test('§1.2: object text kept when not JSON; a missing input fails with InputNotFound, an unparsable list with InputParseError', async () => {
  await withExecutor('inputs', async (ex) => {
    const missing = await ex.runLine({ d: 1, b: true, l: [], s: 'x' }, { lineNumber: 4 });
    expect(missing.status).toBe('Failed');
    expect(missing.error?.innerError?.innerError?.code).toBe('InputNotFound');
    expect(missing.error?.message).toContain("The value for flow input 'n' is not provided in line 4 of input data");
    // object: text that is not JSON stays a string; int("8") == 8 when the value is given.
    const given = await ex.runLine({ n: 1, d: 1.5, b: true, l: [], s: 'x', o: 'not json', opt: '8' });
    expect(given.outputs!.seen).toMatchObject({ o: ["'not json'", 'str'], opt: ['8', 'int'] });
    const badList = await ex.runLine({ n: 1, d: 1, b: true, l: 'not a list', s: 'x' });
    expect(badList.status).toBe('Failed');
    expect(badList.error?.innerError?.innerError?.code).toBe('InputParseError');
  });
});

describe('activate chains (§1.8)', () => {
  test('when on a node output property; Python == (1 == 1.0, 1 != "1"); bypassed refs omitted when defaulted', async () => {
    await withExecutor('activate_chain', async (ex) => {
      const r = await ex.runLine({ mode: 'A', n: 1 });
      expect(r.status).toBe('Completed');
      expect(r.outputs).toEqual({
        kind: 'A',
        a: 'a-ran',
        a_child: 'child-ran',
        float_eq: 'float-eq',
        str_eq: null,
        after_child: 'child-ran',
        // n_is_str was bypassed and join's `s` has a default → omitted, the default None applies
        joined: { a: 'a-ran', child: 'child-ran', s: null },
      });
      expect(r.nodes?.n_is_str.status).toBe('Bypassed');
    });
  });

  test('a bypassed when-node bypasses its dependants; a node whose node inputs are all bypassed is bypassed', async () => {
    await withExecutor('activate_chain', async (ex) => {
      // "a" != "A" (case-sensitive); n = int("2") is neither 1.0 nor "1".
      const r = await ex.runLine({ mode: 'a', n: '2' });
      expect(r.status).toBe('Completed');
      expect(r.outputs).toEqual({
        kind: 'a',
        a: null,
        a_child: null,
        float_eq: null,
        str_eq: null,
        after_child: null,
        joined: null,
      });
      for (const node of ['on_a', 'on_a_child', 'after_child', 'n_is_float', 'n_is_str', 'join'])
        expect(r.nodes?.[node].status).toBe('Bypassed');
      expect(r.nodes?.classify.status).toBe('Completed');
    });
  });

  test('an output with a property path on a bypassed node fails the line (InvalidReferenceProperty)', async () => {
    await withExecutor('bypass_path', async (ex) => {
      expect((await ex.runLine({ go: 'true' })).outputs).toEqual({ detail: 'made' });
      const r = await ex.runLine({ go: false });
      expect(r.status).toBe('Failed');
      expect(r.outputs).toBeUndefined();
      expect(r.error?.innerError?.code).toBe('InvalidReferenceProperty');
    });
  });
});

describe('aggregation (§1.9)', () => {
  test('lists over succeeded lines in line order, coerced flow inputs, log_metric overwrites; the failed line is recorded', async () => {
    const s = await runBatch({ flow: `${FIX}/agg`, data: `${FIX}/agg/data.csv`, storeRoot: store, concurrency: 4 });
    expect(s.status).toBe('Completed');
    expect(s.counts).toEqual({ total: 4, completed: 3, failed: 1 });
    // csv cells are strings; the aggregation sees them coerced to int, only for lines 0, 2, 3.
    const summary = "lit:[10, 18, 6]:[5, 9, 3]:['int', 'int', 'int']";
    expect(s.metrics).toEqual({ count: 3, mean: 34 / 3, summary });
    expect(runFile(s.dir, 'metrics.json')).toEqual(s.metrics);
    const recs = await lineRecords(s.dir);
    expect(recs[1]).toMatchObject({ status: 'Failed', error: { innerError: { code: 'ToolExecutionError' } } });
    expect(recs[1].error!.message).toBe("Execution failure in 'grade': (ValueError) negative score -1");
    expect(runFile(s.dir, 'error.json').message).toBe(
      "Failed to run 1/4 lines. First error message is: Execution failure in 'grade': (ValueError) negative score -1",
    );
  });

  test('a failing aggregation node keeps the line outputs, the run completes and error.json names the node', async () => {
    const s = await runBatch({ flow: `${FIX}/agg`, data: `${FIX}/agg/over.csv`, storeRoot: store });
    expect(s.status).toBe('Completed');
    expect(s.counts).toEqual({ total: 2, completed: 2, failed: 0 });
    expect((await lineRecords(s.dir)).map((r) => r.outputs)).toEqual([{ doubled: 10 }, { doubled: 120 }]);
    const err = runFile(s.dir, 'error.json') as {
      message: string;
      additionalInfo: Array<{
        info: { errors: Array<{ aggregation_node_name?: string; error: { message: string } }> };
      }>;
    };
    const [entry] = err.additionalInfo[0].info.errors;
    expect(entry.aggregation_node_name).toBe('check');
    expect(entry.error.message).toContain(
      "Execution failure in 'check': (RuntimeError) grade over limit after lit:[10, 120]",
    );
    expect(existsSync(join(s.dir, 'metrics.json'))).toBe(true);
  });
});
