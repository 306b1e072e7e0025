/**
 * Flow server load test: what `llmops flow serve` adds over the model's own latency (budget: < 2 ms p99 at
 * 500 requests/s, DESIGN.md). Open-loop load (requests start on a fixed schedule, not when the previous one
 * ends, so a slow server cannot hide its queueing) at RATE req/s for BENCH_RUN_MS, against
 *   1. the model server directly (the same chat request the flow's llm node sends) — the baseline,
 *   2. a bare proxy: a dozen lines of node:http that forward the body to the model over a keep-alive agent —
 *      what any Node hop costs on this machine, the floor a flow server cannot go under, and
 *   3. the flow server's /score (a one-llm-node flow: tests/serve/fixtures/chat).
 * Each server runs in its own process; the load generator is this one. The three paths take turns within each
 * repeat, so a change in the machine's load hits all of them alike. Every server process reports over IPC, per
 * run, its CPU time (process.cpuUsage), its event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution)
 * and its GC pauses (PerformanceObserver 'gc'), and the two servers in front of the model their own time per request
 * (ownTimeProbe; none with BENCH_FLOW_TRANSPORT=fetch, whose calls node's http channels do not see); the load
 * generator reports its own event-loop delay, since a stalled client inflates every path's latency.
 *
 * Run (esbuild bundles it into dist/, where the schemas are found by walking up):
 *   npx esbuild bench/serve.ts --bundle --platform=node --format=esm --outfile=dist/bench-serve.mjs \
 *     "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
 *     && node dist/bench-serve.mjs
 * Env: BENCH_RATES (default "500"), BENCH_RUN_MS (default 3000), BENCH_LATENCY_MS (default 20), BENCH_REPS (5),
 * BENCH_ACCESS_LOG=1 (the flow server writes its JSON access log to stderr, a pipe this process drains, as a container
 * runtime's log collector would; =null: to /dev/null instead),
 * BENCH_FLOW_TRANSPORT=fetch|node (the model client's transport in the flow server; default node),
 * BENCH_JSON=file (every run's figures, for a later look), BENCH_FLOW_NODE_ARGS (node options of the flow server),
 * BENCH_PATHS=proxy,flow (only those paths), BENCH_IN_FLIGHT=n (closed loop, n requests in flight), BENCH_OWN_TIME=0
 * (no own-time probe), BENCH_FLOW_HEAP_PROFILE=file and BENCH_FLOW_HEAP_PROFILE_ALL=1 (see liveHeapProfile).
 *
 * Next to the latencies, every server reports figures the machine's load does not move (v8.GCProfiler): heap bytes
 * allocated per request, scavenges per 1,000 requests, and per scavenge what survived it (young generation after it
 * plus what it promoted) and what it promoted. A scavenge's pause grows with what survives it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn, type ChildProcess } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import inspector from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { startModelServer } from '../src/model-server/index.js';
import { startFlowServer } from '../src/shared/serve/index.js';

const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 3000);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 20);
const RATES = (process.env.BENCH_RATES ?? '500').split(',').map(Number);
const REPS = Number(process.env.BENCH_REPS ?? 5);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 0);
const loadLabel = (rate: number) => (IN_FLIGHT > 0 ? `${IN_FLIGHT} in flight` : String(rate));
const FLOW = path.resolve(process.env.BENCH_FLOW ?? 'tests/serve/fixtures/chat');
const ACCESS_LOG = process.env.BENCH_ACCESS_LOG === '1' || process.env.BENCH_ACCESS_LOG === 'null';
const LOG_TO_PIPE = process.env.BENCH_ACCESS_LOG === '1';
const TRANSPORT = process.env.BENCH_FLOW_TRANSPORT as 'node' | 'fetch' | undefined;

/** What a process did during one run. */
interface ProcStats {
  cpuUs: number;
  /** Event-loop delay beyond the 1 ms timer, ms. */
  elP50: number;
  elP99: number;
  elMax: number;
  gcCount: number;
  gcMs: number;
  gcMaxMs: number;
  /** Servers in front of the model: per request, its time in this process minus its wait for the model (ms). */
  ownP50?: number;
  ownP99?: number;
  /** From v8.GCProfiler: heap bytes allocated, scavenges, what survived them and what they promoted to old space. */
  allocBytes: number;
  scavenges: number;
  survivedBytes: number;
  survivedMaxBytes: number;
  promotedBytes: number;
  /** Scavenge time as V8 counts it (its own threads included), ms. */
  scavengeMs: number;
  scavengeMaxMs: number;
}

