/**
 * The hostile-input corpus of data files and connection configs, through the real CLI (dist/cli.js): each case
 * asserts the exit code, the exact error with its file:line[:column], a bounded time, and a consistent run
 * store — no model call and no run for bad input (exit 2); every line recorded and the run closed when the
 * model endpoint is unreachable (exit 3).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { baseExperiment, llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';

const llmFiles = llmNodeFlow();
const twoDatasets = baseExperiment
  .slice(0, baseExperiment.indexOf('evaluators:'))
  .replace(
    'datasets:\n',
    'datasets:\n  - name: first\n    source: data/first.jsonl\n    mappings:\n      question: ${data.question}\n',
  );

let model: ModelServerHandle;
beforeAll(async () => {
  model = await startModelServer({});
});
afterAll(() => model.close());

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function cli(
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ status: number | null; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.resolve('dist/cli.js'), ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (status) => resolve({ status, stderr, ms: performance.now() - started }));
  });
}

/** Runs recorded in a store: their run.json. */
function runsIn(dir: string): { status: string; counts: { total: number; failed: number }; error?: string }[] {
  const root = path.join(dir, '.llmops/runs');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => existsSync(path.join(root, d, 'run.json')))
    .map((d) => JSON.parse(readFileSync(path.join(root, d, 'run.json'), 'utf8')));
}

const deep = (n: number) => `{"question": ${'['.repeat(n)}${']'.repeat(n)}}`;
const utf8Bad = Buffer.concat([
  Buffer.from('{"question": "q1"}\n{"question": "caf'),
  Buffer.from([0xe9]),
  Buffer.from('"}\n'),
]);

interface Case {
  name: string;
  files: Record<string, string | Buffer>;
  args: string[];
  env?: Record<string, string>;
  exit: number;
  /** Lines the error output must contain, exactly. */
  error: string[];
  maxMs: number;
}

const flowRun = (data: string, extra: string[] = []) => [
  'flow',
  'run',
  'flows/std',
  '--data',
  data,
  '--connections',
  'conn.yaml',
  ...extra,
];
const connYaml = (base: string) => `name: aoai\ntype: azure_open_ai\napi_base: "${base}"\napi_key: k\n`;

