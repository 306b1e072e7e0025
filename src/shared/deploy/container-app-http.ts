/**
 * Requests to a container app's own URLs (`https://<app>.<env domain>`, the label URL
 * `https://<app>---<label>.<env domain>`). `LLMOPS_CONTAINER_APPS_CONNECT_TO=<host>:<port>` sends them to another
 * address while keeping the URL's host name for TLS (SNI, certificate check) and the Host header, as curl's
 * `--connect-to` does: for an environment reached through a private ingress or a tunnel, and for the loopback
 * emulator. Without it, this is plain `fetch`.
 * @module
 */
import https from 'node:https';
import http from 'node:http';
import { ConfigError } from '../errors.js';

export const CONNECT_TO_VARIABLE = 'LLMOPS_CONTAINER_APPS_CONNECT_TO';

/** `fetch` for the app's URLs, honouring LLMOPS_CONTAINER_APPS_CONNECT_TO. */
export function containerAppFetch(env: NodeJS.ProcessEnv = process.env): typeof fetch {
  const value = env[CONNECT_TO_VARIABLE];
  if (!value) return fetch;
  const m = /^([^:\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(value.trim());
  if (!m)
    throw ConfigError.at(
      { file: `environment variable ${CONNECT_TO_VARIABLE}` },
      `found "${value}"; expected <host>:<port>, e.g. 10.0.0.4:443`,
    );
  return connectTo(m[1].replace(/^\[|\]$/g, ''), Number(m[2]));
}

function connectTo(host: string, port: number): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input.toString() : input.url);
    const headers = new Headers(init?.headers);
    const body = init?.body === undefined || init.body === null ? undefined : String(init.body as string);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const req = lib.request(
        {
          host,
          port,
          method: init?.method ?? 'GET',
          path: `${url.pathname}${url.search}`,
          servername: url.hostname,
          headers: { ...Object.fromEntries(headers.entries()), host: url.host },
          signal: init?.signal ?? undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const out = new Headers();
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : v);
            const status = res.statusCode ?? 502;
            const noBody = status === 204 || status === 304;
            resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, headers: out }));
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }) as typeof fetch;
}
