/**
 * Benchmark of the LLM layer: the local model server's throughput, the client's overhead against a bare
 * fetch loop, and the share of an rpm limit the client sustains. Prints tables; figures go to README-llm.md.
 *
 * Run (tsx is not installed; esbuild bundles it, the banner gives CommonJS dependencies a `require`):
 *   npx esbuild bench/model-server.ts --bundle --platform=node --format=esm --outfile=/tmp/bench-ms.mjs \
 *     "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
 *     && node /tmp/bench-ms.mjs
 *
 * The server runs in a child process (its own core), so the load generator does not steal its CPU; the
 * server reports its own CPU time, which gives its capacity per core independently of the client's speed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import OpenAI from 'openai';
import { LlmClient } from '../src/shared/llm/client.js';
import { startModelServer, type ModelServerOptions } from '../src/model-server/index.js';

const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 2000);
const REPS = Number(process.env.BENCH_REPS ?? 3);

interface Probe {
  cpu: NodeJS.CpuUsage;
  requests: number;
  stats: { rateLimited: number };
}

async function serverProcess(
  options: ModelServerOptions,
): Promise<{ url: string; child: ChildProcess; probe(): Promise<Probe> }> {
  const child = spawn(process.execPath, [process.argv[1], '--serve', JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve) => child.stdout!.once('data', (d) => resolve(String(d).trim())));
  const probe = () =>
    new Promise<Probe>((resolve) => {
      child.once('message', (m) => resolve(m as Probe));
      child.send('probe');
    });
  return { url, child, probe };
}

const body = {
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'What is the capital of France? Answer briefly.' },
  ],
};
const bodyText = JSON.stringify(body);

/** Calls per second of `call` run by `concurrency` loops for RUN_MS. */
async function rate(concurrency: number, call: () => Promise<unknown>, ms = RUN_MS): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await call();
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => n.toFixed(0).padStart(8);

async function main(): Promise<void> {
  console.log(`node ${process.version}, run ${RUN_MS} ms x ${REPS} (medians)\n`);

  // 1. Server throughput at latency 0, bare fetch with keep-alive (Node's global fetch pools connections).
  {
    const s = await serverProcess({});
    const bare = () =>
      fetch(`${s.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
        body: bodyText,
      }).then((r) => r.json());
    await rate(8, bare, 1000);
    console.log('1. model server, latency 0, bare fetch client in another process');
    console.log('concurrency  achieved req/s  server CPU us/req  server capacity req/s/core');
    for (const c of [1, 8, 32]) {
      const a = await s.probe();
      const rps = median(await reps(() => rate(c, bare)));
      const b = await s.probe();
      const us = (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / (b.requests - a.requests);
      console.log(`${String(c).padStart(11)}  ${fmt(rps)}        ${fmt(us)}           ${fmt(1e6 / us)}`);
    }
    s.child.kill();
  }

  // 2. Bare fetch vs the llmops client (and the openai SDK) at the same concurrency.
  console.log('\n2. bare fetch vs llmops client vs openai SDK (req/s, ratio to bare fetch)');
  console.log('latency  concurrency  bare fetch  llmops client  ratio  openai SDK  ratio');
  for (const latencyMs of [0, 50]) {
    const s = await serverProcess({ latencyMs });
    const bare = () =>
      fetch(`${s.url}/openai/deployments/gpt-4o/chat/completions?api-version=2024-02-01`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'api-key': 'k' },
        body: bodyText,
      }).then((r) => r.json());
    const client = new LlmClient({
      connection: { type: 'azure_open_ai', api_base: s.url, api_key: 'k' },
      maxConcurrency: 64,
    });
    const sdk = new OpenAI({ apiKey: 'k', baseURL: `${s.url}/v1`, maxRetries: 0 });
    const viaClient = () => client.chat(body);
    const viaSdk = () => sdk.chat.completions.create(body as OpenAI.ChatCompletionCreateParamsNonStreaming);
    await rate(8, bare, 500);
    await rate(8, viaClient, 500);
    await rate(8, viaSdk, 500);
    for (const c of [8, 32]) {
      const b: number[] = [];
      const l: number[] = [];
      const o: number[] = [];
      for (let i = 0; i < REPS; i++) {
        b.push(await rate(c, bare));
        l.push(await rate(c, viaClient));
        o.push(await rate(c, viaSdk));
      }
      const [mb, ml, mo] = [median(b), median(l), median(o)];
      console.log(
        `${String(latencyMs).padStart(5)} ms  ${String(c).padStart(11)}  ${fmt(mb)}    ${fmt(ml)}     ${(ml / mb).toFixed(2)}    ${fmt(mo)}   ${(mo / mb).toFixed(2)}`,
      );
    }
    s.child.kill();
  }

  // 3. Share of an rpm limit sustained (limit per window; windows shortened so the run is seconds, not minutes).
  console.log('\n3. rpm-limited server: share of the limit sustained by the llmops client over 10 s, deep queue');
  console.log('latency  limit/window  concurrency  completed  allowed  share  429s');
  for (const [latencyMs, rpm, windowMs, conc] of [
    [50, 100, 1000, 16],
    [0, 100, 1000, 16],
    [50, 1000, 10_000, 32],
    [200, 300, 1000, 64],
  ]) {
    const s = await startModelServer({ rpm, windowMs, latencyMs });
    const client = new LlmClient({
      connection: { type: 'azure_open_ai', api_base: s.url, api_key: 'k' },
      maxConcurrency: conc,
    });
    const T = 10_000;
    const end = Date.now() + T;
    let ok = 0;
    let i = 0;
    await Promise.all(
      Array.from({ length: conc * 4 }, async () => {
        while (Date.now() < end) {
          await client.chat({ model: 'm', messages: [{ role: 'user', content: `q${i++}` }] });
          if (Date.now() < end) ok++;
        }
      }),
    );
    const allowed = (rpm * T) / windowMs;
    console.log(
      `${String(latencyMs).padStart(5)} ms  ${`${rpm}/${windowMs / 1000}s`.padStart(12)}  ${String(conc).padStart(11)}  ${String(ok).padStart(9)}  ${String(allowed).padStart(7)}  ${(ok / allowed).toFixed(2)}  ${String(s.stats().rateLimited).padStart(5)}`,
    );
    await s.close();
  }
}

async function reps(fn: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < REPS; i++) out.push(await fn());
  return out;
}

// Last, so every constant above is initialised: the same file is the benchmark and (with --serve) its server.
if (process.argv[2] === '--serve') {
  const server = await startModelServer(JSON.parse(process.argv[3]) as ModelServerOptions);
  process.stdout.write(`${server.url}\n`);
  process.on('message', () =>
    process.send!({ cpu: process.cpuUsage(), requests: server.stats().requests, stats: server.stats() }),
  );
} else {
  await main();
}