const CASES: Case[] = [
  {
    name: 'flow run: invalid UTF-8',
    files: { 'd.jsonl': utf8Bad },
    args: flowRun('d.jsonl'),
    exit: 2,
    error: [
      'd.jsonl:2:18: error: invalid UTF-8: byte 18 of the line is 0xe9; expected UTF-8 text (re-save the file as UTF-8)',
    ],
    maxMs: 10_000,
  },
  {
    name: 'flow run: a CSV row with an extra field',
    files: { 'd.csv': 'question\nq1\n"q2",x\n' },
    args: flowRun('d.csv'),
    exit: 2,
    error: [
      "d.csv:3: error: found 2 fields, expected 1 (the header's: question); quote a field that holds the delimiter",
    ],
    maxMs: 10_000,
  },
  {
    name: 'flow run: a TSV row with a missing field',
    files: { 'd.tsv': 'question\tanswer\nq1\ta\nq2\n' },
    args: flowRun('d.tsv'),
    exit: 2,
    error: [
      "d.tsv:3: error: found 1 fields, expected 2 (the header's: question, answer); quote a field that holds the delimiter",
    ],
    maxMs: 10_000,
  },
  {
    name: 'flow run: a line nested 10,000 deep (was exit 70, run left Running)',
    files: { 'd.jsonl': `{"question": "q"}\n${deep(10_000)}\n` },
    args: flowRun('d.jsonl'),
    exit: 2,
    error: [
      'd.jsonl:2:113: error: JSON nested deeper than 100 levels (the limit, LLMOPS_DATA_MAX_DEPTH); expected flatter records',
    ],
    maxMs: 10_000,
  },
  {
    name: 'flow run: a 50 MB line',
    files: { 'd.jsonl': `{"question": "${'x'.repeat(50 * 1024 * 1024)}"}\n` },
    args: flowRun('d.jsonl'),
    exit: 2,
    error: [
      'd.jsonl:1: error: line is longer than 10485760 bytes (the limit, LLMOPS_DATA_MAX_LINE_BYTES); expected one record per line within the limit',
    ],
    maxMs: 15_000,
  },
  {
    name: 'flow run: a line over a configured limit',
    files: { 'd.jsonl': `{"question": "${'x'.repeat(2000)}"}\n` },
    args: flowRun('d.jsonl'),
    env: { LLMOPS_DATA_MAX_LINE_BYTES: '1000' },
    exit: 2,
    error: [
      'd.jsonl:1: error: line is longer than 1000 bytes (the limit, LLMOPS_DATA_MAX_LINE_BYTES); expected one record per line within the limit',
    ],
    maxMs: 10_000,
  },
  {
    name: 'flow run: a .json data file error has its line',
    files: { 'd.json': '[\n  {"question": "q1"},\n  {"question": "q2"\n]\n' },
    args: flowRun('d.json'),
    exit: 2,
    error: [
      "d.json:4:1: error: invalid JSON: expected ',' or '}' after a property value, found \"]\\n\"; expected an array of records",
    ],
    maxMs: 10_000,
  },
  {
    name: 'flow run: a mapped column missing from one row',
    files: { 'd.jsonl': '{"question": "q1"}\n{"question": "q2"}\n{"q": "q3"}\n' },
    args: flowRun('d.jsonl'),
    exit: 2,
    error: [
      'd.jsonl:3: error: column "question" is missing from this row (1 of 3 rows); expected it in every row (available columns: question, q)',
    ],
    maxMs: 10_000,
  },
  {
    name: 'flow run: invalid JSON in a line',
    files: { 'd.jsonl': '{"question": "q1"}\n{"question": q2}\n' },
    args: flowRun('d.jsonl'),
    exit: 2,
    error: [
      'd.jsonl:2:14: error: invalid JSON: expected a value (object, array, string, number, true, false or null), found "q2}"; expected one JSON object per line',
    ],
    maxMs: 10_000,
  },
  {
    name: 'flow run: a base URL with an empty port',
    files: { 'd.jsonl': '{"question": "q1"}\n', 'conn.yaml': connYaml('http://127.0.0.1:/v1') },
    args: flowRun('d.jsonl'),
    exit: 2,
    error: ['conn.yaml:3:11: error: api_base: found port "" in "http://127.0.0.1:/v1", expected a number (or no ":")'],
    maxMs: 10_000,
  },
  {
    name: 'flow run: a base URL with another scheme',
    files: { 'd.jsonl': '{"question": "q1"}\n', 'conn.yaml': connYaml('ftp://models.example.com') },
    args: flowRun('d.jsonl'),
    exit: 2,
    error: [
      'conn.yaml:3:11: error: api_base: found scheme "ftp" in "ftp://models.example.com", expected http or https',
    ],
    maxMs: 10_000,
  },
  {
    name: 'flow run: a base URL without a host',
    files: { 'd.jsonl': '{"question": "q1"}\n', 'conn.yaml': connYaml('https:///openai') },
    args: flowRun('d.jsonl'),
    exit: 2,
    error: ['conn.yaml:3:11: error: api_base: found no host in "https:///openai", expected http(s)://<host>[:<port>]'],
    maxMs: 10_000,
  },
  {
    name: 'register-data: a .json dataset with a non-object record',
    files: {
      ...llmFiles,
      'experiment.yaml': baseExperiment
        .slice(0, baseExperiment.indexOf('evaluators:'))
        .replace('data/train.jsonl', 'data/train.json'),
      'data/train.json': '[\n  {"question": "q1"},\n  "q2"\n]\n',
    },
    args: ['register-data', '--config', 'experiment.yaml'],
    exit: 2,
    error: ['data/train.json:3: error: record 2 is a JSON string, expected an object per record'],
    maxMs: 10_000,
  },
  {
    name: 'register-data: invalid UTF-8 in a CSV dataset',
    files: {
      ...llmFiles,
      'experiment.yaml': baseExperiment
        .slice(0, baseExperiment.indexOf('evaluators:'))
        .replace('data/train.jsonl', 'data/train.csv'),
      'data/train.csv': Buffer.concat([Buffer.from('question\nq1\ncaf'), Buffer.from([0xe9, 0x0a])]),
    },
    args: ['register-data', '--config', 'experiment.yaml'],
    exit: 2,
    error: [
      'data/train.csv:3:4: error: invalid UTF-8: byte 4 of the line is 0xe9; expected UTF-8 text (re-save the file as UTF-8)',
    ],
    maxMs: 10_000,
  },
  {
    name: 'bulk-run: a malformed second dataset stops the step before the first one runs',
    files: {
      ...llmFiles,
      'experiment.yaml': twoDatasets,
      'data/first.jsonl': Array.from({ length: 20 }, (_, i) => JSON.stringify({ question: `q${i}` })).join('\n'),
      'data/train.jsonl': '{"question": "q1"}\n{"question": "q2"\n',
    },
    args: ['bulk-run', '--config', 'experiment.yaml'],
    exit: 2,
    error: [
      "data/train.jsonl:2:18: error: invalid JSON: expected ',' or '}' after a property value, found the end of the text; expected one JSON object per line",
      'error: 1 problem found; nothing was run.',
    ],
    maxMs: 15_000,
  },
  {
    name: 'bulk-run: a row missing its mapped column in the second dataset',
    files: {
      ...llmFiles,
      'experiment.yaml': twoDatasets,
      'data/first.jsonl': '{"question": "q"}\n',
      'data/train.jsonl': '{"question": "q1"}\n{"other": "q2"}\n',
    },
    args: ['bulk-run', '--config', 'experiment.yaml'],
    exit: 2,
    error: [
      'data/train.jsonl:2: error: column "question" is missing from this row (1 of 2 rows); expected it in every row (available columns: question, other)',
    ],
    maxMs: 15_000,
  },
  {
    name: 'bulk-run: an api_base from the environment with an empty port (value not shown)',
    files: { ...llmFiles },
    args: ['bulk-run', '--config', 'experiment.yaml'],
    env: { AOAI_API_BASE: 'http://127.0.0.1:/v1' },
    exit: 2,
    error: [
      'experiment.yaml:6:15: error: connections[0].api_base: found port "" in the value, expected a number (or no ":") (from AOAI_API_BASE)',
    ],
    maxMs: 10_000,
  },
  {
    name: 'bulk-run: a literal api_base without a host',
    files: {
      ...llmFiles,
      'experiment.yaml': baseExperiment.replace('api_base: ${api_base}', 'api_base: "http://:8080"'),
    },
    args: ['bulk-run', '--config', 'experiment.yaml'],
    exit: 2,
    error: [
      'experiment.yaml:6:15: error: connections[0].api_base: found no host in "http://:8080", expected http(s)://<host>[:<port>]',
    ],
    maxMs: 10_000,
  },
];

