import { pyFloat } from '../../../src/shared/engine/template/index.js';
import path from 'node:path';
import { PythonCodeError, PythonWorkerPool, type PyParam } from '../../../src/shared/engine/python-worker/index.js';

const fixtures = path.join(process.cwd(), 'tests/engine/python-worker/fixtures');
const nodesDir = path.join(fixtures, 'nodes');

const connections = {
  aoai: {
    type: 'AzureOpenAIConnection',
    module: 'promptflow.connections',
    value: {
      api_key: 'sk-aoai',
      api_base: 'https://example.openai.azure.com/',
      api_type: 'azure',
      api_version: '2024-02-01',
    },
    secret_keys: ['api_key'],
  },
  my_custom: {
    type: 'CustomConnection',
    value: { endpoint: 'https://svc.local', token: 's3cret' },
    secret_keys: ['token'],
  },
};

let pool: PythonWorkerPool;
beforeAll(() => {
  pool = new PythonWorkerPool({ workingDir: nodesDir, connections });
});
afterAll(() => pool.close());

async function failure(promise: Promise<unknown>): Promise<PythonCodeError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PythonCodeError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('tool discovery', () => {
  test('a file without @tool is NoToolDefined', async () => {
    const err = await failure(pool.inspect('no_tool.py'));
    expect(err.code).toBe('NoToolDefined');
    expect(err.message).toContain('no_tool.py');
  });

  test('a file with two @tool functions is MultipleToolsDefined and names both', async () => {
    const err = await failure(pool.inspect('multi_tool.py'));
    expect(err.code).toBe('MultipleToolsDefined');
    expect(err.message).toContain('first, second');
  });

  test('a ToolProvider class tool reports its init parameters and keeps one instance per init value', async () => {
    const info = await pool.inspect('provider_tool.py');
    expect(info.className).toBe('Greeter');
    expect(info.initParams?.map((p) => p.name)).toEqual(['greeting']);
    expect(info.params.map((p) => p.name)).toEqual(['name']);
    const a = await pool.call('provider_tool.py', { greeting: 'Hello', name: 'Ada' });
    const b = await pool.call('provider_tool.py', { greeting: 'Hello', name: 'Bob' });
    const c = await pool.call('provider_tool.py', { greeting: 'Hey', name: 'Cy' });
    expect([a.output, b.output, c.output]).toEqual(['Hello, Ada (#1)', 'Hello, Bob (#2)', 'Hey, Cy (#1)']);
  });
});

describe('signature inspection', () => {
  test('types follow the Prompt Flow mapping (§4.2), imported tools do not count', async () => {
    const info = await pool.inspect('typed.py');
    const byName = Object.fromEntries(info.params.map((p) => [p.name, p])) as Record<string, PyParam>;
    expect(info.functionName).toBe('typed');
    expect(info.hasKwargs).toBe(true);
    expect(info.isAsync).toBe(false);
    expect(Object.keys(byName)).toEqual([
      'count',
      'ratio',
      'flag',
      'text',
      'items',
      'data',
      'maybe',
      'conn',
      'custom',
      'words',
      'tone',
      'limit',
      'label',
      'anything',
    ]);
    expect(byName.count.type).toEqual(['int']);
    expect(byName.ratio.type).toEqual(['double']);
    expect(byName.flag.type).toEqual(['bool']);
    expect(byName.text.type).toEqual(['string']);
    expect(byName.items.type).toEqual(['list']);
    expect(byName.data.type).toEqual(['object']);
    expect(byName.maybe).toMatchObject({ type: ['int'], hasDefault: false });
    expect(byName.conn).toMatchObject({ type: ['AzureOpenAIConnection', 'OpenAIConnection'], kind: 'connection' });
    expect(byName.custom).toMatchObject({ type: ['CustomConnection'], kind: 'connection' });
    expect(byName.words).toMatchObject({ type: ['object'], hasDefault: true, default: null });
    expect(byName.tone).toMatchObject({ type: ['string'], enum: ['calm', 'loud'], default: 'calm' });
    expect(byName.limit).toMatchObject({ type: ['int'], default: 10 });
    expect(byName.label).toMatchObject({ type: ['string'], default: 'x' });
    expect(byName.anything).toMatchObject({ type: ['object'], hasDefault: true });
  });

  test('async and generator tools are flagged', async () => {
    expect((await pool.inspect('async_tool.py')).isAsync).toBe(true);
    expect((await pool.inspect('gen_tool.py')).isGenerator).toBe(true);
  });
});

