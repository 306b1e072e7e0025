import path from 'node:path';
import { PythonCodeError, PythonWorkerPool } from '../../../src/shared/engine/python-worker/index.js';

const fixtures = path.join(process.cwd(), 'tests/engine/python-worker/fixtures');

const connections = {
  aoai: {
    type: 'AzureOpenAIConnection',
    value: { api_key: 'sk-aoai', api_base: 'https://example.openai.azure.com/', api_version: '2024-06-01' },
    secret_keys: ['api_key'],
  },
  my_custom: { type: 'CustomConnection', value: { token: 't0k' }, secret_keys: ['token'] },
};

describe('flex function entries', () => {
  const pool = new PythonWorkerPool({ workingDir: path.join(fixtures, 'flex_function') });
  afterAll(() => pool.close());

  test('the signature is reported, extra inputs are dropped, a string result becomes {output}', async () => {
    const entry = await pool.flexInit('entry:answer');
    expect(entry.kind).toBe('function');
    expect(entry.hasAggregate).toBe(false);
    expect(entry.params).toEqual([
      { name: 'question', type: ['string'], kind: 'value', hasDefault: false },
      { name: 'times', type: ['int'], kind: 'value', hasDefault: true, default: 2 },
    ]);
    const result = await pool.flexCall(entry.key, { question: 'hi', line_number: 7 });
    expect(result.output).toEqual({ output: 'hi hi' });
    expect(result.stdout).toBe('answering hi\n');
  });

  test('dict results stay as they are, dataclass results become dicts', async () => {
    const asDict = await pool.flexInit('entry:as_dict');
    expect((await pool.flexCall(asDict.key, { question: 'q' })).output).toEqual({ question: 'q', upper: 'Q' });
    const structured = await pool.flexInit('entry:structured');
    expect((await pool.flexCall(structured.key, { question: 'abc' })).output).toEqual({ text: 'abc', length: 3 });
  });

  test('an exception is a ScriptExecutionError naming the function', async () => {
    const failing = await pool.flexInit('entry:failing');
    const err = await pool.flexCall(failing.key, { question: 'why' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PythonCodeError);
    expect((err as PythonCodeError).code).toBe('ScriptExecutionError');
    expect((err as PythonCodeError).message).toBe("Execution failure in 'failing': (RuntimeError) cannot answer why");
  });

  test('an unknown entry name is EntryNotFound', async () => {
    const err = await pool.flexInit('entry:missing').catch((e: unknown) => e);
    expect((err as PythonCodeError).code).toBe('EntryNotFound');
  });
});

describe('flex class entries', () => {
  const pool = new PythonWorkerPool({ workingDir: path.join(fixtures, 'flex_class'), connections, workers: 2 });
  afterAll(() => pool.close());
  const init = {
    model_config: { connection: 'aoai', azure_deployment: 'gpt-4o' },
    custom: 'my_custom',
    greeting: 'hello',
  };

  test('init kwargs get connection objects and a model configuration with the connection expanded', async () => {
    const entry = await pool.flexInit('pkg.flow:ChatFlow', init);
    expect(entry.kind).toBe('class');
    expect(entry.hasAggregate).toBe(true);
    expect(entry.initParams?.map((p) => [p.name, p.kind])).toEqual([
      ['model_config', 'model_config'],
      ['custom', 'connection'],
      ['greeting', 'value'],
    ]);
    const result = await pool.flexCall(entry.key, { question: 'world' });
    expect(result.output).toMatchObject({
      reply: 'hello world',
      config_class: 'AzureOpenAIModelConfiguration',
      azure_endpoint: 'https://example.openai.azure.com/',
      api_key: 'sk-aoai',
      api_version: '2024-06-01',
      azure_deployment: 'gpt-4o',
      custom_secret: 't0k',
    });
  });

  test('every worker serving calls holds its own instance built from the same init', async () => {
    const entry = await pool.flexInit('pkg.flow:ChatFlow', init);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => pool.flexCall(entry.key, { question: `q${i}` })),
    );
    const pids = new Set(results.map((r) => (r.output as { pid: number }).pid));
    expect(pids.size).toBe(2);
    for (const r of results) expect((r.output as { reply: string }).reply).toMatch(/^hello q\d$/);
  });

  test('__aggregate__ gets the line outputs (attribute access) and its dict becomes metrics', async () => {
    const entry = await pool.flexInit('pkg.flow:ChatFlow', init);
    const lines = [{ reply: 'hello a' }, { reply: 'hello bb' }];
    const result = await pool.flexAggregate(entry.key, lines);
    expect(result.metrics).toEqual({ logged: 1, lines: 2, total_reply_length: 15 });
  });

  test('an exception in __aggregate__ is a ScriptExecutionError naming __aggregate__, not __call__', async () => {
    const entry = await pool.flexInit('failing_aggregate:Scorer');
    const err = await pool.flexAggregate(entry.key, [1, 2]).catch((e: unknown) => e);
    expect((err as PythonCodeError).code).toBe('ScriptExecutionError');
    expect((err as PythonCodeError).message).toBe(
      "Execution failure in 'Scorer.__aggregate__': (NotImplementedError) no aggregate yet",
    );
  });

  test('a failing __init__ is FlowEntryInitializationError', async () => {
    const err = await pool.flexInit('bad_init:Broken', { value: 3 }).catch((e: unknown) => e);
    expect((err as PythonCodeError).code).toBe('FlowEntryInitializationError');
    expect((err as PythonCodeError).message).toContain('(ValueError) bad init value 3');
  });
});
