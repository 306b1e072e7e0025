/**
 * A loopback traffic split in front of local flow servers, as a rollout `TrafficTarget`: requests to its URL go
 * to the versions by their integer weights, in a smooth weighted round robin (every 100 requests follow the
 * weights exactly), so a test knows how many requests each version answered. The weights are what the rollout
 * core writes and reads back, with an ETag like the real targets.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConcurrentEdit, type TrafficMap, type TrafficTarget } from '../../../src/shared/deploy/rollout.js';

export interface SplitTarget extends TrafficTarget {
  url: string;
  /** Every write, in order. */
  writes: TrafficMap[];
  close(): Promise<void>;
}

export async function startSplitTarget(versions: Record<string, string>, initial: TrafficMap): Promise<SplitTarget> {
  let traffic: TrafficMap = { ...initial };
  let etag = 1;
  const credit: Record<string, number> = {};
  const pick = (): string => {
    // Smooth weighted round robin (as nginx does): deterministic and exact over each cycle of 100.
    let best: string | undefined;
    for (const [v, w] of Object.entries(traffic)) {
      credit[v] = (credit[v] ?? 0) + w;
      if (best === undefined || credit[v] > credit[best]) best = v;
    }
    credit[best!] -= 100;
    return best!;
  };
  const server: Server = createServer((req, res) => {
    const version = pick();
    const upstream = new URL(req.url ?? '/', versions[version]);
    const out = request(upstream, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-version': version });
      answer.pipe(res);
    });
    out.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
  const writes: TrafficMap[] = [];
  return {
    url: `http://127.0.0.1:${port}`,
    writes,
    readTraffic: () => Promise.resolve({ traffic: { ...traffic }, etag: String(etag) }),
    writeTraffic: (map, tag) => {
      if (tag !== undefined && tag !== String(etag)) throw new ConcurrentEdit(`etag ${tag} is stale`);
      traffic = Object.fromEntries(Object.entries(map).filter(([, w]) => w > 0));
      for (const k of Object.keys(credit)) delete credit[k];
      writes.push({ ...traffic });
      etag++;
      return Promise.resolve();
    },
    provision: async (version) => {
      const r = await fetch(`${versions[version]}/health`);
      if (!r.ok) throw new Error(`${version} is not healthy (${r.status})`);
    },
    listVersions: () => Promise.resolve(Object.keys(versions)),
    deleteVersion: () => Promise.resolve(),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
