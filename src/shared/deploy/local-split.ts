/**
 * The local target's traffic split: a small loopback proxy (`llmops serve-split`) in front of the blue and green
 * flow servers, sending each request to a colour by integer weights. The weights live in a routes file the
 * rollout writes (with an ETag, as a cloud target's traffic map has); the proxy re-reads it when it changes and
 * says what it applies at `GET /.llmops/split`, so the rollout's read-back is of the proxy, not of the file.
 *
 * Weighted round robin is smooth (nginx's): every cycle of 100 requests follows the weights exactly, so a 10 %
 * stage gives the new colour 10 of every 100 requests, not 10 on average.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, ServiceError } from '../errors.js';
import { writeJsonAtomic } from '../files.js';
import { ConcurrentEdit, type TrafficMap, type TrafficTarget } from './rollout.js';

/** The path the proxy answers itself (never forwarded): its applied routes. */
export const SPLIT_STATUS_PATH = '/.llmops/split';

/** The routes file: each colour's base URL and weight, and the ETag of this version of it. */
export interface SplitRoutes {
  etag: number;
  routes: Record<string, { url: string; weight: number }>;
}

export function readRoutes(file: string): SplitRoutes {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as SplitRoutes;
    if (typeof v.etag !== 'number' || !v.routes || typeof v.routes !== 'object') throw new Error('no etag or routes');
    return v;
  } catch (e) {
    throw ConfigError.at(
      { file },
      `found ${(e as Error).message}; expected the traffic split's routes written by llmops deploy`,
    );
  }
}

export function writeRoutes(file: string, routes: SplitRoutes): void {
  writeJsonAtomic(file, routes);
}

/** The weights of a routes file as a traffic map (colours at 0 left out). */
export function trafficOf(routes: SplitRoutes): TrafficMap {
  return Object.fromEntries(
    Object.entries(routes.routes)
      .filter(([, r]) => r.weight > 0)
      .map(([k, r]) => [k, r.weight]),
  );
}

export interface SplitServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the split on loopback; the routes file is looked at again at most every 50 ms. */
export async function startSplitServer(routesFile: string, port = 0): Promise<SplitServer> {
  let routes = readRoutes(routesFile);
  let checked = Date.now();
  const credit: Record<string, number> = {};
  // The file is tiny: read again at most every 50 ms (not by mtime, which two quick writes can share).
  const refresh = (force: boolean) => {
    if (!force && Date.now() - checked < 50) return;
    checked = Date.now();
    if (!existsSync(routesFile)) return;
    const next = readRoutes(routesFile);
    if (next.etag !== routes.etag) for (const k of Object.keys(credit)) delete credit[k];
    routes = next;
  };
  const pick = (): string | undefined => {
    let best: string | undefined;
    for (const [colour, r] of Object.entries(routes.routes)) {
      if (r.weight <= 0) continue;
      credit[colour] = (credit[colour] ?? 0) + r.weight;
      if (best === undefined || credit[colour] > credit[best]) best = colour;
    }
    if (best !== undefined) credit[best] -= Object.values(routes.routes).reduce((s, r) => s + Math.max(0, r.weight), 0);
    return best;
  };
  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    try {
      refresh(req.url === SPLIT_STATUS_PATH);
    } catch (e) {
      // A routes file being replaced by hand: keep the last good routes and say so on the status path.
      if (req.url === SPLIT_STATUS_PATH) return answer(res, 500, { error: (e as Error).message });
    }
    if (req.url === SPLIT_STATUS_PATH && req.method === 'GET')
      return answer(res, 200, { etag: routes.etag, traffic: trafficOf(routes) });
    const colour = pick();
    if (!colour) return answer(res, 503, { error: 'no version has traffic' });
    const upstream = new URL(req.url ?? '/', routes.routes[colour].url);
    const out = request(upstream, { method: req.method, headers: req.headers }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, { ...reply.headers, 'x-llmops-version': colour });
      reply.pipe(res);
    });
    out.on('error', (e) => {
      if (!res.headersSent) answer(res, 502, { error: `${colour} did not answer: ${e.message}` });
      else res.destroy();
    });
    req.pipe(out);
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The split as a rollout target: the versions are the colours, their servers already started by the caller
 * (`provision` checks the new one answers /health). Writes go to the routes file under its ETag; reads ask the
 * proxy what it applies, waiting (up to 5 s) until it has picked up the last write.
 */
export function splitTarget(o: {
  routesFile: string;
  splitUrl: string;
  /** Colour → its server's base URL. */
  servers: () => Record<string, string>;
}): TrafficTarget {
  const status = async () => {
    const r = await fetch(`${o.splitUrl}${SPLIT_STATUS_PATH}`, { signal: AbortSignal.timeout(5000) });
    const body = (await r.json()) as { etag: number; traffic: TrafficMap; error?: string };
    if (!r.ok) throw new ServiceError(`the traffic split at ${o.splitUrl} failed: ${body.error ?? r.status}`);
    return body;
  };
  return {
    async readTraffic() {
      const wanted = readRoutes(o.routesFile).etag;
      const deadline = Date.now() + 5000;
      for (;;) {
        const s = await status();
        if (s.etag === wanted || Date.now() > deadline) return { traffic: s.traffic, etag: String(s.etag) };
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async writeTraffic(traffic, etag) {
      const current = readRoutes(o.routesFile);
      if (etag !== undefined && etag !== String(current.etag))
        throw new ConcurrentEdit(`the routes changed (ETag ${current.etag}, expected ${etag})`);
      const servers = o.servers();
      const routes: SplitRoutes['routes'] = {};
      for (const [colour, weight] of Object.entries(traffic)) {
        const url = servers[colour] ?? current.routes[colour]?.url;
        if (!url) throw new ServiceError(`no server of ${colour} to send ${weight}% of the traffic to`);
        routes[colour] = { url, weight };
      }
      writeRoutes(o.routesFile, { etag: current.etag + 1, routes });
    },
    async provision(version) {
      const url = o.servers()[version];
      const r = url
        ? await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined)
        : undefined;
      if (!r?.ok) throw new ServiceError(`${version} is not healthy${url ? ` at ${url}` : ''}`);
    },
    listVersions: () => Promise.resolve(Object.keys(o.servers())),
    // Servers are stopped by the local deployment once the rollout is decided.
    deleteVersion: () => Promise.resolve(),
  };
}
