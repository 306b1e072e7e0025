/**
 * Model pools: balancing by weight and headroom over real local model servers, failover when one is killed or
 * throttles, the circuit breaker taking a dead endpoint out and probing it back in, and the configuration of
 * pooled connections in experiment.yaml and connection files (file:line:col errors).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { LlmPool, PoolExhaustedError } from '../../src/shared/llm/pool.js';
import { LlmService, emptyUsage } from '../../src/shared/engine/llm-service.js';
import { loadConnectionFile } from '../../src/shared/engine/connections.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { runBatch } from '../../src/shared/runs/index.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { baseEnv, experimentWith, makeUseCase } from '../helpers/use-case-dir.js';

/** A loopback port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const ask = (i: number) => ({ model: 'gpt-4o', messages: [{ role: 'user', content: `question ${i}` }] });
const azure = (url: string) => ({ type: 'AzureOpenAIConnection', value: { api_base: url, api_key: 'k' } });

const servers: ModelServerHandle[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function server(options: Parameters<typeof startModelServer>[0] = {}): Promise<ModelServerHandle> {
  const s = await startModelServer(options);
  servers.push(s);
  return s;
}

test('calls are spread by weight among endpoints of the best priority; a lower priority is not called', async () => {
  const [a, b, c] = await Promise.all([server(), server(), server()]);
  const pool = new LlmPool({
    name: 'aoai',
    members: [
      { connection: azure(a.url), weight: 3 },
      { connection: azure(b.url), weight: 1 },
      { connection: azure(c.url), priority: 2 },
    ],
  });
  for (let i = 0; i < 200; i++) await pool.chat(ask(i));
  const [na, nb, nc] = [a.stats().requests, b.stats().requests, c.stats().requests];
  expect(na + nb).toBe(200);
  expect(nc).toBe(0);
  // 3:1 by weight; latency noise on a busy machine may shift it a little, never past these bounds.
  expect(na / 200).toBeGreaterThan(0.55);
  expect(na / 200).toBeLessThan(0.95);
});

test('a 429 sends the call to another endpoint at once, and the throttled one cools down for its Retry-After', async () => {
  const [a, b] = await Promise.all([server({ rpm: 2, windowMs: 60_000 }), server()]);
  const pool = new LlmPool({
    name: 'aoai',
    members: [{ connection: azure(a.url), weight: 100 }, { connection: azure(b.url) }],
  });
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.chat(ask(i))));
  expect(performance.now() - started).toBeLessThan(5_000);
  expect(results.every((r) => r.response)).toBe(true);
  expect(a.stats().byStatus['200']).toBe(2);
  expect(b.stats().byStatus['200']).toBe(18);
  expect(pool.members[0].coolUntil).toBeGreaterThan(Date.now());
});

test('a killed endpoint: in-flight and later calls are answered by the other, it is taken out, then probed back in', async () => {
  const a = await server({ latencyMs: 30 });
  const b = await server({ latencyMs: 30 });
  const pool = new LlmPool({
    name: 'aoai',
    members: [{ connection: azure(a.url) }, { connection: azure(b.url) }],
    breaker: { threshold: 2, coolDownMs: 300 },
  });
  const calls = Array.from({ length: 40 }, (_, i) => pool.chat(ask(i)));
  await new Promise((r) => setTimeout(r, 10));
  await a.close(); // in-flight calls to it lose their connection
  const results = await Promise.all(calls);
  expect(results).toHaveLength(40);
  for (let i = 0; i < 20; i++) await pool.chat(ask(100 + i));
  expect(pool.members[0].breaker.openError).toBeDefined();
  // The same port comes back: after the cool-down one probe finds it and it serves again.
  const again = await server({ port: a.port });
  await new Promise((r) => setTimeout(r, 350));
  for (let i = 0; i < 40; i++) await pool.chat(ask(200 + i));
  expect(pool.members[0].breaker.openError).toBeUndefined();
  expect(again.stats().requests).toBeGreaterThan(0);
});

test('all endpoints down: the call fails with one exit-3 error naming the pool before its deadline', async () => {
  const [p1, p2] = [await deadPort(), await deadPort()];
  const pool = new LlmPool({
    name: 'aoai',
    members: [{ connection: azure(`http://127.0.0.1:${p1}`) }, { connection: azure(`http://127.0.0.1:${p2}`) }],
    deadlineMs: 1_000,
  });
  const started = performance.now();
  const e = await pool.chat(ask(0)).catch((x: unknown) => x);
  expect(performance.now() - started).toBeLessThan(3_000);
  expect(e).toBeInstanceOf(PoolExhaustedError);
  expect((e as Error).message).toMatch(/^model pool "aoai" could not answer: .*\(ECONNREFUSED/);
  expect((e as PoolExhaustedError).exitCode).toBe(3);
});

test('a pool none of whose endpoints can be reached fails the step (LlmService.unreachable); one live member does not', async () => {
  const live = await server();
  const pooled = (urls: string[]) => ({
    name: 'aoai',
    type: 'AzureOpenAIConnection',
    value: { api_base: urls[0], api_key: 'k' },
    secretKeys: [],
    endpoints: urls.map((u) => ({
      type: 'AzureOpenAIConnection',
      value: { api_base: u, api_key: 'k' },
      weight: 1,
      priority: 1,
    })),
  });
  const dead = [`http://127.0.0.1:${await deadPort()}`, `http://127.0.0.1:${await deadPort()}`];
  const down = new LlmService({ client: { timeoutMs: 1_000 } });
  await down.call('chat', pooled(dead), ask(0), []).catch(() => undefined);
  expect(down.unreachable()?.message).toMatch(
    /^model endpoint aoai\[0\] http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED/,
  );
  const half = new LlmService();
  for (let i = 0; i < 10; i++) await half.call('chat', pooled([dead[0], live.url]), ask(i), []);
  expect(half.unreachable()).toBeUndefined();
});

test("a request's own fault (400) is not retried on other endpoints", async () => {
  const a = await server({ rules: [{ match: 'bad', error: { status: 400, message: 'bad request' } }] });
  const b = await server({ rules: [{ match: 'bad', error: { status: 400, message: 'bad request' } }] });
  const pool = new LlmPool({ name: 'aoai', members: [{ connection: azure(a.url) }, { connection: azure(b.url) }] });
  const e = await pool.chat({ model: 'm', messages: [{ role: 'user', content: 'bad' }] }).catch((x: unknown) => x);
  expect((e as { status: number }).status).toBe(400);
  expect(a.stats().requests + b.stats().requests).toBe(1);
});

test('LlmService sends a pooled connection through the pool, with usage accounted and rates paced per endpoint', async () => {
  const [a, b] = await Promise.all([server(), server()]);
  const llm = new LlmService({ maxConcurrency: 8 });
  const conn = {
    name: 'aoai',
    type: 'AzureOpenAIConnection',
    value: { api_base: a.url, api_key: 'k' },
    secretKeys: ['api_key'],
    endpoints: [
      { type: 'AzureOpenAIConnection', value: { api_base: a.url, api_key: 'k' }, weight: 1, priority: 1 },
      { type: 'AzureOpenAIConnection', value: { api_base: b.url, api_key: 'k' }, weight: 1, priority: 1 },
    ],
  };
  const usage = emptyUsage();
  for (let i = 0; i < 20; i++) await llm.call('chat', conn, ask(i), [usage]);
  expect(usage.llmCalls).toBe(20);
  expect(usage.totalTokens).toBeGreaterThan(0);
  expect(a.stats().requests).toBeGreaterThan(0);
  expect(b.stats().requests).toBeGreaterThan(0);
});

test('a bulk run over a pool of two rate-limited servers: no line fails, and it gets about twice one server', async () => {
  const rpm = 100;
  const windowMs = 2_000;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pool-run-'));
  try {
    mkdirSync(path.join(dir, 'flow'));
    writeFileSync(
      path.join(dir, 'flow', 'flow.dag.yaml'),
      'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${ask.output}"}\nnodes:\n- name: ask\n  type: llm\n  source: {type: code, path: ask.jinja2}\n  connection: conn\n  api: chat\n  inputs: {deployment_name: gpt-4o-mini, question: "${inputs.question}"}\n',
    );
    writeFileSync(path.join(dir, 'flow', 'ask.jinja2'), '# user:\n{{question}}\n');
    /** Lines per second of a run of `lines` over `n` fresh servers (one: a plain connection; more: a pool). */
    const rate = async (n: number, lines: number) => {
      const servers = await Promise.all(Array.from({ length: n }, () => server({ rpm, windowMs })));
      const data = path.join(dir, `data${n}.jsonl`);
      writeFileSync(
        data,
        Array.from({ length: lines }, (_, i) => JSON.stringify({ question: `q ${i}` })).join('\n') + '\n',
      );
      const endpoints = servers.map((s) => ({
        type: 'AzureOpenAIConnection',
        value: { api_key: 'k', api_base: s.url },
        weight: 1,
        priority: 1,
      }));
      const conn = {
        name: 'conn',
        type: 'AzureOpenAIConnection',
        value: endpoints[0].value,
        secretKeys: [],
        ...(n > 1 ? { endpoints } : {}),
      };
      const started = performance.now();
      const run = await runBatch({
        flow: path.join(dir, 'flow'),
        data,
        storeRoot: path.join(dir, `store${n}`),
        connections: [conn],
        concurrency: 32,
        llm: new LlmService({ maxConcurrency: 32 }),
      });
      const seconds = (performance.now() - started) / 1000;
      expect(run.counts.failed).toBe(0);
      for (const s of servers) expect(s.stats().byStatus['200']).toBeGreaterThan(lines / n / 2);
      return lines / seconds;
    };
    const one = await rate(1, 250);
    const two = await rate(2, 500);
    // Same number of windows for each: two servers' limits together carry about twice the lines per second.
    expect(two / one).toBeGreaterThan(1.6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

describe('configuration', () => {
  const pooled = (endpoints: string) =>
    experimentWith(
      '    api_base: ${api_base}\n    api_key: ${api_key}\n',
      `    api_version: 2024-06-01\n    endpoints:\n${endpoints}`,
    );
  function attempt(experiment: string, env: Record<string, string>) {
    const uc = makeUseCase({ 'experiment.yaml': experiment });
    try {
      const useCase = loadUseCase({
        configPath: 'experiment.yaml',
        cwd: uc.dir,
        processEnv: env,
        host: new MemoryHost(),
      });
      return { useCase, problems: [] as string[] };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return { useCase: undefined, problems: e.problems.map(formatProblem) };
    } finally {
      uc.cleanup();
    }
  }

  test('experiment.yaml: endpoints with their own secrets, weights and priorities', () => {
    const r = attempt(
      pooled(
        '      - api_base: ${east_base}\n        api_key: ${east_key}\n        weight: 2\n' +
          '      - api_base: ${west_base}\n        api_key: ${west_key}\n' +
          '      - connection_type: OpenAIConnection\n        api_key: ${openai_key}\n        base_url: https://api.openai.com/v1\n        priority: 2\n',
      ),
      {
        ...baseEnv,
        AOAI_EAST_BASE: 'https://east.example.com',
        AOAI_EAST_KEY: 'east-secret-1',
        AOAI_WEST_BASE: 'https://west.example.com',
        AOAI_WEST_KEY: 'west-secret-2',
        AOAI_OPENAI_KEY: 'openai-secret-3',
      },
    );
    expect(r.problems).toEqual([]);
    const conn = r.useCase!.connections.find((c) => c.name === 'aoai')!;
    expect(conn.endpoints).toEqual([
      {
        type: 'AzureOpenAIConnection',
        value: { api_version: '2024-06-01', api_base: 'https://east.example.com', api_key: 'east-secret-1' },
        weight: 2,
        priority: 1,
        variables: { api_base: 'AOAI_EAST_BASE', api_key: 'AOAI_EAST_KEY' },
      },
      {
        type: 'AzureOpenAIConnection',
        value: { api_version: '2024-06-01', api_base: 'https://west.example.com', api_key: 'west-secret-2' },
        weight: 1,
        priority: 1,
        variables: { api_base: 'AOAI_WEST_BASE', api_key: 'AOAI_WEST_KEY' },
      },
      {
        type: 'OpenAIConnection',
        value: { api_version: '2024-06-01', api_key: 'openai-secret-3', base_url: 'https://api.openai.com/v1' },
        weight: 1,
        priority: 2,
        variables: { api_key: 'AOAI_OPENAI_KEY' },
      },
    ]);
    expect(conn.value.api_base).toBe('https://east.example.com');
    expect(r.useCase!.secrets).toEqual(expect.arrayContaining(['east-secret-1', 'west-secret-2', 'openai-secret-3']));
  });

  test('experiment.yaml: a bad weight, priority or type is reported at its line and column', () => {
    const r = attempt(
      pooled(
        '      - api_base: https://a.example.com\n        api_key: k\n        weight: 0\n' +
          '      - api_base: https://b.example.com\n        api_key: k\n        priority: -1\n' +
          '      - connection_type: CustomConnection\n',
      ),
      baseEnv,
    );
    expect(r.problems).toEqual([
      'experiment.yaml:10:17: connections[0].endpoints[0].weight: found the number 0, expected a number > 0',
      'experiment.yaml:13:19: connections[0].endpoints[1].priority: found the number -1, expected a number >= 0',
      'experiment.yaml:14:26: connections[0].endpoints[2].connection_type: found the text "CustomConnection", expected one of: AzureOpenAIConnection, OpenAIConnection, ServerlessConnection',
    ]);
  });

  test('connection file: endpoints with ${env:VAR} secrets; a missing variable is reported at its line', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pool-conn-'));
    try {
      const file = path.join(dir, 'aoai.yaml');
      writeFileSync(
        file,
        'name: aoai\ntype: azure_open_ai\napi_version: 2024-06-01\nendpoints:\n' +
          '  - api_base: https://east.example.com\n    api_key: ${env:EAST_KEY}\n    weight: 3\n' +
          '  - type: open_ai\n    api_key: ${env:OPENAI_KEY}\n    priority: 2\n',
      );
      const c = loadConnectionFile(file, { EAST_KEY: 'e-1', OPENAI_KEY: 'o-2' });
      expect(c.endpoints?.map((e) => [e.type, e.value.api_key, e.weight, e.priority])).toEqual([
        ['AzureOpenAIConnection', 'e-1', 3, 1],
        ['OpenAIConnection', 'o-2', 1, 2],
      ]);
      const e = (() => {
        try {
          loadConnectionFile(file, { EAST_KEY: 'e-1' });
        } catch (x) {
          return x as ConfigError;
        }
      })()!;
      expect(e.problems.map(formatProblem)).toEqual([
        expect.stringMatching(/aoai\.yaml:9:\d+: .*OPENAI_KEY is not set/),
      ]);
      writeFileSync(
        file,
        'name: aoai\ntype: azure_open_ai\nendpoints:\n  - api_base: https://east.example.com\n    api_key: k\n    weight: -2\n  - type: custom\n',
      );
      const bad = (() => {
        try {
          loadConnectionFile(file, {});
        } catch (x) {
          return x as ConfigError;
        }
      })()!;
      expect(bad.problems.map(formatProblem)).toEqual([
        expect.stringMatching(/aoai\.yaml:6:13: endpoints\[0\]\.weight: found -2, expected a number above 0$/),
        expect.stringMatching(
          /aoai\.yaml:7:\d+: endpoints\[1\]: found connection type "custom", expected one of AzureOpenAIConnection/,
        ),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
