/**
 * The local target's traffic split, in process against two loopback servers: weights followed exactly over each
 * 100 requests, writes under an ETag (a stale one is a concurrent edit), reads answered by the proxy itself once
 * it applies the last write, and clear answers when nothing or a dead server has the traffic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { splitTarget, startSplitServer, writeRoutes, type SplitServer } from '../../src/shared/deploy/local-split.js';
import { ConcurrentEdit } from '../../src/shared/deploy/rollout.js';

let dir: string;
let servers: Server[] = [];
let split: SplitServer | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-split-'));
});
afterEach(async () => {
  await split?.close();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
  rmSync(dir, { recursive: true, force: true });
});

async function upstream(name: string): Promise<string> {
  const s = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(req.url === '/health' ? 'ok' : name);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

test('weights are followed exactly, writes go under an ETag and are read back from the proxy', async () => {
  const colours = { blue: await upstream('blue'), green: await upstream('green') };
  const routesFile = path.join(dir, 'routes.json');
  writeRoutes(routesFile, { etag: 1, routes: { blue: { url: colours.blue, weight: 100 } } });
  split = await startSplitServer(routesFile);
  const target = splitTarget({ routesFile, splitUrl: split.url, servers: () => colours });
  const count = async (n: number) => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await fetch(`${split!.url}/score`, { method: 'POST', body: '{}' });
      const body = await r.text();
      expect(r.headers.get('x-llmops-version')).toBe(body);
      seen[body] = (seen[body] ?? 0) + 1;
    }
    return seen;
  };
  expect(await count(10)).toEqual({ blue: 10 });

  const before = await target.readTraffic();
  expect(before).toEqual({ traffic: { blue: 100 }, etag: '1' });
  await target.writeTraffic({ blue: 70, green: 30 }, before.etag);
  expect(await target.readTraffic()).toEqual({ traffic: { blue: 70, green: 30 }, etag: '2' });
  expect(await count(100)).toEqual({ blue: 70, green: 30 });

  await expect(target.writeTraffic({ green: 100 }, before.etag)).rejects.toBeInstanceOf(ConcurrentEdit);
  await target.provision('green');
  await expect(target.provision('red')).rejects.toThrow(/red is not healthy/);
});

test('no version with traffic is a 503, a dead server a 502 naming its colour; the status path is never forwarded', async () => {
  const routesFile = path.join(dir, 'routes.json');
  writeRoutes(routesFile, { etag: 1, routes: {} });
  split = await startSplitServer(routesFile);
  const empty = await fetch(`${split.url}/score`, { method: 'POST', body: '{}' });
  expect(empty.status).toBe(503);
  expect(await empty.json()).toEqual({ error: 'no version has traffic' });

  writeRoutes(routesFile, { etag: 2, routes: { green: { url: 'http://127.0.0.1:9', weight: 100 } } });
  const status = await (await fetch(`${split.url}/.llmops/split`)).json();
  expect(status).toEqual({ etag: 2, traffic: { green: 100 } });
  const dead = await fetch(`${split.url}/score`, { method: 'POST', body: '{}' });
  expect(dead.status).toBe(502);
  expect(((await dead.json()) as { error: string }).error).toMatch(/^green did not answer/);
});
