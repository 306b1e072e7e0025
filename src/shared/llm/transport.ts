/**
 * The transport of the client's JSON calls: one POST (or an http target's other method) over node:http(s) with a keep-alive agent per scheme.
 * Measured against undici's fetch (bench/engine.ts, bench/README-llm.md): fetch builds WHATWG Request/Response
 * objects and body streams per call, which at an instant model and high concurrency cost more CPU than the
 * whole engine; a plain ClientRequest with the body as one string, and the answer collected as one string, is
 * the cheapest path Node offers. Streams stay on fetch (client.ts); a caller's signal destroys the call's socket.
 * @module
 */
import http from 'node:http';
import https from 'node:https';

/** An answer, read whole. */
export interface RawResponse {
  status: number;
  statusText: string;
  /** Header value (lower-case name), or null. */
  header(name: string): string | null;
  text: string;
}

/** An in-flight request: its answer, and a way to drop it (destroys the socket, so nothing lingers). */
export interface PendingRequest {
  response: Promise<RawResponse>;
  abort(): void;
}

// LIFO reuse keeps a few sockets hot instead of cycling through all of them; the ceiling is far above the
// limiter's, so the limiter (limiter.ts) decides concurrency, not the agent's queue.
const agentOptions = { keepAlive: true, maxSockets: 1024, maxFreeSockets: 256, scheduling: 'lifo' as const };
const httpAgent = new http.Agent(agentOptions);
const httpsAgent = new https.Agent(agentOptions);

interface Target {
  secure: boolean;
  hostname: string;
  port: number | string;
  path: string;
  agent: http.Agent;
  /** The Host header node would send (`host[:port]`, brackets kept): headers given as an array get none added. */
  host: string;
}

/** Parsed request targets by URL (a handful per run: one per endpoint and model). */
const targets = new Map<string, Target>();

function targetOf(url: string): Target {
  let t = targets.get(url);
  if (!t) {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    t = {
      secure,
      hostname: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port || (secure ? 443 : 80),
      path: `${u.pathname}${u.search}`,
      agent: secure ? httpsAgent : httpAgent,
      host: u.host,
    };
    if (targets.size > 1000) targets.clear();
    targets.set(url, t);
  }
  return t;
}

/**
 * A call's headers as the flat name/value array node:http writes as it is: given an object, ClientRequest calls
 * setHeader per header (a lower-cased copy of each name and an entry array per header, per call). Validated here
 * once per headers object, as setHeader would have; an endpoint's key headers are one object for every call
 * (connections.ts), so the array is built once and only the call's own Host and Content-Length are added.
 */
const flatHeaders = new WeakMap<Record<string, string>, string[]>();
function flatten(headers: Record<string, string>): string[] {
  let flat = flatHeaders.get(headers);
  if (!flat) {
    flat = [];
    for (const name in headers) {
      if (name.toLowerCase() === 'host' || name.toLowerCase() === 'content-length') continue;
      http.validateHeaderName(name);
      http.validateHeaderValue(name, headers[name]);
      flat.push(name, headers[name]);
    }
    flatHeaders.set(headers, flat);
  }
  return flat;
}

/**
 * POSTs `body` to `url`. Network errors reject with Node's error (its `code`: ECONNREFUSED, ENOTFOUND, …). A
 * pooled socket the server closed while idle fails before any answer (ECONNRESET on a reused socket); that
 * request never reached the server, so it is sent again once on a fresh socket (the race Node's docs describe
 * for `request.reusedSocket`).
 */
export function postText(url: string, headers: Record<string, string>, body: string): PendingRequest {
  return sendText('POST', url, headers, body);
}

/**
 * Another method over the same agents and error handling (an http flow target's PUT, PATCH, or GET with its
 * inputs in the query): `body` undefined sends none, and no Content-Length.
 */
export function requestText(
  method: 'GET' | 'PUT' | 'PATCH' | 'POST',
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
): PendingRequest {
  return sendText(method, url, headers, body);
}

function sendText(method: string, url: string, headers: Record<string, string>, body: string | undefined) {
  const target = targetOf(url);
  const flat = [...flatten(headers), 'host', target.host];
  if (body !== undefined) flat.push('content-length', String(Buffer.byteLength(body)));
  const options: http.RequestOptions = {
    hostname: target.hostname,
    port: target.port,
    path: target.path,
    method,
    agent: target.agent,
    headers: flat,
  };
  let req: http.ClientRequest | undefined;
  let aborted = false;
  const send = (resolve: (r: RawResponse) => void, reject: (e: unknown) => void, retried: boolean) => {
    let answered = false;
    req = (target.secure ? https : http).request(options, (res) => {
      answered = true;
      // Bytes kept and decoded once at the end (no string decoder per answer; a character split between chunks
      // is joined before decoding).
      let first: Buffer | undefined;
      let more: Buffer[] | undefined;
      res.on('data', (chunk: Buffer) => {
        if (first === undefined) first = chunk;
        else (more ??= [first]).push(chunk);
      });
      res.on('end', () => {
        const text = more ? Buffer.concat(more).toString('utf8') : (first?.toString('utf8') ?? '');
        const h = res.headers;
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          header: (name) => {
            const v = h[name];
            return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
          },
          text,
        });
      });
      res.on('error', reject);
      // A connection dropped mid-body ends the message without 'end': a retryable network failure.
      res.on('close', () => {
        if (!res.complete)
          reject(Object.assign(new Error('connection closed before the answer was complete'), { code: 'ECONNRESET' }));
      });
    });
    const sent = req;
    sent.on('error', (e: NodeJS.ErrnoException) => {
      if (!answered && !retried && !aborted && sent.reusedSocket && e.code === 'ECONNRESET')
        send(resolve, reject, true);
      else reject(e);
    });
    if (body === undefined) sent.end();
    else sent.end(body);
  };
  const response = new Promise<RawResponse>((resolve, reject) => send(resolve, reject, false));
  return {
    response,
    abort: () => {
      aborted = true;
      req?.destroy();
    },
  };
}
