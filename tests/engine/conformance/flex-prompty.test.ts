/**
 * Conformance of flex flows (§5.1) and prompty flows (§5.2) through batch runs: init kwargs, __aggregate__
 * metrics, output normalisation, json_object responses with declared outputs. Each expectation is what Prompt
 * Flow produces (section of promptflow-formats.md noted).
 */
import { runBatch } from '../../../src/shared/runs/index.js';
import { startModelServer, type ModelServerHandle } from '../../../src/model-server/index.js';
import { azureConnection, FIX, lineRecords, messagesOf, recordingService, runFile, tempStore } from './helpers.js';

let store: string;
beforeAll(() => {
  store = tempStore();
});

describe('flex flows (§5.1)', () => {
  test('class entry: __init__ kwargs from the run, per-line coercion, __aggregate__ over succeeded lines → metrics.json', async () => {
    const s = await runBatch({
      flow: `${FIX}/flex_class`,
      data: `${FIX}/flex_class/data.jsonl`,
      init: { prefix: 'run:' },
      storeRoot: store,
      concurrency: 2,
    });
    expect(s.status).toBe('Completed');
    expect(s.counts).toEqual({ total: 4, completed: 3, failed: 1 });
    const recs = await lineRecords(s.dir);
    // `threshold` is not given by the run's init → the parameter default 3 applies (not sample.init's 1).
    // The `weight` column is not mapped: inputs with a default take data columns only through the mapping (§6.4),
    // so the signature default 1.0 applies (a float, printed 1.0).
    expect(recs.map((r) => r.outputs)).toEqual([
      { verdict: 'run:yes', long: false, weight: '1.0' },
      undefined,
      { verdict: 'run:certainly', long: true, weight: '1.0' },
      { verdict: 'run:no', long: false, weight: '1.0' },
    ]);
    expect(recs[1].error!.message).toBe("Execution failure in 'Judge.__call__': (KeyError) 'no verdict for bad'");
    expect(s.metrics).toEqual({ lines: 3, long_rate: 1 / 3, order: 'run:yes,run:certainly,run:no' });
    expect(runFile(s.dir, 'metrics.json')).toEqual(s.metrics);
    expect(runFile(s.dir, 'error.json').message).toBe(
      "Failed to run 1/4 lines. First error message is: Execution failure in 'Judge.__call__': (KeyError) 'no verdict for bad'",
    );
  });

  test('function entry: a non-dict return value is recorded as {"output": value}; inputs coerced by annotation', async () => {
    const mapped = await runBatch({
      flow: `${FIX}/flex_fn`,
      data: `${FIX}/flex_fn/data.jsonl`,
      columnMapping: { top: '${data.top}' },
      storeRoot: store,
    });
    expect(mapped.counts).toEqual({ total: 2, completed: 2, failed: 0 });
    // "2" / "1" coerced to int by the annotation, so the slices work.
    expect((await lineRecords(mapped.dir)).map((r) => r.outputs)).toEqual([
      { output: ['bbb', 'cc'] },
      { output: ['three'] },
    ]);
    const s = await runBatch({ flow: `${FIX}/flex_fn`, data: `${FIX}/flex_fn/data.jsonl`, storeRoot: store });
    // Without a mapping the `top` column is ignored (§6.4): the default 2 applies.
    expect((await lineRecords(s.dir)).map((r) => r.outputs)).toEqual([
      { output: ['bbb', 'cc'] },
      { output: ['three', 'five'] },
    ]);
    expect(runFile(s.dir, 'metrics.json')).toEqual({});
  });

  test('a variant selection on a flex flow is a ConfigError (flex flows have no variants)', async () => {
    await expect(
      runBatch({ flow: `${FIX}/flex_fn`, data: `${FIX}/flex_fn/data.jsonl`, variant: '${a.b}', storeRoot: store }),
    ).rejects.toThrow(/no variants/);
  });
});

describe('prompty (§5.2)', () => {
  let server: ModelServerHandle;
  beforeAll(async () => {
    server = await startModelServer({
      rules: [
        {
          match: 'for (\\w+)\\.\\nuser: ok (\\w+)',
          scope: 'all',
          json: { answer: '{{2}}', who: '{{1}}', extra: 'dropped' },
        },
        { match: 'missing', json: { answer: 'x' } },
      ],
    });
  });
  afterAll(() => server.close());

  test('input defaults, parameters verbatim, json_object parsed down to the declared outputs; a missing key fails the line', async () => {
    const { llm, sent } = recordingService();
    const s = await runBatch({
      flow: `${FIX}/prompty/judge.prompty`,
      data: `${FIX}/prompty/data.jsonl`,
      storeRoot: store,
      connections: [azureConnection(server.url)],
      llm,
      concurrency: 1,
    });
    expect(s.status).toBe('Completed');
    expect(s.counts).toEqual({ total: 3, completed: 2, failed: 1 });
    const recs = await lineRecords(s.dir);
    expect(recs[0].outputs).toEqual({ answer: 'fine', who: 'Ann' });
    // The `name` column is not mapped (the input has a default, §6.4), so line 2 also uses the default.
    expect(recs[2].outputs).toEqual({ answer: 'great', who: 'Ann' });
    expect(recs[1].status).toBe('Failed');
    expect(recs[1].error!.innerError?.code).toBe('InvalidOutputKeyError');
    expect(recs[1].error!.message).toContain("Cannot find 'who' in response");
    expect(sent[0].body).toMatchObject({
      model: 'judge-dep',
      max_tokens: 50,
      temperature: 0,
      response_format: { type: 'json_object' },
    });
    expect(messagesOf(sent[0])).toEqual([
      { role: 'system', content: 'Answer as JSON for Ann.' },
      { role: 'user', content: 'ok fine' },
    ]);
    expect(sent[0].headers['ms-azure-ai-promptflow-called-from']).toBe('promptflow-core');
  });
});