type HeapSnapshotStats = {
  heapStatistics: { usedHeapSize: number };
  heapSpaceStatistics: { spaceName: string; spaceUsedSize: number }[];
};
const spaceUsed = (h: HeapSnapshotStats, name: string) =>
  h.heapSpaceStatistics.find((s) => s.spaceName === name)?.spaceUsedSize ?? 0;
/** Everything outside the young generation: what a scavenge promotes lands here. */
const oldUsed = (h: HeapSnapshotStats) =>
  h.heapStatistics.usedHeapSize - spaceUsed(h, 'new_space') - spaceUsed(h, 'new_large_object_space');

/**
 * Allocation and survivors, which the machine's load does not change (wall-clock percentiles do): bytes allocated
 * = the heap's growth between collections; a scavenge's survivors = the young generation after it plus what it
 * promoted (its pause grows with those, not with what it freed).
 */
function gcProbe(): {
  reset(): void;
  read(): Pick<
    ProcStats,
    'allocBytes' | 'scavenges' | 'survivedBytes' | 'survivedMaxBytes' | 'promotedBytes' | 'scavengeMs' | 'scavengeMaxMs'
  >;
} {
  let profiler = new v8.GCProfiler();
  let usedAtStart = 0;
  return {
    reset() {
      profiler.stop();
      profiler = new v8.GCProfiler();
      usedAtStart = v8.getHeapStatistics().used_heap_size;
      profiler.start();
    },
    read() {
      const result = profiler.stop() as unknown as {
        statistics: { gcType: string; cost: number; beforeGC: HeapSnapshotStats; afterGC: HeapSnapshotStats }[];
      };
      profiler = new v8.GCProfiler();
      let alloc = 0;
      let used = usedAtStart;
      const out = {
        scavenges: 0,
        survivedBytes: 0,
        survivedMaxBytes: 0,
        promotedBytes: 0,
        scavengeMs: 0,
        scavengeMaxMs: 0,
      };
      for (const g of result.statistics) {
        alloc += Math.max(0, g.beforeGC.heapStatistics.usedHeapSize - used);
        used = g.afterGC.heapStatistics.usedHeapSize;
        if (g.gcType !== 'Scavenge') continue;
        const promoted = Math.max(0, oldUsed(g.afterGC) - oldUsed(g.beforeGC));
        const survived = spaceUsed(g.afterGC, 'new_space') + spaceUsed(g.afterGC, 'new_large_object_space') + promoted;
        out.scavenges++;
        out.survivedBytes += survived;
        out.survivedMaxBytes = Math.max(out.survivedMaxBytes, survived);
        out.promotedBytes += promoted;
        out.scavengeMs += g.cost / 1000;
        out.scavengeMaxMs = Math.max(out.scavengeMaxMs, g.cost / 1000);
      }
      alloc += Math.max(0, v8.getHeapStatistics().used_heap_size - used);
      return { allocBytes: alloc, ...out };
    },
  };
}

