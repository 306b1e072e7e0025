/**
 * The flow server under steady load does not make young-generation collections promote its finished requests: the
 * p99 budget (bench/README-serve.md) fell to scavenge pauses that copied and promoted megabytes of dead requests,
 * kept alive through Sets whose replaced backing tables (in old space) still listed them.
 */
import http from 'node:http';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ModelServerHandle } from '../../src/model-server/index.js';
import { startFlowServer, type FlowServer } from '../../src/shared/serve/index.js';
import { FIX, modelServer } from './helpers.js';

let model: ModelServerHandle;
let server: FlowServer;
const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });

beforeAll(async () => {
  const m = await modelServer(1);
  model = m.model;
  server = await startFlowServer({ flow: `${FIX}/chat`, connections: [m.conn], port: 0, log: () => undefined });
});
afterAll(async () => {
  agent.destroy();
  await server.close();
  await model.close();
});

function score(): Promise<number> {
  const body = JSON.stringify({ question: 'What is the capital of France?' });
  const u = new URL(`${server.url}/score`);
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

interface HeapStats {
  heapStatistics: { usedHeapSize: number };
  heapSpaceStatistics: { spaceName: string; spaceUsedSize: number }[];
}
function oldBytes(h: HeapStats): number {
  const young = h.heapSpaceStatistics
    .filter((s) => s.spaceName === 'new_space' || s.spaceName === 'new_large_object_space')
    .reduce((sum, s) => sum + s.spaceUsedSize, 0);
  return h.heapStatistics.usedHeapSize - young;
}

test('ten requests in flight for 3,000 requests: scavenges promote about what is in flight, not every request', async () => {
  await load(200, 10);
  // Full collections move everything long-lived (the server's tables included) to old space, as they do in a
  // server that has run a while; from then on only what a scavenge finds alive should move there.
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  const profiler = new v8.GCProfiler();
  profiler.start();
  await load(3000, 10);
  const stats = profiler.stop() as unknown as {
    statistics: { gcType: string; beforeGC: HeapStats; afterGC: HeapStats }[];
  };
  const scavenges = stats.statistics.filter((g) => g.gcType === 'Scavenge');
  expect(scavenges.length).toBeGreaterThan(2);
  const promoted = scavenges.reduce((sum, g) => sum + Math.max(0, oldBytes(g.afterGC) - oldBytes(g.beforeGC)), 0);
  // The load generator and the model server share this process; 256 KB per scavenge is far above what ten
  // requests in flight hold, and far below the megabytes that dead requests kept alive made it.
  expect(promoted / scavenges.length).toBeLessThan(256 * 1024);
});
