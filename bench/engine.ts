/**
 * Engine benchmark: lines/s of `runBatch` for a one-LLM-node flow against the local model server (in a child
 * process) at latency 0 and 50 ms, concurrency 1/8/32, compared with a bare fetch loop at the same concurrency
 * (run alternately with the engine, repeat by repeat) and with the ideal C/L; engine overhead per line (wall
 * and CPU); peak RSS; the share of an rpm limit (429 + Retry-After) a run sustains; and a flow with two python
 * nodes. Every figure is the median over the repeats.
 *
 *   npx esbuild bench/engine.ts --bundle --platform=node --format=esm --target=node20 --outfile=dist/bench-engine.mjs \
 *     --banner:js="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
 *   node dist/bench-engine.mjs [lines=10000] [repeats=3]
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startModelServer, type ModelServerOptions } from '../src/model-server/index.js';
import { runBatch } from '../src/shared/runs/index.js';

interface Server {
  url: string;
  child: ChildProcess;
  stats(): Promise<{ requests: number; rateLimited: number }>;
}

/** The model server in its own process, so it does not share the event loop (or the CPU profile) with the engine. */
async function startServer(options: ModelServerOptions): Promise<Server> {
  const child = fork(fileURLToPath(import.meta.url), ['--server', JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve) => child.once('message', (m: { url: string }) => resolve(m.url)));
  const stats = () =>
    new Promise<{ requests: number; rateLimited: number }>((resolve) => {
      child.once('message', (m: { stats: { requests: number; rateLimited: number } }) => resolve(m.stats));
      child.send('stats');
    });
  return { url, child, stats };
}

interface Sample {
  rate: number;
  /** CPU of this process per line (µs), user + system. */
  cpuUs: number;
}

async function measure(lines: number, fn: () => Promise<void>): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { rate: lines / (ms / 1000), cpuUs: (cpu.user + cpu.system) / lines };
}

function bareFetch(url: string, lines: number, concurrency: number): Promise<void> {
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'question 1' }],
    temperature: 1,
    top_p: 1,
    stream: false,
  });
  let next = 0;
  return Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < lines) {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
          body,
        });
        await res.json();
      }
    }),
  ).then(() => undefined);
}

/** The same loop over node:http with a keep-alive agent: the bare cost of the engine's own transport. */
const bareAgent = new http.Agent({ keepAlive: true, maxSockets: 1024, scheduling: 'lifo' });
function bareHttp(url: string, lines: number, concurrency: number): Promise<void> {
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'question 1' }],
    temperature: 1,
    top_p: 1,
    stream: false,
  });
  const u = new URL(`${url}/v1/chat/completions`);
  const post = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          hostname: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent: bareAgent,
          headers: {
            'content-type': 'application/json',
            authorization: 'Bearer k',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.setEncoding('utf8');
          let text = '';
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            JSON.parse(text);
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let next = 0;
  return Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < lines) await post();
    }),
  ).then(() => undefined);
}

