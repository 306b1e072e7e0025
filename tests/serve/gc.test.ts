/**
 * The flow server under steady load does not make young-generation collections promote its finished requests: the
 * p99 budget (bench/README-serve.md) fell to scavenge pauses that copied and promoted megabytes of dead requests,
 * kept alive through Sets whose replaced backing tables (in old space) still listed them.
 *
 * Measured on `llmops flow serve` itself, in its own process, with V8's own count of the bytes each scavenge
 * promoted (`--trace-gc-nvp`): the load generator and the model server stay in this process, so neither they nor
 * the test runner's heap can move the figure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { FIX } from './helpers.js';

let model: ModelServerHandle;
let dir: string;
let server: ChildProcess;
let url: string;
/** Every scavenge the server reported so far: bytes it promoted to the old generation. */
const promotedPerScavenge: number[] = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });

beforeAll(async () => {
  model = await startModelServer({ latencyMs: 1 });
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-gc-'));
  const connections = path.join(dir, 'conn.yaml');
  writeFileSync(connections, `name: conn\ntype: azure_open_ai\napi_base: ${model.url}\napi_key: model-key-123\n`);
  server = spawn(
    process.execPath,
    [
      '--trace-gc-nvp',
      path.resolve('dist/cli.js'),
      'flow',
      'serve',
      path.resolve(FIX, 'chat'),
      '--port',
      '0',
      '--connections',
      connections,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LLMOPS_RELAUNCH: '0' } },
  );
  // V8 writes one line per collection to stdout; a scavenge's line has gc=s and promoted=<bytes>.
  let partial = '';
  server.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!/\bgc=s\b/.test(line)) continue;
      const promoted = /\bpromoted=(\d+)/.exec(line);
      if (promoted) promotedPerScavenge.push(Number(promoted[1]));
    }
  });
  url = await new Promise<string>((resolve, reject) => {
    let err = '';
    server.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const listening = /"msg":"listening","url":"([^"]+)"/.exec(err);
      if (listening) resolve(listening[1]);
    });
    server.once('exit', (code) => reject(new Error(`flow serve exited with ${code}:\n${err}`)));
  });
});
afterAll(async () => {
  agent.destroy();
  if (server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  await model.close();
  rmSync(dir, { recursive: true, force: true });
});

function score(): Promise<number> {
  const body = JSON.stringify({ question: 'What is the capital of France?' });
  const u = new URL(`${url}/score`);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `total` requests, `inFlight` at a time (each sent when one ends). */
async function load(total: number, inFlight: number): Promise<void> {
  let sent = 0;
  const statuses: number[] = [];
  const worker = async () => {
    while (sent < total) {
      sent++;
      statuses.push(await score());
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
}

test('ten requests in flight for 5,000 requests: scavenges promote about what is in flight, not every request', async () => {
  // A warm-up, so what lives as long as the server (compiled code, its tables, pooled sockets) has reached the old
  // generation, as it has in a server that has run a while; from then on only what a scavenge finds alive moves.
  await load(2000, 10);
  const before = promotedPerScavenge.length;
  await load(5000, 10);
  const scavenges = promotedPerScavenge.slice(before);
  expect(scavenges.length).toBeGreaterThan(2);
  const mean = scavenges.reduce((sum, bytes) => sum + bytes, 0) / scavenges.length;
  // 256 KB per scavenge is far above what ten requests in flight hold (about 16 KB each), and far below the
  // megabytes that dead requests kept alive made it.
  expect(mean).toBeLessThan(256 * 1024);
});
