/**
 * Flow server load test: what `llmops flow serve` adds over the model's own latency (budget: < 2 ms p99 at
 * 500 requests/s, DESIGN.md). Open-loop load (requests start on a fixed schedule, not when the previous one
 * ends, so a slow server cannot hide its queueing) at RATE req/s for BENCH_RUN_MS, against
 *   1. the model server directly (the same chat request the flow's llm node sends) — the baseline, and
 *   2. the flow server's /score (a one-llm-node flow: tests/serve/fixtures/chat).
 * The model server (fixed latency) and the flow server run in their own processes; the load generator is this one.
 *
 * Run (tsx is not installed; esbuild bundles it into dist/, where the schemas are found by walking up):
 *   npx esbuild bench/serve.ts --bundle --platform=node --format=esm --outfile=dist/bench-serve.mjs \
 *     "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
 *     && node dist/bench-serve.mjs
 * Env: BENCH_RATES (default "250,500"), BENCH_RUN_MS (default 5000), BENCH_LATENCY_MS (default 20), BENCH_REPS (3).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startModelServer } from '../src/model-server/index.js';
import { startFlowServer } from '../src/shared/serve/index.js';

const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 5000);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 20);
const RATES = (process.env.BENCH_RATES ?? '250,500').split(',').map(Number);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const FLOW = path.resolve(process.env.BENCH_FLOW ?? 'tests/serve/fixtures/chat');

async function role(): Promise<boolean> {
  const [r, arg] = process.argv.slice(2);
  if (r === 'model') {
    const m = await startModelServer({ latencyMs: LATENCY });
    process.stdout.write(`${m.url}\n`);
    return true;
  }
  if (r === 'flow') {
    const conn = { name: 'conn', type: 'AzureOpenAIConnection', value: { api_key: 'k', api_base: arg }, secretKeys: ['api_key'] };
    const s = await startFlowServer({ flow: FLOW, connections: [conn], port: 0, log: () => {} });
    process.stdout.write(`${s.url}\n`);
    return true;
  }
  return false;
}

function child(args: string[]): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [process.argv[1], ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => proc.stdout!.once('data', (b: Buffer) => resolve({ proc, url: b.toString().trim() })));
}

interface Run {
  achieved: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
}

/** Fires one request every 1000/rate ms (drift-corrected) for RUN_MS; latencies of the ones that finish. */
async function openLoop(rate: number, send: () => Promise<Response>): Promise<Run> {
  const latencies: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < RUN_MS) {
    const due = start + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    n++;
    const t0 = performance.now();
    pending.push(
      send().then(
        async (res) => {
          await res.arrayBuffer();
          if (res.status === 200) latencies.push(performance.now() - t0);
          else errors++;
        },
        () => void errors++,
      ),
    );
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)];
  return { achieved: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1], errors };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  if (await role()) return;
  const model = await child(['model']);
  const flow = await child(['flow', model.url]);
  const question = 'What is the capital of France?';
  const bare = () =>
    fetch(`${model.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-02-01`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': 'k' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: question }], temperature: 1, top_p: 1, n: 1, stream: false, max_tokens: 256 }),
    });
  const served = () => fetch(`${flow.url}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ question }) });
  // Warm both paths (connections, JIT, tokenizer).
  await openLoop(200, bare);
  await openLoop(200, served);
  console.log(`model latency ${LATENCY} ms, ${RUN_MS / 1000} s per run, median of ${REPS} runs, Node ${process.version}\n`);
  console.log('| target req/s | path | achieved req/s | p50 ms | p99 ms | max ms | errors |');
  console.log('|---:|---|---:|---:|---:|---:|---:|');
  const summary: string[] = [];
  for (const rate of RATES) {
    const runs: { bare: Run; flow: Run }[] = [];
    for (let i = 0; i < REPS; i++) runs.push({ bare: await openLoop(rate, bare), flow: await openLoop(rate, served) });
    for (const key of ['bare', 'flow'] as const) {
      const m = (f: (r: Run) => number) => median(runs.map((r) => f(r[key])));
      console.log(`| ${rate} | ${key === 'bare' ? 'model server directly' : 'flow server /score'} | ${m((r) => r.achieved).toFixed(0)} | ${m((r) => r.p50).toFixed(2)} | ${m((r) => r.p99).toFixed(2)} | ${m((r) => r.max).toFixed(1)} | ${runs.reduce((a, r) => a + r[key].errors, 0)} |`);
    }
    const addedP50 = median(runs.map((r) => r.flow.p50 - r.bare.p50));
    const addedP99 = median(runs.map((r) => r.flow.p99 - r.bare.p99));
    summary.push(`| ${rate} | ${addedP50.toFixed(2)} | ${addedP99.toFixed(2)} | ${addedP99 < 2 ? 'yes' : 'no'} |`);
  }
  console.log('\n| target req/s | added p50 ms | added p99 ms | within 2 ms p99 budget |');
  console.log('|---:|---:|---:|---|');
  for (const s of summary) console.log(s);
  model.proc.kill();
  flow.proc.kill();
}

await main();
