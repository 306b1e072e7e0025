/**
 * Benchmark of issue 20's serving resilience, against local model servers on loopback:
 *  1. throughput of a bulk run over a model pool of two servers, each with its own requests-per-window limit,
 *     as a share of what the two limits allow over the run's duration (goal >= 0.90);
 *  2. `flow serve` under closed-loop load over a pool of two servers when one is killed mid-run: failed
 *     requests (goal 0) and latency before and after the kill;
 *  3. the response cache under a repeated-request load: hit rate, throughput and latency without a cache, with
 *     the in-process store and with Redis (when `redis-server` is installed).
 *
 *   npx tsx bench/pools.ts [lines=600] [rpmPerServer=100] [windowMs=2000] [serveSeconds=4] [cacheRequests=2000]
 *
 * Small settings by default; the report's full run: `npx tsx bench/pools.ts 3000 300 3000 20 20000`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startModelServer, type ModelServerHandle } from '../src/model-server/index.js';
import type { Connection } from '../src/shared/config/connections.js';
import { LlmService } from '../src/shared/engine/index.js';
import { runBatch } from '../src/shared/runs/index.js';
import { startFlowServer, type ServeCacheOptions } from '../src/shared/serve/index.js';

const [lines, rpm, windowMs, serveSeconds, cacheRequests] = [600, 100, 2000, 4, 2000].map((d, i) =>
  Number(process.argv[2 + i] ?? d),
);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const ms = (x: number) => x.toFixed(1);

function pooled(servers: ModelServerHandle[]): Connection {
  const endpoints = servers.map((s) => ({
    type: 'AzureOpenAIConnection',
    value: { api_key: 'k', api_base: s.url },
    weight: 1,
    priority: 1,
  }));
  return { name: 'conn', type: 'AzureOpenAIConnection', value: endpoints[0].value, secretKeys: ['api_key'], endpoints };
}

function writeFlow(dir: string): string {
  const flow = join(dir, 'flow');
  mkdirSync(flow, { recursive: true });
  writeFileSync(
    join(flow, 'flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${ask.output}"}\nnodes:\n- name: ask\n  type: llm\n  source: {type: code, path: ask.jinja2}\n  connection: conn\n  api: chat\n  inputs: {deployment_name: gpt-4o-mini, question: "${inputs.question}"}\n',
  );
  writeFileSync(join(flow, 'ask.jinja2'), '# user:\n{{question}}\n');
  return flow;
}

async function bulkRun(dir: string, flow: string): Promise<void> {
  const data = join(dir, 'data.jsonl');
  writeFileSync(
    data,
    Array.from({ length: lines }, (_, i) => JSON.stringify({ question: `q ${i}` })).join('\n') + '\n',
  );
  console.log(`\n### 1. Bulk run over a pool of two model servers, ${rpm} requests per ${windowMs} ms each\n`);
  console.log('| endpoints | lines | failed | seconds | lines/s | limits allow (lines/s) | share of the limits |');
  console.log('|---|---|---|---|---|---|---|');
  for (const n of [1, 2]) {
    const servers = await Promise.all(Array.from({ length: n }, () => startModelServer({ rpm, windowMs })));
    const conn = n === 1 ? { ...pooled(servers), endpoints: undefined } : pooled(servers);
    const llm = new LlmService({ maxConcurrency: 32 });
    const t0 = performance.now();
    const s = await runBatch({
      flow,
      data,
      storeRoot: join(dir, `store${n}`),
      connections: [conn],
      concurrency: 32,
      llm,
    });
    const seconds = (performance.now() - t0) / 1000;
    // A sliding window lets `rpm` through at once, then `rpm` per window: over T seconds at most rpm·(T/W + 1).
    const allowed = n * rpm * (seconds / (windowMs / 1000) + 1);
    console.log(
      `| ${n} | ${lines} | ${s.counts.failed} | ${seconds.toFixed(2)} | ${(lines / seconds).toFixed(1)} | ${((n * rpm) / (windowMs / 1000)).toFixed(1)} | ${(Math.min(lines, allowed) / allowed).toFixed(3)} |`,
    );
    await Promise.all(servers.map((x) => x.close()));
  }
}

/** Closed-loop clients for `seconds`; `at(t)` runs once at half time. Latencies in ms by phase. */
async function load(
  url: string,
  clients: number,
  seconds: number,
  body: (i: number) => string,
  half?: () => Promise<void>,
): Promise<{ before: number[]; after: number[]; failed: number; statuses: Record<string, number>; hits: number }> {
  const before: number[] = [];
  const after: number[] = [];
  const statuses: Record<string, number> = {};
  let failed = 0;
  let hits = 0;
  let phase = 0;
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const timer = setTimeout(
    () => {
      phase = 1;
      void half?.();
    },
    (seconds * 1000) / 2,
  );
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const r = await fetch(`${url}/score`, {
            method: 'POST',
            body: body(n++),
            headers: { 'content-type': 'application/json' },
          });
          await r.text();
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          if (r.status !== 200) failed++;
          if (r.headers.get('x-llmops-cache') === 'hit') hits++;
        } catch {
          failed++;
        }
        (phase ? after : before).push(performance.now() - t0);
      }
    }),
  );
  clearTimeout(timer);
  return { before, after, failed, statuses, hits };
}