describe.each(CASES)('$name', (c) => {
  test(`exit ${c.exit}, the error at its line, no model call, no run`, async () => {
    const uc = makeUseCase(c.files as Record<string, string>);
    for (const [f, content] of Object.entries(c.files))
      if (Buffer.isBuffer(content)) writeFileSync(path.join(uc.dir, f), content);
    if (!c.files['conn.yaml']) writeFileSync(path.join(uc.dir, 'conn.yaml'), connYaml(model.url));
    const before = model.stats().requests;
    try {
      const r = await cli(c.args, uc.dir, { AOAI_API_BASE: model.url, AOAI_API_KEY: 'k', ...c.env });
      for (const line of c.error) expect(r.stderr.split('\n')).toContain(line);
      expect(r.status).toBe(c.exit);
      expect(r.ms).toBeLessThan(c.maxMs);
      expect(model.stats().requests).toBe(before);
      expect(runsIn(uc.dir)).toEqual([]);
      expect(existsSync(path.join(uc.dir, '.llmops/experiments'))).toBe(false);
      expect(existsSync(path.join(uc.dir, '.llmops/data/registry.json'))).toBe(false);
    } finally {
      uc.cleanup();
    }
  });
});

test('flow run against a refused endpoint: 2,000 lines fail within seconds with one clear message, exit 3, the run recorded and closed', async () => {
  const port = await deadPort();
  const data = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ question: `q${i}` })).join('\n');
  const uc = makeUseCase({ ...llmFiles, 'd.jsonl': data, 'conn.yaml': connYaml(`http://127.0.0.1:${port}`) });
  try {
    const r = await cli(flowRun('d.jsonl', ['--concurrency', '8']), uc.dir, {});
    const message = `model endpoint http://127.0.0.1:${port} is unreachable (ECONNREFUSED: nothing accepts connections at that address and port); 5 connection attempts in a row failed, so the remaining calls to it fail at once. Check that the endpoint is running and the connection's api_base/base_url is right.`;
    expect(r.stderr.split('\n')).toContain(`error: ${message}`);
    expect(r.status).toBe(3);
    expect(r.ms).toBeLessThan(20_000);
    const [run] = runsIn(uc.dir);
    expect(run).toMatchObject({ status: 'Completed', counts: { total: 2000, completed: 0, failed: 2000 } });
    expect(run.error).toContain(message);
  } finally {
    uc.cleanup();
  }
});