describe('calling tools', () => {
  test('connection names become connection objects (strong type attributes, custom dict and secrets)', async () => {
    const result = await pool.call(
      'conn_tool.py',
      { aoai: 'aoai', custom: 'my_custom', question: 'q' },
      { node: 'use' },
    );
    expect(result.output).toEqual({
      aoai_class: 'AzureOpenAIConnection',
      api_base: 'https://example.openai.azure.com/',
      api_key: 'sk-aoai',
      api_version: '2024-02-01',
      custom_dict: { endpoint: 'https://svc.local', token: 's3cret' },
      custom_configs: { endpoint: 'https://svc.local' },
      custom_secret_attr: 's3cret',
      token_is_secret: true,
      question: 'q',
    });
  });

  test('a connection of the wrong class is rejected, an unknown name is ConnectionNotFound', async () => {
    const wrong = await failure(pool.call('conn_tool.py', { aoai: 'my_custom', custom: 'my_custom', question: 'q' }));
    expect(wrong.code).toBe('NodeInputValidationError');
    const missing = await failure(pool.call('conn_tool.py', { aoai: 'nope', custom: 'my_custom', question: 'q' }));
    expect(missing.code).toBe('ConnectionNotFound');
    expect(missing.message).toContain("'nope'");
  });

  test('an exception comes back with Prompt Flow message, type and the user traceback', async () => {
    const err = await failure(pool.call('boom.py', { value: -2 }, { node: 'checker' }));
    expect(err.code).toBe('ToolExecutionError');
    expect(err.message).toBe("Execution failure in 'checker': (ValueError) negative value: -2");
    expect(err.info.type).toBe('ValueError');
    expect(err.info.traceback).toContain('boom.py');
    expect(err.info.traceback).toContain('in check');
    expect(err.info.traceback).not.toContain('llmops_worker');
  });

  test('stdout and stderr are captured per call', async () => {
    const [a, b] = await Promise.all([pool.call('printer.py', { name: 'a' }), pool.call('printer.py', { name: 'b' })]);
    expect(a.stdout).toBe('hello a\n');
    expect(b.stdout).toBe('hello b\n');
    expect(a.stderr).toBe('careful\n');
  });

  test('NaN and Infinity survive both directions', async () => {
    const result = await pool.call('nan_tool.py', { values: [NaN, Infinity, 1.5] });
    const out = result.output as Record<string, unknown>;
    expect(out.nan).toBeNaN();
    expect(out.inf).toBe(Infinity);
    expect(out.ninf).toBe(-Infinity);
    expect((out.echo as number[])[0]).toBeNaN();
    expect((out.echo as number[]).slice(1)).toEqual([Infinity, 1.5]);
    expect(out.echo_is_nan).toEqual([true, false, false]);
  });

  test('async tools are awaited', async () => {
    expect((await pool.call('async_tool.py', { text: 'abc' })).output).toBe('cba');
  });

  test('generator output is joined, or streamed piece by piece on request', async () => {
    expect((await pool.call('gen_tool.py', { sentence: 'one two' })).output).toBe('one two ');
    const pieces: string[] = [];
    const streamed = await pool.call('gen_tool.py', { sentence: 'a b c' }, { onChunk: (t) => pieces.push(t) });
    expect(pieces).toEqual(['a ', 'b ', 'c ']);
    expect(streamed.output).toBe('a b c ');
  });

  test('log_metric is collected in aggregation calls (last write wins) and ignored elsewhere', async () => {
    const agg = await pool.call('metrics_tool.py', { scores: [1, 2, 3] }, { aggregation: true });
    // The average is Python's float 2.0: it keeps its float type across the worker (the executor hands
    // metrics on as plain numbers).
    expect(agg.metrics).toEqual({ average: pyFloat(2), count: 3 });
    const plain = await pool.call('metrics_tool.py', { scores: [1, 2, 3] });
    expect(plain.metrics).toBeUndefined();
    expect(plain.output).toEqual({ average: pyFloat(2) });
  });

  test('an image input dict arrives as an Image and goes back as a data dict', async () => {
    const png = Buffer.from('fake-png').toString('base64');
    const result = await pool.call('image_tool.py', { picture: { 'data:image/png;base64': png } });
    expect(result.output).toEqual({ mime: 'image/png', size: 8, same: { 'data:image/png;base64': png } });
  });

  test('the promptflow shim is used because the real package is absent', async () => {
    const out = (await pool.call('shim_check.py', {})).output as { file: string; shim: boolean };
    expect(out.shim).toBe(true);
    expect(out.file).toContain(path.join('src', 'shared', 'engine', 'python', 'shim'));
  });
});

describe('a real promptflow package', () => {
  test('wins over the shim when importable', async () => {
    const real = new PythonWorkerPool({
      workingDir: nodesDir,
      env: { PYTHONPATH: path.join(fixtures, 'fake_promptflow') },
    });
    try {
      const out = (await real.call('shim_check.py', {})).output as { file: string; shim: boolean };
      expect(out.shim).toBe(false);
      expect(out.file).toContain('fake_promptflow');
    } finally {
      await real.close();
    }
  });
});
