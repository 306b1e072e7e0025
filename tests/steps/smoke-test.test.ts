/** The smoke-test step against a served flow: pass, failed expectation, latency budget, warm-up retry, bad tests file. */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { ConfigError, exitCodeOf, GateFailed } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { startFlowServer, type FlowServer } from '../../src/shared/serve/index.js';
import { smokeTestStep } from '../../src/shared/steps/smoke-test.js';
import { baseEnv, makeUseCase } from '../helpers/use-case-dir.js';

const uc = makeUseCase({ 'sample-request.json': '{"question": "hello"}\n' });
const config = path.join(uc.dir, 'experiment.yaml');
const junitFile = path.join(uc.dir, 'smoke.junit.xml');
let model: ModelServerHandle;
let server: FlowServer;

const saved = { ...process.env };
beforeAll(async () => {
  Object.assign(process.env, baseEnv); // experiment.yaml's connection placeholders
  model = await startModelServer({ latencyMs: 30 });
  const conn = {
    name: 'conn',
    type: 'AzureOpenAIConnection',
    value: { api_key: 'k', api_base: model.url },
    secretKeys: ['api_key'],
  };
  server = await startFlowServer({ flow: 'tests/serve/fixtures/chat', connections: [conn], port: 0, log: () => {} });
});
afterAll(async () => {
  await server.close();
  await model.close();
  uc.cleanup();
  for (const k of Object.keys(baseEnv)) if (saved[k] === undefined) delete process.env[k];
});

function testsFile(name: string, text: string): string {
  const f = path.join(uc.dir, name);
  writeFileSync(f, text);
  return f;
}

const run = (inputs: Partial<Parameters<typeof smokeTestStep.run>[0]>, host = new MemoryHost()) =>
  smokeTestStep.run(
    { config, stateDir: path.join(uc.dir, '.llmops'), junitFile, endpoint: server.url, ...inputs },
    host,
  );

test('pass: status, schema, values (equals, contains, regex, JSON path), streamed answers joined; JUnit and summary written', async () => {
  const tests = testsFile(
    'pass.yaml',
    `tests:
  - name: answers the question
    request: {question: What is 2+2?}
    expect:
      status: 200
      schema: {type: object, required: [answer, question], properties: {answer: {type: string}}}
      values:
        - {path: $.question, equals: What is 2+2?}
        - {path: $.answer, contains: "2+2"}
        - {path: "$['answer']", matches: "^system: You are terse\\\\."}
        - {path: $.debug, exists: false}
  - name: streams
    request: {question: stream me}
    stream: true
    expect:
      values:
        - {path: $.answer, equals: "system: You are terse.\\nuser: stream me"}
  - name: rejects a bad request
    request: {style: no question}
    expect: {status: 400, values: [{path: $.error.code, equals: UserError}]}
`,
  );
  const host = new MemoryHost();
  const out = await run({ tests }, host);
  expect(out).toEqual({ passed: true, endpoint: `${server.url}/score` });
  expect(host.summary).toContain('✅ passed: 3/3');
  const junit = readFileSync(junitFile, 'utf8');
  expect(junit).toContain('<testsuites name="smoke-test" tests="3" failures="0">');
  expect(junit).toContain('<testcase classname="smoke-test" name="streams"');
});

test('the sample request of the use case is the default test (200 and a JSON object)', async () => {
  const out = await run({});
  expect(out.passed).toBe(true);
});

test('a failed expectation → GateFailed (exit 1) naming the test, the path, what was expected and got; JUnit failure', async () => {
  const tests = testsFile(
    'fail.yaml',
    `tests:
  - name: wants a category
    request: {question: hello}
    expect:
      values:
        - {path: $.category, equals: Movie}
        - {path: $.answer, matches: "^Movie$"}
`,
  );
  const host = new MemoryHost();
  const e = await run({ tests }, host).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(GateFailed);
  expect(exitCodeOf(e)).toBe(1);
  expect((e as GateFailed).failures).toEqual([
    'wants a category: $.category: expected "Movie", got nothing (the path does not exist)',
    'wants a category: $.answer: expected to match /^Movie$/, got "system: You are terse.\\nuser: hello"',
  ]);
  expect(host.outputs.get('passed')).toBe('false');
  expect(readFileSync(junitFile, 'utf8')).toMatch(/<failure message="\$\.category: expected &quot;Movie&quot;/);
  expect(host.summary).toContain('❌ failed: 0/1');
});

test('latency budget: p95 over N repeats above the budget fails', async () => {
  const tests = testsFile(
    'latency.yaml',
    `tests:
  - name: fast enough
    request: {question: hello}
    latency: {repeats: 8, p50_ms: 5000, p95_ms: 5}
`,
  );
  const e = await run({ tests }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(GateFailed);
  expect((e as GateFailed).failures[0]).toMatch(/^fast enough: latency: p95 \d+\.\d ms over 8 requests, budget 5 ms$/);
});

test('warm-up: connection refused is retried until the endpoint comes up within the deadline', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const late = new Promise<FlowServer>((resolve) =>
    setTimeout(
      () => void startFlowServer({ flow: 'tests/serve/fixtures/echo', port, log: () => {} }).then(resolve),
      700,
    ),
  );
  const tests = testsFile(
    'warm.yaml',
    `warmup_seconds: 20
tests:
  - name: echo
    request: plain text
    expect: {values: [{path: $.echoed, equals: plain text}]}
`,
  );
  try {
    const host = new MemoryHost();
    const out = await run({ tests, endpoint: `http://127.0.0.1:${port}` }, host);
    expect(out.passed).toBe(true);
    expect(host.summary).toMatch(/ready after \d+\.\d s/);
  } finally {
    await (await late).close();
  }
});

test('a bad tests file → ConfigError (exit 2) with file:line:column for each problem; nothing is sent', async () => {
  const tests = testsFile(
    'bad.yaml',
    `tests:
  - name: no request
    expect: {status: 200}
  - name: typo
    request: {question: hi}
    expekt: {status: 200}
  - name: bad regex
    request: {question: hi}
    expect:
      values:
        - {path: $.answer, matches: "([a-z"}
`,
  );
  const before = model.stats().requests;
  const e = await run({ tests }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(ConfigError);
  expect(exitCodeOf(e)).toBe(2);
  const lines = (e as ConfigError).message.split('\n');
  expect(lines.filter((l) => l.includes('bad.yaml:2:5'))).toEqual([
    expect.stringMatching(/bad\.yaml:2:5: tests\[0\]: request \(or request_file\) is required$/),
  ]);
  expect(lines).toContainEqual(expect.stringMatching(/bad\.yaml:6:5: tests\[1\]\.expekt: unknown key/));
  expect(model.stats().requests).toBe(before);
  const regex = testsFile(
    'regex.yaml',
    'tests:\n  - name: bad regex\n    request: {question: hi}\n    expect:\n      values:\n        - {path: $.answer, matches: "([a-z"}\n',
  );
  const r = await run({ tests: regex }).catch((x: unknown) => x);
  expect((r as ConfigError).message).toMatch(
    /regex\.yaml:6:37: tests\[0\]\.expect\.values\[0\]\.matches: Invalid regular expression/,
  );
});
