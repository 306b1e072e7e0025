/**
 * Live heap per request in flight in the flow server: what its scavenges copy while requests wait for the model.
 * The flow server (this process, tests/serve/fixtures/chat) gets BENCH_LIVE_N requests (default 50, under the
 * model client's concurrency ceiling) from a client process, held at a model server in a third process that answers
 * in BENCH_LIVE_LATENCY_MS (default 3000). One heap snapshot while they wait, one when they are answered (the same
 * keep-alive sockets still open); the difference per request, by V8 node type, is printed.
 *
 *   npx esbuild bench/serve-live.ts --bundle --platform=node --format=esm --outfile=dist/bench-serve-live.mjs \
 *     "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
 *     && node dist/bench-serve-live.mjs
 */
import { fork } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { startModelServer } from '../src/model-server/index.js';
import { startFlowServer } from '../src/shared/serve/index.js';

const N = Number(process.env.BENCH_LIVE_N ?? 50);
const LATENCY = Number(process.env.BENCH_LIVE_LATENCY_MS ?? 3000);

/** Count and bytes per "type:name" of a snapshot (strings and code folded into one row each). */
function census(file: string): Map<string, [number, number]> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const rows = new Map<string, [number, number]>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const t = types[snap.nodes[i + type]];
    const n = t.includes('string') ? '(string)' : t === 'code' ? '(code)' : snap.strings[snap.nodes[i + name]];
    const key = `${t}:${String(n).slice(0, 50)}`;
    const row = rows.get(key) ?? [0, 0];
    row[0]++;
    row[1] += snap.nodes[i + size];
    rows.set(key, row);
  }
  return rows;
}

async function client(url: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 });
  const body = JSON.stringify({ question: 'What is the capital of France?' });
  const send = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        `${url}/score`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => res.resume().on('end', resolve),
      );
      req.on('error', reject);
      req.end(body);
    });
  process.on('message', () => void Promise.all(Array.from({ length: N }, send)).then(() => process.send!('done')));
  process.send!('ready');
}

async function main(): Promise<void> {
  const [role, arg] = process.argv.slice(2);
  if (role === 'model') return void process.send!((await startModelServer({ latencyMs: Number(arg) })).url);
  if (role === 'client') return client(arg);
  const model = fork(process.argv[1], ['model', String(LATENCY)]);
  const modelUrl = await new Promise<string>((r) => model.once('message', (u) => r(u as string)));
  const conn = {
    name: 'conn',
    type: 'AzureOpenAIConnection',
    value: { api_key: 'k', api_base: modelUrl },
    secretKeys: ['api_key'],
  };
  const server = await startFlowServer({
    flow: path.resolve('tests/serve/fixtures/chat'),
    connections: [conn as never],
    port: 0,
    log: false,
  });
  const load = fork(process.argv[1], ['client', server.url]);
  await new Promise((r) => load.once('message', r));
  const round = () =>
    new Promise((r) => {
      load.once('message', r);
      load.send('go');
    });
  await round(); // sockets both ways and the JIT warmed up
  const answered = round();
  await new Promise((r) => setTimeout(r, Math.min(1500, LATENCY / 2)));
  const busy = v8.writeHeapSnapshot(path.join(os.tmpdir(), `serve-live-busy-${process.pid}.heapsnapshot`));
  await answered;
  await new Promise((r) => setTimeout(r, 200));
  const idle = v8.writeHeapSnapshot(path.join(os.tmpdir(), `serve-live-idle-${process.pid}.heapsnapshot`));
  model.kill();
  load.kill();
  const [before, during] = [census(idle), census(busy)];
  rmSync(busy);
  rmSync(idle);
  const rows = [...during].map(([k, [c, b]]) => {
    const [c0, b0] = before.get(k) ?? [0, 0];
    return { k, count: (c - c0) / N, bytes: (b - b0) / N };
  });
  const total = rows.reduce((a, r) => a + r.bytes, 0);
  console.log(`${N} requests in flight, Node ${process.version}: ${(total / 1024).toFixed(1)} KB live per request\n`);
  console.log('| bytes | objects | V8 type:name |\n|---:|---:|---|');
  for (const r of rows.sort((a, b) => b.bytes - a.bytes).slice(0, 20))
    console.log(`| ${r.bytes.toFixed(0)} | ${r.count.toFixed(1)} | ${r.k} |`);
  await server.close();
  process.exit(0);
}

await main();