/** Measures this process between reset() and read(). */
function processProbe(): { reset(): void; read(): ProcStats } {
  const heap = gcProbe();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let cpu = process.cpuUsage();
  let gc = { count: 0, ms: 0, max: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.ms += e.duration;
      gc.max = Math.max(gc.max, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  return {
    reset() {
      cpu = process.cpuUsage();
      heap.reset();
      loop.reset();
      gc = { count: 0, ms: 0, max: 0 };
    },
    read() {
      const used = process.cpuUsage(cpu);
      // The histogram holds the time between timer ticks (ns); the expected 1 ms is not a delay.
      const delay = (ns: number) => Math.max(0, ns / 1e6 - 1);
      return {
        cpuUs: used.user + used.system,
        elP50: delay(loop.percentile(50)),
        elP99: delay(loop.percentile(99)),
        elMax: delay(loop.max),
        gcCount: gc.count,
        gcMs: gc.ms,
        gcMaxMs: gc.max,
        ...heap.read(),
      };
    },
  };
}

/**
 * What a server in front of the model adds itself: for every request, the time from its arrival to the answer
 * sent, minus the time its call to the model took (node's http and undici's diagnostics channels; the outgoing call is tied to
 * its incoming request through AsyncLocalStorage, which follows the request's promises into the model client).
 * Stalls of this process count; the load generator's and the model server's do not.
 */
function ownTimeProbe(): { reset(): void; read(): { ownP50: number; ownP99: number } } {
  interface Timing {
    start: number;
    upStart: number;
    upMs: number;
  }
  const current = new AsyncLocalStorage<Timing>();
  const byResponse = new WeakMap<object, Timing>();
  const byCall = new WeakMap<object, Timing>();
  let own: number[] = [];
  subscribe('http.server.request.start', (m) => {
    const t: Timing = { start: performance.now(), upStart: 0, upMs: 0 };
    byResponse.set((m as { response: object }).response, t);
    current.enterWith(t);
  });
  subscribe('http.client.request.start', (m) => {
    const t = current.getStore();
    if (!t) return;
    t.upStart = performance.now();
    byCall.set((m as { request: object }).request, t);
  });
  subscribe('http.client.response.finish', (m) => {
    const t = byCall.get((m as { request: object }).request);
    if (t) t.upMs += performance.now() - t.upStart;
  });
  // The flow server's model client calls through undici's dispatcher (src/shared/llm/transport.ts), whose own
  // channels mark a call's creation and its end (trailers: the whole answer read).
  subscribe('undici:request:create', (m) => {
    const t = current.getStore();
    if (!t) return;
    t.upStart = performance.now();
    byCall.set((m as { request: object }).request, t);
  });
  subscribe('undici:request:trailers', (m) => {
    const t = byCall.get((m as { request: object }).request);
    if (t) t.upMs += performance.now() - t.upStart;
  });
  subscribe('http.server.response.finish', (m) => {
    const t = byResponse.get((m as { response: object }).response);
    if (t && t.upMs > 0) own.push(performance.now() - t.start - t.upMs);
  });
  return {
    reset: () => void (own = []),
    read() {
      own.sort((a, b) => a - b);
      const q = (p: number) => own[Math.min(own.length - 1, Math.ceil(p * own.length) - 1)] ?? 0;
      return { ownP50: q(0.5), ownP99: q(0.99) };
    },
  };
}

/**
 * BENCH_FLOW_HEAP_PROFILE=file: a sampling heap profile of the flow server over each run (file-1.heapprofile, ...)
 * that keeps every sampled object a young-generation collection did not free: alive at the end, or promoted to old
 * space and freed later by a full collection. With BENCH_FLOW_NODE_ARGS=--expose-gc two minor collections at the
 * end drop the young garbage, so the profile shows, by allocation stack, what survives scavenges — what their
 * pauses copy. With BENCH_FLOW_HEAP_PROFILE_ALL=1 it keeps every sampled allocation instead (where the bytes
 * allocated per request go). Open it in Chrome's DevTools (Memory tab).
 */
const ALLOCATIONS = process.env.BENCH_FLOW_HEAP_PROFILE_ALL === '1';
function liveHeapProfile(file: string): { start(): Promise<void>; stop(): Promise<void> } {
  const session = new inspector.Session();
  session.connect();
  let n = 0;
  return {
    start: () =>
      session.post('HeapProfiler.startSampling', {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: ALLOCATIONS,
      }),
    async stop() {
      const gc = (globalThis as { gc?: (o: object) => void }).gc;
      gc?.({ type: 'minor' });
      gc?.({ type: 'minor' });
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(file.replace(/(\.heapprofile)?$/, `-${++n}.heapprofile`), JSON.stringify(profile));
    },
  };
}

/** A child process: sends its URL, then answers 'reset' and 'read' over IPC with its ProcStats. */
async function role(): Promise<boolean> {
  const [r, arg] = process.argv.slice(2);
  let url: string;
  if (r === 'model') url = (await startModelServer({ latencyMs: LATENCY })).url;
  else if (r === 'flow') {
    const conn = {
      name: 'conn',
      type: 'AzureOpenAIConnection',
      value: { api_key: 'k', api_base: arg },
      secretKeys: ['api_key'],
    };
    url = (
      await startFlowServer({
        flow: FLOW,
        connections: [conn],
        port: 0,
        ...(ACCESS_LOG ? {} : { log: false }),
        ...(TRANSPORT ? { llm: { client: { transport: TRANSPORT } } } : {}),
      })
    ).url;
  } else if (r === 'proxy') url = await startBareProxy(arg);
  else return false;
  const probe = processProbe();
  // BENCH_OWN_TIME=0: without the own-time probe (its channels and async context cost the server something).
  const own = r === 'model' || process.env.BENCH_OWN_TIME === '0' ? undefined : ownTimeProbe();
  const heapProfile =
    r === 'flow' && process.env.BENCH_FLOW_HEAP_PROFILE
      ? liveHeapProfile(process.env.BENCH_FLOW_HEAP_PROFILE)
      : undefined;
  process.on('message', (m) => {
    void (async () => {
      if (m === 'reset') {
        await heapProfile?.start();
        probe.reset();
        own?.reset();
      }
      const stats = m === 'read' ? { ...probe.read(), ...own?.read() } : undefined;
      if (m === 'read') await heapProfile?.stop();
      process.send!(stats ?? 'ok');
    })();
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ url });
  return true;
}

/** The least a Node server in front of the model can do: read the body, send it on, pipe the answer back. */
async function startBareProxy(modelUrl: string): Promise<string> {
  const target = new URL(modelUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 256, scheduling: 'lifo' });
  const upstream = `/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-02-01`;
  const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    // Through a promise, as the flow server reads its body: the call to the model then runs in this request's
    // async context (what ownTimeProbe follows), not in the socket's.
    void new Promise((end) => req.on('end', end)).then(() => {
      const { question } = JSON.parse(Buffer.concat(parts).toString()) as { question: string };
      const body = JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: question },
        ],
        max_tokens: 256,
      });
      const out = http.request(
        {
          hostname: target.hostname,
          port: target.port,
          path: upstream,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'api-key': 'k', 'content-length': Buffer.byteLength(body) },
        },
        (up) => {
          let text = '';
          up.setEncoding('utf8');
          up.on('data', (c: string) => (text += c));
          up.on('end', () => {
            const answer = JSON.stringify({
              answer: (JSON.parse(text) as { choices: { message: { content: string } }[] }).choices[0].message.content,
              question,
            });
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
            res.end(answer);
          });
        },
      );
      out.on('error', () => res.writeHead(502).end());
      out.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Child {
  proc: ChildProcess;
  url: string;
  ask(m: 'reset' | 'read'): Promise<ProcStats>;
}