async function serveFailover(flow: string): Promise<void> {
  console.log(
    `\n### 2. flow serve over a pool of two model servers (20 ms each), one killed at ${serveSeconds / 2} s\n`,
  );
  const servers = await Promise.all([startModelServer({ latencyMs: 20 }), startModelServer({ latencyMs: 20 })]);
  const server = await startFlowServer({ flow, connections: [pooled(servers)], port: 0, log: false });
  const r = await load(
    server.url,
    16,
    serveSeconds,
    (i) => JSON.stringify({ question: `q ${i}` }),
    () => servers[0].close(),
  );
  console.log('| phase | requests | failed | p50 ms | p95 ms | p99 ms |');
  console.log('|---|---|---|---|---|---|');
  for (const [label, xs] of [
    ['both servers', r.before],
    ['one killed', r.after],
  ] as const)
    console.log(`| ${label} | ${xs.length} | - | ${ms(pct(xs, 50))} | ${ms(pct(xs, 95))} | ${ms(pct(xs, 99))} |`);
  console.log(`| total | ${r.before.length + r.after.length} | ${r.failed} | | | |`);
  await server.close();
  await servers[1].close();
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function startRedis(): Promise<{ url: string; close(): void } | undefined> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const ok = await new Promise<boolean>((resolve) => {
    let out = '';
    child.once('error', () => resolve(false));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve(true);
    });
  });
  return ok ? { url: `redis://127.0.0.1:${port}`, close: () => child.kill('SIGTERM') } : undefined;
}

async function cacheRows(flow: string): Promise<void> {
  const distinct = 50;
  console.log(
    `\n### 3. Response cache: ${cacheRequests} requests over ${distinct} distinct questions, 16 clients, model 50 ms\n`,
  );
  console.log('| cache | requests | hit rate | requests/s | p50 ms | p95 ms | model calls |');
  console.log('|---|---|---|---|---|---|---|');
  const redis = await startRedis();
  const modes: [string, ServeCacheOptions | undefined][] = [
    ['none', undefined],
    ['in-process', {}],
    ...(redis ? ([['redis', { redisUrl: redis.url }]] as [string, ServeCacheOptions][]) : []),
  ];
  for (const [label, cache] of modes) {
    const model = await startModelServer({ latencyMs: 50 });
    const conn: Connection = {
      name: 'conn',
      type: 'AzureOpenAIConnection',
      value: { api_key: 'k', api_base: model.url },
      secretKeys: ['api_key'],
    };
    const server = await startFlowServer({ flow, connections: [conn], port: 0, log: false, cache });
    let sent = 0;
    const latencies: number[] = [];
    let hits = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (sent < cacheRequests) {
          const i = sent++;
          const q = `question ${(i * 7919) % distinct}`;
          const s = performance.now();
          const r = await fetch(`${server.url}/score`, {
            method: 'POST',
            body: JSON.stringify({ question: q }),
            headers: { 'content-type': 'application/json' },
          });
          await r.text();
          if (r.headers.get('x-llmops-cache') === 'hit') hits++;
          latencies.push(performance.now() - s);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `| ${label} | ${latencies.length} | ${(hits / latencies.length).toFixed(3)} | ${(latencies.length / seconds).toFixed(0)} | ${ms(pct(latencies, 50))} | ${ms(pct(latencies, 95))} | ${model.stats().byEndpoint.chat ?? 0} |`,
    );
    await server.close();
    await model.close();
  }
  if (!redis) console.log('\n(redis-server not found: the Redis row is left out)');
  redis?.close();
}

async function main(): Promise<void> {
  console.log(`node ${process.version}`);
  const dir = mkdtempSync(join(tmpdir(), 'llmops-bench-pools-'));
  try {
    const flow = writeFlow(dir);
    await bulkRun(dir, flow);
    await serveFailover(flow);
    await cacheRows(flow);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