function writeFlows(dir: string): { llmFlow: string; pyFlow: string } {
  const llmFlow = join(dir, 'llm');
  mkdirSync(llmFlow);
  writeFileSync(
    join(llmFlow, 'flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${ask.output}"}\nnodes:\n- name: ask\n  type: llm\n  source: {type: code, path: ask.jinja2}\n  connection: conn\n  api: chat\n  inputs: {model: gpt-4o-mini, question: "${inputs.question}"}\n',
  );
  writeFileSync(join(llmFlow, 'ask.jinja2'), '# user:\n{{question}}\n');
  const pyFlow = join(dir, 'py');
  mkdirSync(pyFlow);
  writeFileSync(
    join(pyFlow, 'flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  out: {type: string, reference: "${b.output}"}\nnodes:\n- name: a\n  type: python\n  source: {type: code, path: a.py}\n  inputs: {text: "${inputs.question}"}\n- name: b\n  type: python\n  source: {type: code, path: a.py}\n  inputs: {text: "${a.output}"}\n',
  );
  writeFileSync(
    join(pyFlow, 'a.py'),
    'from promptflow.core import tool\n\n\n@tool\ndef up(text: str) -> str:\n    return text.upper()\n',
  );
  return { llmFlow, pyFlow };
}

const dataFiles = new Map<number, string>();
function dataOf(dir: string, n: number): string {
  let file = dataFiles.get(n);
  if (!file) {
    file = join(dir, `data-${n}.jsonl`);
    writeFileSync(
      file,
      Array.from({ length: n }, (_, i) => JSON.stringify({ question: `question ${i}` })).join('\n') + '\n',
    );
    dataFiles.set(n, file);
  }
  return file;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rssMb = () => process.resourceUsage().maxRSS / 1024;
/** The model client's transport (BENCH_TRANSPORT=fetch for the A/B against undici fetch). */
const transport = process.env.BENCH_TRANSPORT === 'fetch' ? ('fetch' as const) : ('node' as const);
const connOf = (url: string) => ({
  name: 'conn',
  type: 'OpenAIConnection',
  value: { api_key: 'k', base_url: `${url}/v1` },
  secretKeys: ['api_key'],
});

async function main(): Promise<void> {
  const lines = Number(process.argv[2] ?? 10_000);
  const repeats = Number(process.argv[3] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'llmops-bench-engine-'));
  const store = join(dir, 'store');
  const { llmFlow, pyFlow } = writeFlows(dir);
  console.log(
    `node ${process.version}, ${lines} lines at latency 0, medians of ${repeats} repeats (bare fetch and engine alternate), client transport ${transport}\n`,
  );
  const rows: string[] = [
    '| latency | C | lines | bare fetch lines/s | bare node:http lines/s | engine lines/s | engine/bare fetch | engine/bare node:http | engine/ideal C/L | overhead/line, wall (ms) | engine − bare CPU/line (ms) | peak RSS (MB) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  console.log(rows.join('\n'));
  // BENCH_ONLY=0:32,0:8 measures just those latency:C points (and skips the rpm and python sections).
  const only = process.env.BENCH_ONLY?.split(',').map((p) => p.trim());
  for (const latency of [0, 50]) {
    if (only && !only.some((p) => p.startsWith(`${latency}:`))) continue;
    const server = await startServer({ latencyMs: latency });
    const conn = connOf(server.url);
    for (const c of [1, 8, 32]) {
      if (only && !only.includes(`${latency}:${c}`)) continue;
      const n = latency === 0 ? lines : c === 1 ? 200 : c === 8 ? 1000 : 4000;
      const data = dataOf(dir, n);
      await bareFetch(server.url, Math.min(n, 500), c); // warm up sockets and JIT
      const bare: Sample[] = [];
      const bareH: Sample[] = [];
      const engine: Sample[] = [];
      await bareHttp(server.url, Math.min(n, 500), c);
      for (let r = 0; r < repeats; r++) {
        bare.push(await measure(n, () => bareFetch(server.url, n, c)));
        bareH.push(await measure(n, () => bareHttp(server.url, n, c)));
        engine.push(
          await measure(n, async () => {
            const s = await runBatch({
              flow: llmFlow,
              data,
              storeRoot: store,
              connections: [conn],
              concurrency: c,
              llm: { maxConcurrency: 256, client: { transport } },
            });
            if (s.counts.completed !== n) throw new Error(`only ${s.counts.completed}/${n} lines completed`);
          }),
        );
      }
      const bareRate = median(bare.map((s) => s.rate));
      const engineRate = median(engine.map((s) => s.rate));
      const ratio = median(engine.map((s, i) => s.rate / bare[i].rate));
      const ideal = latency > 0 ? (c * 1000) / latency : NaN;
      const overhead = median(engine.map((s, i) => (1 / s.rate - 1 / bare[i].rate) * 1000 * c));
      const cpu = median(engine.map((s, i) => (s.cpuUs - bare[i].cpuUs) / 1000));
      const ratioH = median(engine.map((s, i) => s.rate / bareH[i].rate));
      const row = `| ${latency} ms | ${c} | ${n} | ${bareRate.toFixed(0)} | ${median(bareH.map((s) => s.rate)).toFixed(0)} | ${engineRate.toFixed(0)} | ${ratio.toFixed(2)} | ${ratioH.toFixed(2)} | ${Number.isNaN(ideal) ? '—' : (engineRate / ideal).toFixed(2)} | ${overhead.toFixed(3)} | ${cpu.toFixed(3)} | ${rssMb().toFixed(0)} |`;
      rows.push(row);
      console.log(row);
    }
    server.child.kill();
  }
  if (only) return;
  await rpmLimit(dir, llmFlow, store, repeats);
  const data = dataOf(dir, lines);
  const py: Sample[] = [];
  for (let r = 0; r < repeats; r++)
    py.push(
      await measure(
        lines,
        async () => void (await runBatch({ flow: pyFlow, data, storeRoot: store, concurrency: 8, pythonWorkers: 1 })),
      ),
    );
  console.log(
    `\ntwo python nodes, C=8, 1 worker: ${lines} lines, ${median(py.map((s) => s.rate)).toFixed(0)} lines/s, peak RSS ${rssMb().toFixed(0)} MB`,
  );
}

/**
 * A model limited to R requests per sliding window (429 + Retry-After beyond). Starting empty, request k can
 * start at floor(k / R) windows at the earliest, so N = 5R lines need at least 4 windows + one latency: the
 * share is that ideal time over the run's time (1.00 = every slot of the limit used).
 */
async function rpmLimit(dir: string, flow: string, store: string, repeats: number): Promise<void> {
  const perWindow = 200;
  const windowMs = 2000;
  const latencyMs = 50;
  const c = 32;
  const n = perWindow * 5;
  const data = dataOf(dir, n);
  const idealMs = Math.floor((n - 1) / perWindow) * windowMs + latencyMs;
  console.log(
    `\nrpm limit: ${perWindow} requests per ${windowMs / 1000} s window (${(perWindow * 60_000) / windowMs} rpm), latency ${latencyMs} ms, C=${c}, ${n} lines; ideal ${(idealMs / 1000).toFixed(2)} s`,
  );
  console.log(
    '| repeat | seconds | lines/s | share of the limit | completed | failed | 429s | requests |\n|---|---|---|---|---|---|---|---|',
  );
  const shares: number[] = [];
  for (let r = 0; r < repeats; r++) {
    // A fresh server per repeat: its window starts empty, as the ideal assumes.
    const server = await startServer({ latencyMs, rpm: perWindow, windowMs });
    const t0 = performance.now();
    const s = await runBatch({
      flow,
      data,
      storeRoot: store,
      connections: [connOf(server.url)],
      concurrency: c,
      llm: { maxConcurrency: 256 },
    });
    const ms = performance.now() - t0;
    const stats = await server.stats();
    server.child.kill();
    shares.push(idealMs / ms);
    console.log(
      `| ${r + 1} | ${(ms / 1000).toFixed(2)} | ${(n / (ms / 1000)).toFixed(0)} | ${(idealMs / ms).toFixed(2)} | ${s.counts.completed} | ${s.counts.failed} | ${stats.rateLimited} | ${stats.requests} |`,
    );
  }
  console.log(`median share of the limit: ${median(shares).toFixed(2)}`);
}

// Last, so every constant above is initialised: the same file is the benchmark and (with --server) its model server.
if (process.argv[2] === '--server') {
  const server = await startModelServer(JSON.parse(process.argv[3]) as ModelServerOptions);
  process.send!({ url: server.url });
  process.on('message', () => process.send!({ stats: server.stats() }));
} else {
  await main();
}