function child(args: string[]): Promise<Child> {
  // BENCH_FLOW_NODE_ARGS: node options of the flow server alone (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
  const nodeArgs = args[0] === 'flow' ? (process.env.BENCH_FLOW_NODE_ARGS ?? '').split(' ').filter(Boolean) : [];
  const proc = spawn(process.execPath, [...nodeArgs, process.argv[1], ...args], {
    stdio: [
      'ignore',
      'inherit',
      ACCESS_LOG && args[0] === 'flow' ? (LOG_TO_PIPE ? 'pipe' : 'ignore') : 'inherit',
      'ipc',
    ],
  });
  // The access log read and dropped; anything else the server writes to stderr is passed on.
  proc.stderr?.on('data', (b: Buffer) => {
    for (const line of b.toString().split('\n'))
      if (line && !line.startsWith('{"time"')) process.stderr.write(line + '\n');
  });
  const ask = (m: 'reset' | 'read') =>
    new Promise<ProcStats>((resolve) => {
      proc.once('message', (v) => resolve(v as ProcStats));
      proc.send(m);
    });
  return new Promise((resolve) => proc.once('message', (m) => resolve({ proc, url: (m as { url: string }).url, ask })));
}

interface Run {
  achieved: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  /** The process that answered the load (the model server for the baseline). */
  server: ProcStats;
  /** The model server, when another server stood in front of it. */
  model?: ProcStats;
  client: ProcStats;
  load1: number;
}

/** The load generator's own client: node:http with a keep-alive agent, the cheapest Node offers (fetch costs the
 * loaded machine more CPU, and this process shares the two cores with the servers it measures). */
