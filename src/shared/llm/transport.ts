/**
 * The transport of the client's JSON calls: one POST (or an http target's other method) through undici's dispatcher
 * (a keep-alive connection pool per origin), the answer collected as bytes and decoded once.
 * Measured against node:http's ClientRequest and undici's fetch (bench/README-serve.md, bench/README-llm.md): fetch
 * builds WHATWG Request/Response objects and body streams per call, and a ClientRequest copies its options, builds
 * its header string piece by piece and runs a readable stream per answer; a dispatch handler gets the status, the
 * raw headers and the body chunks as plain callbacks, and at ten calls in flight took about half the CPU and half
 * the allocation of a ClientRequest per call. Streams stay on fetch (client.ts); a caller's abort destroys the
 * call's socket.
 * @module
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { Agent, Dispatcher } from 'undici';

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

/**
 * undici is loaded when an LLM service is made (warmTransport) or on the first call, not with this module: the
 * steps that never call a model (and every step's first log line) do not pay for parsing it.
 */
let agent: Agent | undefined;
let loading: Promise<Agent> | undefined;
function loadAgent(): Promise<Agent> {
  return (loading ??= import('undici').then((undici) => {
    // undici is CommonJS: a bundle's dynamic import gives its exports as `default` only, Node gives both.
    const { Agent } = undici.default ?? undici;
    // The limiter (limiter.ts) decides concurrency, not the pool's queue: the ceiling is far above it. Our own
    // deadlines (client.ts) bound every call, so undici's own header and body timeouts (300 s) are off.
    agent = new Agent({ connections: 1024, headersTimeout: 0, bodyTimeout: 0 });
    return agent;
  }));
}

/**
 * Starts loading undici (and compiling its HTTP parser) without waiting: whoever will call a model soon calls this
 * when it is set up, so the first call is not held back by the load (about 50–200 ms) and calls paced apart are not
 * bunched behind it. A load failure surfaces on the first call.
 */
export function warmTransport(): void {
  void transportLoading();
}

/** Undefined once the transport is loaded; until then, the load (started if it was not). */
export function transportLoading(): Promise<unknown> | undefined {
  return agent ? undefined : loadAgent().catch(() => undefined);
}

interface Target {
  origin: string;
  path: string;
}

/** Parsed request targets by URL (a handful per run: one per endpoint and model). */
const targets = new Map<string, Target>();

function targetOf(url: string): Target {
  let t = targets.get(url);
  if (!t) {
    const u = new URL(url);
    t = { origin: u.origin, path: `${u.pathname}${u.search}` };
    if (targets.size > 1000) targets.clear();
    targets.set(url, t);
  }
  return t;
}

/**
 * A call's headers as a flat name/value array, validated once per headers object (an endpoint's key headers are
 * one object for every call: connections.ts) so a bad value is refused before anything is sent. Host and
 * Content-Length are the transport's own.
 */
const flatHeaders = new WeakMap<Record<string, string>, string[]>();
function flatten(headers: Record<string, string>): string[] {
  let flat = flatHeaders.get(headers);
  if (!flat) {
    flat = [];
    for (const name in headers) {
      if (name.toLowerCase() === 'host' || name.toLowerCase() === 'content-length') continue;
      validateHeaderName(name);
      validateHeaderValue(name, headers[name]);
      flat.push(name, headers[name]);
    }
    flatHeaders.set(headers, flat);
  }
  return flat;
}

/**
 * POSTs `body` to `url`. Network errors reject with the system error (its `code`: ECONNREFUSED, ENOTFOUND, …) or
 * undici's (UND_ERR_SOCKET when the connection closed). A pooled socket the server closed while idle fails before
 * any answer; that request is sent again once (the race of every keep-alive client: undici follows the server's
 * Keep-Alive hint, but a server may close without one).
 */
export function postText(url: string, headers: Record<string, string>, body: string): PendingRequest {
  return sendText('POST', url, headers, body);
}

/**
 * Another method over the same pool and error handling (an http flow target's PUT, PATCH, or GET with its inputs
 * in the query): `body` undefined sends none, and no Content-Length.
 */
export function requestText(
  method: 'GET' | 'PUT' | 'PATCH' | 'POST',
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
): PendingRequest {
  return sendText(method, url, headers, body);
}

/** Connection failures after the request may have been written but before any answer: worth one more send. */
const DROPPED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

function sendText(
  method: Dispatcher.HttpMethod,
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
) {
  const target = targetOf(url);
  const options: Dispatcher.DispatchOptions = {
    origin: target.origin,
    path: target.path,
    method,
    headers: flatten(headers),
    body: body ?? null,
  };
  let abortCall: ((reason?: Error) => void) | undefined;
  let aborted = false;
  const response = new Promise<RawResponse>((resolve, reject) => {
    const send = (to: Agent, retried: boolean) => {
      let answered = false;
      let status = 0;
      let statusText = '';
      let raw: Buffer[] = [];
      let first: Buffer | undefined;
      let more: Buffer[] | undefined;
      to.dispatch(options, {
        onConnect(abort) {
          abortCall = abort;
          if (aborted) abort(new Error('aborted'));
        },
        onHeaders(statusCode, rawHeaders, _resume, message) {
          answered = true;
          status = statusCode;
          statusText = message;
          raw = rawHeaders as Buffer[];
          return true;
        },
        onData(chunk) {
          if (first === undefined) first = chunk;
          else (more ??= [first]).push(chunk);
          return true;
        },
        onComplete() {
          // Bytes decoded once at the end: a character split between chunks is joined before decoding.
          const text = more ? Buffer.concat(more).toString('utf8') : (first?.toString('utf8') ?? '');
          resolve({ status, statusText, header: (name) => headerOf(raw, name), text });
        },
        onError(e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (!answered && !retried && !aborted && code !== undefined && DROPPED.has(code)) send(to, true);
          else reject(e);
        },
      });
    };
    if (agent) send(agent, false);
    else loadAgent().then((a) => (aborted ? reject(new Error('aborted')) : send(a, false)), reject);
  });
  return {
    response,
    abort: () => {
      aborted = true;
      abortCall?.(new Error('aborted'));
    },
  };
}

/** A header's value from undici's raw name/value list (lower-case `name`); repeated headers joined as node does. */
function headerOf(raw: Buffer[], name: string): string | null {
  let found: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length !== name.length || raw[i].toString('latin1').toLowerCase() !== name) continue;
    const value = raw[i + 1].toString('latin1');
    found = found === null ? value : `${found}, ${value}`;
  }
  return found;
}