test('bulk-run against an unknown host: not retried, exit 3, the runs file and run consistent', async () => {
  const uc = makeUseCase({
    ...llmFiles,
    'experiment.yaml': baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')),
    'data/train.jsonl': Array.from({ length: 50 }, (_, i) => JSON.stringify({ question: `q${i}` })).join('\n'),
  });
  try {
    const r = await cli(['bulk-run', '--config', 'experiment.yaml'], uc.dir, {
      AOAI_API_BASE: 'http://no-such-model-host.invalid',
      AOAI_API_KEY: 'k',
    });
    // The base URL came from an environment variable, so the host masks it like any value read from there.
    expect(r.stderr).toMatch(
      /\nerror: model endpoint \*\*\* is unreachable \((ENOTFOUND|EAI_AGAIN): the host name (does not resolve|could not be resolved)/,
    );
    expect(r.status).toBe(3);
    expect(r.ms).toBeLessThan(20_000);
    const [run] = runsIn(uc.dir);
    expect(run).toMatchObject({ status: 'Completed', counts: { total: 50, failed: 50 } });
    const runsFile = JSON.parse(readFileSync(path.join(uc.dir, '.llmops/experiments/demo/runs.json'), 'utf8'));
    expect(runsFile.runs).toMatchObject([{ status: 'Completed', lines: 50, failed: 50 }]);
  } finally {
    uc.cleanup();
  }
});

test('evaluate: a malformed evaluation dataset is found before any evaluation runs', async () => {
  const uc = makeUseCase({ ...llmFiles, 'data/train.jsonl': '{"question": "q1", "answer": "a1"}\n' });
  const env = { AOAI_API_BASE: model.url, AOAI_API_KEY: 'k' };
  try {
    expect((await cli(['bulk-run', '--config', 'experiment.yaml'], uc.dir, env)).status).toBe(0);
    writeFileSync(path.join(uc.dir, 'data/eval.jsonl'), `${deep(500)}\n`);
    const before = model.stats().requests;
    const runsBefore = runsIn(uc.dir).length;
    const r = await cli(['evaluate', '--config', 'experiment.yaml'], uc.dir, env);
    expect(r.stderr.split('\n')).toContain(
      'data/eval.jsonl:1:113: error: JSON nested deeper than 100 levels (the limit, LLMOPS_DATA_MAX_DEPTH); expected flatter records',
    );
    expect(r.status).toBe(2);
    expect(model.stats().requests).toBe(before);
    expect(runsIn(uc.dir)).toHaveLength(runsBefore);
  } finally {
    uc.cleanup();
  }
});

test('a run too small to open the circuit still exits 3 when the endpoint was never reached; flow test too', async () => {
  const port = await deadPort();
  const uc = makeUseCase({
    ...llmFiles,
    'experiment.yaml': baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')),
    'data/train.jsonl': '{"question": "q1"}\n',
    'conn.yaml': connYaml(`http://127.0.0.1:${port}`),
  });
  try {
    const bulk = await cli(['bulk-run', '--config', 'experiment.yaml'], uc.dir, {
      AOAI_API_BASE: `http://127.0.0.1:${port}`,
      AOAI_API_KEY: 'k',
    });
    expect(bulk.stderr).toMatch(
      /\nerror: model endpoint \*\*\* is unreachable \(ECONNREFUSED: nothing accepts connections at that address and port\); gave up after 3 attempts\./,
    );
    expect(bulk.status).toBe(3);
    expect(runsIn(uc.dir)).toMatchObject([{ status: 'Completed', counts: { total: 1, failed: 1 } }]);
    const test = await cli(
      ['flow', 'test', 'flows/std', '--inputs', 'question=hi', '--connections', 'conn.yaml'],
      uc.dir,
      {},
    );
    expect(test.stderr).toContain(
      `error: model endpoint http://127.0.0.1:${port} is unreachable (ECONNREFUSED: nothing accepts connections at that address and port); gave up after 3 attempts.`,
    );
    expect(test.status).toBe(3);
    expect(test.ms).toBeLessThan(10_000);
  } finally {
    uc.cleanup();
  }
});

test('flow test: an inputs file nested 10,000 deep is an exit-2 error at its line and column', async () => {
  const uc = makeUseCase({
    ...llmFiles,
    'line.json': `{\n  "question": ${'['.repeat(10_000)}${']'.repeat(10_000)}\n}\n`,
    'conn.yaml': connYaml(model.url),
  });
  try {
    const r = await cli(
      ['flow', 'test', 'flows/std', '--inputs-file', 'line.json', '--connections', 'conn.yaml'],
      uc.dir,
      {},
    );
    expect(r.stderr.split('\n')).toContain(
      'line.json:2:114: error: invalid inputs: nesting deeper than 100 levels; expected a JSON object',
    );
    expect(r.status).toBe(2);
  } finally {
    uc.cleanup();
  }
});