const loadAgent = new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024, scheduling: 'lifo' });
type Send = () => Promise<number>;
function poster(url: string, headers: Record<string, string>, body: string): Send {
  const u = new URL(url);
  const options: http.RequestOptions = {
    hostname: u.hostname,
    port: u.port,
    path: `${u.pathname}${u.search}`,
    method: 'POST',
    agent: loadAgent,
    headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
  };
  return () =>
    new Promise((resolve, reject) => {
      const req = http.request(options, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
}

/**
 * Fires one request every 1000/rate ms (drift-corrected) for RUN_MS; latencies of the ones that finish. With
 * BENCH_IN_FLIGHT=n, a closed loop instead: n requests always in flight, each sent when the previous one ends. The
 * rate then follows the machine, but what a server keeps alive at any moment (n requests' objects, what its
 * scavenges copy) does not: survivor figures that the machine's load cannot move.
 */
async function openLoop(rate: number, send: Send): Promise<Pick<Run, 'achieved' | 'p50' | 'p99' | 'max' | 'errors'>> {
  const latencies: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let n = 0;
  const worker = async () => {
    while (performance.now() - start < RUN_MS) {
      const t0 = performance.now();
      const status = await send().catch(() => 0);
      if (status === 200) latencies.push(performance.now() - t0);
      else errors++;
    }
  };
  if (IN_FLIGHT > 0) for (let i = 0; i < IN_FLIGHT; i++) pending.push(worker());
  while (IN_FLIGHT === 0 && performance.now() - start < RUN_MS) {
    const due = start + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    n++;
    const t0 = performance.now();
    pending.push(
      send().then(
        (status) => {
          if (status === 200) latencies.push(performance.now() - t0);
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
  return {
    achieved: latencies.length / elapsed,
    p50: q(0.5),
    p99: q(0.99),
    max: latencies[latencies.length - 1],
    errors,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ALL_PATHS = ['bare', 'proxy', 'flow'] as const;
type PathName = (typeof ALL_PATHS)[number];
/** BENCH_PATHS=flow (or proxy,flow): only those paths, e.g. to look at allocation alone; added figures need bare. */
const PATHS: readonly PathName[] = process.env.BENCH_PATHS
  ? ALL_PATHS.filter((p) => process.env.BENCH_PATHS!.split(',').includes(p))
  : ALL_PATHS;
const LABEL: Record<PathName, string> = {
  bare: 'model server directly',
  proxy: 'bare node:http proxy',
  flow: 'flow server /score',
};

async function main(): Promise<void> {
  if (await role()) return;
  const model = await child(['model']);
  const proxy = await child(['proxy', model.url]);
  const flow = await child(['flow', model.url]);
  const clientProbe = processProbe();
  const question = 'What is the capital of France?';
  const json = { 'content-type': 'application/json' };
  const send: Record<PathName, Send> = {
    bare: poster(
      `${model.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-02-01`,
      { ...json, 'api-key': 'k' },
      JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: question },
        ],
        temperature: 1,
        top_p: 1,
        n: 1,
        stream: false,
        max_tokens: 256,
      }),
    ),
    proxy: poster(`${proxy.url}/score`, json, JSON.stringify({ question })),
    flow: poster(`${flow.url}/score`, json, JSON.stringify({ question })),
  };
  const front: Record<PathName, Child> = { bare: model, proxy, flow };
  // Warm every path (connections, JIT, tokenizer).
  for (const p of PATHS) await openLoop(200, send[p]);
  const all: Record<string, unknown>[] = [];
  console.log(
    `model latency ${LATENCY} ms, ${RUN_MS / 1000} s per run, median of ${REPS} runs, ${IN_FLIGHT > 0 ? `closed loop: ${IN_FLIGHT} requests in flight, ` : ''}Node ${process.version}, ${os.cpus().length} CPUs, access log ${ACCESS_LOG ? (LOG_TO_PIPE ? 'on (stderr, a pipe)' : 'on (to /dev/null)') : 'off'}, model client transport ${TRANSPORT ?? 'node'}\n`,
  );
  console.log(
    '| req/s | path | achieved | p50 ms | p99 ms | max ms | errors | server alloc KB/req | server scavenges /1000 req | server survived KB/scavenge mean (max) | server promoted KB/scavenge | server scavenge ms mean (max) | server CPU µs/req | server own time p50/p99 ms | server loop delay p50/p99/max ms | server GC ms/s (max pause) | model CPU µs/req | client loop delay p99/max ms | load1 |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---|---|---|---:|---|---:|');
  const summary: string[] = [];
  for (const rate of RATES) {
    const runs: Record<PathName, Run>[] = [];
    for (let i = 0; i < REPS; i++) {
      const rep = {} as Record<PathName, Run>;
      for (const p of PATHS) {
        await Promise.all([...new Set([model, front[p]])].map((c) => c.ask('reset')));
        clientProbe.reset();
        const r = await openLoop(rate, send[p]);
        const [server, m] = await Promise.all([front[p].ask('read'), p === 'bare' ? undefined : model.ask('read')]);
        rep[p] = { ...r, server, model: m, client: clientProbe.read(), load1: os.loadavg()[0] };
        all.push({ rate, rep: i, path: p, ...rep[p] });
      }
      runs.push(rep);
    }
    for (const p of PATHS) {
      const m = (f: (r: Run) => number) => median(runs.map((r) => f(r[p])));
      const n = (r: Run) => r.achieved * (RUN_MS / 1000);
      const modelCpu = p === 'bare' ? m((r) => r.server.cpuUs / n(r)) : m((r) => r.model!.cpuUs / n(r));
      console.log(
        `| ${loadLabel(rate)} | ${LABEL[p]} | ${m((r) => r.achieved).toFixed(0)} | ${m((r) => r.p50).toFixed(2)} | ${m((r) => r.p99).toFixed(2)} | ${m((r) => r.max).toFixed(1)} | ${runs.reduce((a, r) => a + r[p].errors, 0)} | ` +
          `${m((r) => r.server.allocBytes / n(r) / 1024).toFixed(1)} | ${m((r) => (r.server.scavenges / n(r)) * 1000).toFixed(1)} | ` +
          `${m((r) => r.server.survivedBytes / Math.max(1, r.server.scavenges) / 1024).toFixed(0)} (${m((r) => r.server.survivedMaxBytes / 1024).toFixed(0)}) | ${m((r) => r.server.promotedBytes / Math.max(1, r.server.scavenges) / 1024).toFixed(0)} | ` +
          `${m((r) => r.server.scavengeMs / Math.max(1, r.server.scavenges)).toFixed(2)} (${m((r) => r.server.scavengeMaxMs).toFixed(2)}) | ` +
          `${p === 'bare' ? '—' : m((r) => r.server.cpuUs / n(r)).toFixed(0)} | ${p === 'bare' || m((r) => r.server.ownP99 ?? 0) === 0 ? '—' : `${m((r) => r.server.ownP50!).toFixed(2)} / ${m((r) => r.server.ownP99!).toFixed(2)}`} | ${m((r) => r.server.elP50).toFixed(2)} / ${m((r) => r.server.elP99).toFixed(2)} / ${m((r) => r.server.elMax).toFixed(1)} | ` +
          `${m((r) => r.server.gcMs / (RUN_MS / 1000)).toFixed(1)} (${m((r) => r.server.gcMaxMs).toFixed(1)}) | ${modelCpu.toFixed(0)} | ${m((r) => r.client.elP99).toFixed(2)} / ${m((r) => r.client.elMax).toFixed(1)} | ${m((r) => r.load1).toFixed(2)} |`,
      );
    }
    if (!PATHS.includes('bare')) continue;
    const p99s = (k: PathName) => runs.map((r) => r[k].p99);
    const range = (k: PathName) => `${Math.min(...p99s(k)).toFixed(1)}–${Math.max(...p99s(k)).toFixed(1)}`;
    // How much the baseline's own p99 moves between runs: an added p99 smaller than this cannot be told apart.
    const noise = Math.max(...p99s('bare')) - Math.min(...p99s('bare'));
    const added = (k: PathName, f: (r: Run) => number) => median(runs.map((r) => f(r[k]) - f(r.bare)));
    for (const p of (['proxy', 'flow'] as const).filter((x) => PATHS.includes(x))) {
      const addedP99 = added(p, (r) => r.p99);
      const verdict =
        noise >= 2
          ? `cannot tell (baseline p99 moves ${noise.toFixed(1)} ms between runs)`
          : addedP99 < 2
            ? 'yes'
            : 'no';
      summary.push(
        `| ${loadLabel(rate)} | ${LABEL[p]} | ${added(p, (r) => r.p50).toFixed(2)} | ${addedP99.toFixed(2)} | ${range('bare')} | ${range(p)} | ${p === 'flow' ? (PATHS.includes('proxy') ? median(runs.map((r) => r.flow.p99 - r.proxy.p99)).toFixed(2) : '—') : '—'} | ${verdict} |`,
      );
    }
  }
  console.log(
    '\n| req/s | path | added p50 ms | added p99 ms | baseline p99 range ms | path p99 range ms | flow p99 − proxy p99 ms | added p99 < 2 ms |',
  );
  console.log('|---:|---|---:|---:|---|---|---:|---|');
  for (const s of summary) console.log(s);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(all, null, 1));
  // Disconnecting lets each child exit by itself (a CPU profile is written on exit, not on a kill).
  for (const c of [model, proxy, flow]) c.proc.disconnect();
}

await main();
