/**
 * The serving path under stress: the response cache (in-process and a real redis-server shared by two
 * servers), the fallback answer when the models cannot answer, load shedding with 503 + Retry-After within a
 * memory bound, and a model pool that keeps `flow serve` answering when one model server is killed mid-load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import type { Connection } from '../../src/shared/config/connections.js';
import { startFlowServer, type FlowServer } from '../../src/shared/serve/index.js';
import { FIX, post } from './helpers.js';

const log = false as const;
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});
async function model(options: Parameters<typeof startModelServer>[0] = {}): Promise<ModelServerHandle> {
  const m = await startModelServer(options);
  open.push(m);
  return m;
}
async function serve(options: Parameters<typeof startFlowServer>[0]): Promise<FlowServer> {
  const s = await startFlowServer({ port: 0, log, ...options });
  open.push(s);
  return s;
}
const conn = (url: string): Connection => ({
  name: 'conn',
  type: 'AzureOpenAIConnection',
  value: { api_key: 'k', api_base: url },
  secretKeys: ['api_key'],
});
const ask = (q: string, headers: Record<string, string> = {}) =>
  [JSON.stringify({ question: q }), { 'content-type': 'application/json', ...headers }] as const;
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || (l.startsWith(name + '{') && l.includes(name)));
  return Number(line?.split(' ').pop());
}

describe('response cache', () => {
  test('in-process: the same inputs are answered from the cache; no-store bypasses it; errors are not kept', async () => {
    const m = await model({ rules: [{ match: 'boom', error: { status: 400, message: 'bad' } }] });
    const s = await serve({ flow: `${FIX}/chat`, connections: [conn(m.url)], cache: { ttlSeconds: 60 } });
    const first = await fetch(`${s.url}/score`, { method: 'POST', body: ask('hello')[0], headers: ask('hello')[1] });
    expect(first.headers.get('x-llmops-cache')).toBe('miss');
    const a = await first.json();
    await new Promise((r) => setTimeout(r, 20)); // the store is written after the answer
    const second = await fetch(`${s.url}/score`, { method: 'POST', body: ask('hello')[0], headers: ask('hello')[1] });
    expect(second.headers.get('x-llmops-cache')).toBe('hit');
    expect(await second.json()).toEqual(a);
    expect(m.stats().byEndpoint.chat).toBe(1);
    const noStore = await post(`${s.url}/score`, ...ask('hello', { 'cache-control': 'no-store' }));
    expect(noStore.status).toBe(200);
    expect(m.stats().byEndpoint.chat).toBe(2);
    expect((await post(`${s.url}/score`, ...ask('boom'))).status).toBe(400);
    expect((await post(`${s.url}/score`, ...ask('boom'))).status).toBe(400);
    expect(m.stats().byEndpoint.chat).toBe(4);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toContain('llmops_response_cache_requests_total{result="hit"} 1');
    expect(text).toContain('llmops_response_cache_requests_total{result="miss"} 3');
    expect(text).toContain('llmops_response_cache_requests_total{result="bypass"} 1');
  });

  test('Redis: two servers (replicas) share answers; entries expire after the TTL', async () => {
    const redis = await startRedis();
    open.push(redis);
    const m = await model();
    const cache = { redisUrl: redis.url, ttlSeconds: 1 };
    const s1 = await serve({ flow: `${FIX}/chat`, connections: [conn(m.url)], cache });
    const s2 = await serve({ flow: `${FIX}/chat`, connections: [conn(m.url)], cache });
    expect((await post(`${s1.url}/score`, ...ask('shared'))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    const r2 = await fetch(`${s2.url}/score`, { method: 'POST', body: ask('shared')[0], headers: ask('shared')[1] });
    expect(r2.headers.get('x-llmops-cache')).toBe('hit');
    expect(m.stats().byEndpoint.chat).toBe(1);
    await new Promise((r) => setTimeout(r, 1_100));
    const r3 = await fetch(`${s2.url}/score`, { method: 'POST', body: ask('shared')[0], headers: ask('shared')[1] });
    expect(r3.headers.get('x-llmops-cache')).toBe('miss');
    expect(m.stats().byEndpoint.chat).toBe(2);
  });

  test('Redis down: requests are still answered (misses), and the store errors are counted', async () => {
    const m = await model();
    const s = await serve({
      flow: `${FIX}/chat`,
      connections: [conn(m.url)],
      cache: { redisUrl: `redis://127.0.0.1:${await freePort()}` },
    });
    expect((await post(`${s.url}/score`, ...ask('x'))).status).toBe(200);
    expect(await metric(s.url, 'llmops_response_cache_errors_total')).toBeGreaterThan(0);
  });
});

describe('graceful degradation', () => {
  test('the models cannot answer: the configured fallback, marked in a header and a field, and counted', async () => {
    const s = await serve({
      flow: `${FIX}/chat`,
      connections: [conn(`http://127.0.0.1:${await freePort()}`)],
      degrade: { fallback: { answer: 'Sorry, please try again later.' } },
    });
    const r = await fetch(`${s.url}/score`, { method: 'POST', body: ask('q')[0], headers: ask('q')[1] });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-llmops-degraded')).toBe('models');
    expect(await r.json()).toEqual({ answer: 'Sorry, please try again later.', llmops_degraded: 'models' });
    expect(await metric(s.url, 'llmops_degraded_responses_total{reason="models"}')).toBe(1);
  });

  test('the line times out: the fallback with reason timeout', async () => {
    const m = await model({ latencyMs: 2_000 });
    const s = await serve({
      flow: `${FIX}/chat`,
      connections: [conn(m.url)],
      requestTimeoutMs: 200,
      degrade: { fallback: { answer: 'later' } },
    });
    const r = await post(`${s.url}/score`, ...ask('q'));
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ answer: 'later', llmops_degraded: 'timeout' });
  });

  test("a fallback naming an output the flow does not have is refused before serving (it would lack the flow's)", async () => {
    await expect(
      startFlowServer({
        flow: `${FIX}/chat`,
        connections: [conn(`http://127.0.0.1:${await freePort()}`)],
        port: 0,
        log,
        degrade: { fallback: { answr: 'later' } },
      }),
    ).rejects.toThrow(/LLMOPS_SERVE_FALLBACK: found answr, expected outputs of the flow: answer/);
  });

  test('a flow error of the request (400 from the model) is not hidden by the fallback', async () => {
    const m = await model({ rules: [{ match: 'boom', error: { status: 400, message: 'bad' } }] });
    const s = await serve({ flow: `${FIX}/chat`, connections: [conn(m.url)], degrade: { fallback: { answer: 'x' } } });
    expect((await post(`${s.url}/score`, ...ask('boom'))).status).toBe(400);
  });

  test('load shedding: beyond the in-flight bound, 503 with Retry-After at once, and memory stays bounded', async () => {
    const m = await model({ latencyMs: 8_000 });
    const s = await serve({
      flow: `${FIX}/chat`,
      connections: [conn(m.url)],
      degrade: { maxInFlight: 8, retryAfterSeconds: 2 },
    });
    const slow = Array.from({ length: 8 }, (_, i) => post(`${s.url}/score`, ...ask(`slow ${i}`)));
    await new Promise((r) => setTimeout(r, 300));
    // One shared 256 KiB body: what the heap gains below is the server's, not the client's copies.
    const body = JSON.stringify({ question: 'x'.repeat(256 * 1024) });
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const shed = await Promise.all(
      Array.from({ length: 100 }, () => {
        const t0 = performance.now();
        return fetch(`${s.url}/score`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then(
          async (r) => ({
            status: r.status,
            retry: r.headers.get('retry-after'),
            body: await r.text(),
            ms: performance.now() - t0,
          }),
        );
      }),
    );
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    const elapsed = performance.now() - started;
    expect(shed.map((r) => `${r.status} ${r.retry}`)).toEqual(Array(100).fill('503 2'));
    expect(JSON.parse(shed[0].body).error.code).toBe('ServiceUnavailable');
    // Promptly: the refusals do not wait for the slow lines (8 s each).
    expect(elapsed).toBeLessThan(5_000);
    const ms = shed.map((r) => r.ms).sort((x, y) => x - y);
    expect(ms[50]).toBeLessThan(2_500);
    // 100 × 256 KiB bodies were never buffered: the heap grew far less than their 25 MiB.
    expect(heapGrowth).toBeLessThan(16 * 1024 * 1024);
    expect(await metric(s.url, 'llmops_shed_requests_total')).toBe(100);
    const answered = await Promise.all(slow);
    expect(answered.map((r) => r.status)).toEqual(Array(8).fill(200));
  }, 30_000);
});

test('a pool keeps flow serve answering when one model server is killed mid-load (0 failed requests)', async () => {
  const a = await model({ latencyMs: 20 });
  const b = await model({ latencyMs: 20 });
  const pooled: Connection = {
    ...conn(a.url),
    endpoints: [
      { type: 'AzureOpenAIConnection', value: { api_key: 'k', api_base: a.url }, weight: 1, priority: 1 },
      { type: 'AzureOpenAIConnection', value: { api_key: 'k', api_base: b.url }, weight: 1, priority: 1 },
    ],
  };
  const s = await serve({ flow: `${FIX}/chat`, connections: [pooled] });
  let stop = false;
  const statuses: number[] = [];
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) statuses.push((await post(`${s.url}/score`, ...ask(`w${w} q${i}`))).status);
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, 400));
  const beforeKill = statuses.length;
  await a.close();
  await new Promise((r) => setTimeout(r, 800));
  stop = true;
  await Promise.all(workers);
  expect(beforeKill).toBeGreaterThan(20);
  expect(statuses.length - beforeKill).toBeGreaterThan(20);
  expect(statuses.filter((x) => x !== 200)).toEqual([]);
  expect(a.stats().requests).toBeGreaterThan(0);
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A real redis-server on a free loopback port, without persistence. */
async function startRedis(): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}
