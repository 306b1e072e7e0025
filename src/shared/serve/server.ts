/**
 * The flow HTTP server (promptflow-formats.md §7.2) on node:http: POST /score, GET /health, GET /version,
 * GET /metrics; server-sent events for streaming flows; optional API key; JSON access logs; graceful close.
 * @module
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { assetPath } from '../assets.js';
import type { LineResult } from '../engine/index.js';
import { jsonNestsDeeper } from '../json-depth.js';
import type { Guard, GuardEvent } from '../safety/guard.js';
import { cacheDirectives, ServeCache, type ServeCacheOptions } from './cache.js';
import { degradeReason, newDegradeCounters, type DegradeOptions } from './degrade.js';
import { ServerMetrics } from './metrics.js';
import { checkStandInOutputs } from './resilience-env.js';
import { telemetry, type RequestTrace } from '../telemetry/hooks.js';
import { failureKind, parseFeedback } from './feedback.js';
import { openRequestLog, type RequestLogOptions } from './request-log.js';
import {
  createServeRunner,
  RequestError,
  statusOfLineError,
  type ServeFlowOptions,
  type ServeRunner,
} from './runner.js';

export interface FlowServerOptions extends ServeFlowOptions {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1 (0.0.0.0 in a container). */
  host?: string;
  /** Largest accepted request body in bytes (413 beyond). Default 10 MiB. */
  maxBodyBytes?: number;
  /** When set, /score and /metrics need `Authorization: Bearer <key>` or `api-key: <key>`. */
  apiKey?: string;
  /** One JSON access-log line per request. Default: stderr. `false`: no access log (no line is built). */
  log?: ((line: string) => void) | false;
  /** How long close() lets in-flight requests finish before cutting connections (ms). Default 30000. */
  drainTimeoutMs?: number;
  /** A client must send its request headers within this time (ms), else 408 and the socket closes. Default 20000. */
  headersTimeoutMs?: number;
  /** ... and its whole request, body included, within this time (ms). Default 60000. */
  bodyTimeoutMs?: number;
  /** Deepest JSON nesting accepted in a request body (400 beyond). Default 64. */
  maxJsonDepth?: number;
  /** Opt-in log of a sample of the completed requests (post-production evaluation); see request-log.ts. */
  requestLog?: RequestLogOptions;
  /** Opt-in safety guards on requests and answers (safety/guard.ts): a blocked exchange gets the refusal. */
  guard?: Guard;
  /** Response cache of /score (opt-in): in-process, or Redis when `redisUrl` is set. */
  cache?: ServeCacheOptions;
  /** Fallback answer and load shedding (degrade.ts). */
  degrade?: DegradeOptions;
}

export interface FlowServer {
  url: string;
  port: number;
  runner: ServeRunner;
  /** Stops accepting, lets in-flight requests finish, then closes the flow (Python workers included). */
  close(): Promise<void>;
}

type Route = '/score' | '/health' | '/version' | '/metrics' | '/feedback' | 'other';
const routes = new Set(['/score', '/health', '/version', '/metrics', '/feedback']);

let cachedVersion: string | undefined;
/** The package version (health and version answers). */
export function serverVersion(): string {
  if (cachedVersion === undefined) {
    try {
      cachedVersion = String(
        (JSON.parse(readFileSync(assetPath('package.json'), 'utf8')) as { version?: unknown }).version ?? '0.0.0',
      );
    } catch {
      cachedVersion = '0.0.0';
    }
  }
  return cachedVersion;
}

/** Prepares the flow (ConfigError if it cannot run) and listens. */
export async function startFlowServer(options: FlowServerOptions): Promise<FlowServer> {
  const runner = await createServeRunner(options);
  try {
    checkStandInOutputs(
      Object.keys(runner.flow.outputs),
      options.degrade?.fallback,
      options.guard?.config.refusal_output,
    );
  } catch (e) {
    await runner.close();
    throw e;
  }
  // The store's outages are logged even without an access log: answers then cost a model call each.
  const warn = (message: string) =>
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: message }) + '\n');
  const cache = options.cache ? ServeCache.open({ warn, ...options.cache }) : undefined;
  await cache?.ready();
  const metrics = new ServerMetrics();
  const degrade = options.degrade ?? {};
  const degraded = (metrics.degrade = newDegradeCounters());
  metrics.cache = cache?.counters;
  const maxScoring = degrade.maxInFlight ?? Number.POSITIVE_INFINITY;
  const retryAfter = String(degrade.retryAfterSeconds ?? 1);
  let scoring = 0;
  // What identifies the flow in cache keys: its name and the variants it serves with.
  const flowIdentity = `${options.variants?.join(',') ?? ''}`;
  // A request's time limit (runner.ts): also how long it may wait for another request's answer (0 = none).
  const lineTimeout = options.requestTimeoutMs ?? 300_000;
  const log =
    options.log === false ? undefined : (options.log ?? ((line: string) => void process.stderr.write(line + '\n')));
  const maxBody = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const maxDepth = options.maxJsonDepth ?? 64;
  const key = options.apiKey ? Buffer.from(options.apiKey) : undefined;
  const requestLog = openRequestLog(options);
  const guard = options.guard;
  let closing = false;
  // Open connections and how many requests each is answering. Counted in place (a Set of in-flight responses
  // replaced its backing table every few requests, and the replaced tables kept requests alive through
  // young-generation collections: bench/README-serve.md).
  const sockets = new Map<Socket, number>();

  const headersTimeout = options.headersTimeoutMs ?? 20_000;
  const requestTimeout = Math.max(options.bodyTimeoutMs ?? 60_000, headersTimeout);
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      headersTimeout,
      requestTimeout,
      // How often node looks for clients past those timeouts (its default, 30 s, would let short ones slip).
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
    },
    (req, res) => {
      const started = performance.now();
      const path = pathOf(req.url);
      const route = (routes.has(path) ? path : 'other') as Route;
      // Given to writeHead with the answer's other headers (sendJson): no header object per request.
      const requestId = safeId(req.headers['x-request-id']) ?? flatUuid();
      if (closing) res.setHeader('connection', 'close');
      metrics.inFlight++;
      const socket = req.socket;
      const busy = sockets.get(socket);
      if (busy !== undefined) sockets.set(socket, busy + 1);
      // The line's abort, when it runs one: a client that goes away cancels its model calls. One 'close' listener
      // per request does both.
      const exchange: Exchange = { requestId, abort: undefined, started };
      if (telemetry && route === '/score') exchange.trace = telemetry.requestStart(route, traceparentOf(req));
      res.on('close', () => {
        metrics.inFlight--;
        const left = sockets.get(socket);
        if (left !== undefined) sockets.set(socket, left - 1);
        const ms = performance.now() - started;
        // A client that went away before its answer was sent has no status: logged as aborted (499, as proxies do).
        const aborted = !res.writableFinished;
        if (aborted) exchange.abort?.abort(new Error('client went away'));
        const status = aborted ? 499 : res.statusCode;
        metrics.record(route, req.method ?? '', status, ms / 1000);
        exchange.trace?.end(status, aborted ? 'aborted' : undefined);
        log?.(
          JSON.stringify({
            time: new Date().toISOString(),
            level: aborted ? 'warn' : 'info',
            msg: aborted ? 'request aborted by the client' : 'request',
            requestId,
            method: req.method,
            path,
            status,
            latencyMs: Math.round(ms * 100) / 100,
            completed: !aborted,
            aborted: aborted || undefined, // left out of the line when false
          }),
        );
        if (closing) req.socket.end();
      });
      handle(req, res, route, exchange).catch((err: unknown) => {
        if (!res.headersSent)
          sendError(res, requestId, 500, 'SystemError', `Internal error: ${(err as Error)?.message ?? String(err)}`);
        else res.destroy();
      });
    },
  );

  async function handle(req: IncomingMessage, res: ServerResponse, route: Route, exchange: Exchange): Promise<unknown> {
    const method = req.method ?? 'GET';
    const id = exchange.requestId;
    if (route === '/health') return sendJson(res, id, 200, { status: 'Healthy', version: serverVersion() });
    if (route === '/version')
      return sendJson(res, id, 200, {
        status: 'Healthy',
        build_info: process.env.BUILD_INFO ?? '',
        version: serverVersion(),
      });
    if (route === 'other')
      return sendError(
        res,
        id,
        404,
        'UserError',
        `No route ${method} ${(req.url ?? '').split('?')[0]}; expected POST /score, POST /feedback, GET /health, GET /version or GET /metrics`,
      );
    if (key && !authorized(req, key)) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendError(
        res,
        id,
        401,
        'UserError',
        'Missing or wrong API key; send Authorization: Bearer <key> or api-key: <key>',
      );
    }
    if (route === '/metrics') {
      res.writeHead(200, ['content-type', 'text/plain; version=0.0.4; charset=utf-8', 'x-request-id', id]);
      res.end(metrics.render());
      return;
    }
    if (method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendError(res, id, 405, 'UserError', `${route} accepts POST, found ${method}`);
    }
    if (route === '/feedback') return feedback(req, res, id);
    // Shed before reading the body: a refused request costs its headers only, and the answer is immediate.
    if (scoring >= maxScoring) {
      degraded.shed++;
      req.resume();
      res.setHeader('retry-after', retryAfter);
      return sendError(
        res,
        id,
        503,
        'ServiceUnavailable',
        `The server is answering ${scoring} requests, its limit; retry after ${retryAfter} s`,
      );
    }
    scoring++;
    res.once('close', () => scoring--);
    // Returned, not awaited: no suspended frame of this function per request while the line runs.
    return score(req, res, exchange);
  }

  async function score(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<unknown> {
    const id = exchange.requestId;
    const accept = negotiate(req.headers.accept, runner.stream !== undefined);
    if (accept === 'none')
      return sendError(
        res,
        id,
        406,
        'UserError',
        `Accept ${JSON.stringify(req.headers.accept)} cannot be served: this flow answers with ${runner.stream ? 'application/json or text/event-stream' : 'application/json only (it has no streaming output)'}`,
      );
    let inputs: Record<string, unknown>;
    try {
      const contentType = req.headers['content-type'];
      if (!acceptedContentType(contentType)) {
        req.resume();
        return sendError(
          res,
          id,
          415,
          'UserError',
          `Content-Type ${JSON.stringify(contentType)} is not accepted: send the flow inputs as a JSON object with Content-Type: application/json${Object.keys(runner.inputs).length === 1 ? ' (or the only input as text/plain)' : ''}`,
        );
      }
      // Decoded once: the depth scan looks only at ASCII brackets and quotes, which UTF-8 keeps as they are.
      const body = (await readBody(req, maxBody)).toString('utf8');
      if (jsonNestsDeeper(body, maxDepth))
        return sendError(
          res,
          id,
          400,
          'UserError',
          `The request body nests JSON more than ${maxDepth} levels deep; flow inputs may nest at most ${maxDepth} levels`,
        );
      inputs = runner.parseBody(body, contentType);
    } catch (e) {
      if (e instanceof RequestError) return sendError(res, id, e.status, 'UserError', e.message);
      throw e;
    }
    if (guard) {
      const event = await guard.checkRequest(inputs);
      if (event) return refuse(res, exchange, inputs, event);
    }
    const abort = (exchange.abort = new AbortController());
    if (accept === 'stream') return streamScore(res, exchange, inputs, abort.signal, exchange.trace?.parent);
    const rule = cache ? cacheDirectives(req.headers['cache-control']) : undefined;
    let key: string | undefined;
    // Set when this request leads or runs a cache miss: hands over its answer (or none) exactly once.
    let settle: ((outputs: Record<string, unknown> | undefined) => void) | undefined;
    if (cache && rule) {
      key = cache.keyOf(`${runner.flow.name}\u0000${flowIdentity}`, inputs);
      if (!rule.read) cache.counters.bypassed++;
      else {
        const found = await cache.lookup(key, waitLimit(exchange), abort.signal);
        if (found.result === 'expired') {
          if (abort.signal.aborted) return; // the client went away while waiting: nothing to answer
          return sendError(res, id, 504, 'SystemError', `The request took longer than its limit of ${lineTimeout} ms`);
        }
        if (found.result !== 'miss') {
          if (exchange.trace) exchange.trace.cacheResult = found.result;
          sendJson(res, id, 200, found.outputs, ['x-llmops-cache', found.result]);
          // Answered without a line: logged all the same, so monitoring sees what callers got.
          return requestLog?.record(id, inputs, found.outputs, {
            latencyMs: performance.now() - exchange.started,
            status: 200,
          });
        }
        settle = found.settle;
      }
    }
    // Without the cache the line's promise is returned as it is: no suspended frame of this function per request.
    if (!key) return scoreLine(res, exchange, inputs, 'bypass', false);
    let shared: Record<string, unknown> | undefined;
    try {
      shared = await scoreLine(res, exchange, inputs, settle ? 'miss' : 'bypass', true);
    } finally {
      settle?.(shared);
    }
    if (shared && !settle && rule!.write) void cache!.put(key, shared);
  }

  /** How long a request may wait for another's answer: what is left of its time limit (none: unbounded). */
  function waitLimit(exchange: Exchange): number {
    return lineTimeout > 0 ? lineTimeout - (performance.now() - exchange.started) : Number.POSITIVE_INFINITY;
  }

  /** Runs the request's line and answers it; returns the answer when it may be shared and stored. */
  async function scoreLine(
    res: ServerResponse,
    exchange: Exchange,
    inputs: Record<string, unknown>,
    cacheResult: 'miss' | 'bypass',
    cached: boolean,
  ): Promise<Record<string, unknown> | undefined> {
    const id = exchange.requestId;
    const r = await runner.run(inputs, { signal: exchange.abort?.signal, parent: exchange.trace?.parent });
    const reason = r.status !== 'Completed' && degrade.fallback ? degradeReason(r.error) : undefined;
    if (reason) {
      degraded.fallback[reason]++;
      sendJson(res, id, 200, { ...degrade.fallback, llmops_degraded: reason }, ['x-llmops-degraded', reason]);
      logFailure(exchange, 200, r);
      return undefined;
    }
    if (r.status !== 'Completed') {
      const status = statusOfLineError(r.error);
      sendError(res, id, status, r.error?.code ?? 'SystemError', r.error?.message ?? 'The flow failed');
      logFailure(exchange, status, r);
      return undefined;
    }
    const outputs = runner.visibleOutputs(r.outputs ?? {});
    if (guard) {
      const event = await guard.checkResponse(outputs);
      if (event) {
        refuse(res, exchange, inputs, event);
        return undefined;
      }
    }
    if (cached && exchange.trace) exchange.trace.cacheResult = cacheResult;
    sendJson(res, id, 200, outputs, cached ? ['x-llmops-cache', cacheResult] : undefined);
    requestLog?.record(id, inputs, outputs, {
      latencyMs: performance.now() - exchange.started,
      status: 200,
      usage: r.usage,
    });
    return outputs;
  }

  function logFailure(exchange: Exchange, status: number, r: LineResult): void {
    // A line canceled because its client went away is not the service failing (the access log says 499).
    if (r.status === 'Canceled') return;
    requestLog?.recordFailure(
      exchange.requestId,
      { latencyMs: performance.now() - exchange.started, status },
      { kind: failureKind(r.error), message: r.error?.message ?? 'The flow failed' },
    );
  }

  /** POST /feedback: stored with the request log, so it needs one. */
  async function feedback(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    if (!requestLog) {
      req.resume();
      return sendError(
        res,
        id,
        404,
        'UserError',
        'Feedback is stored with the request log, which is off; start the server with --request-log (LLMOPS_REQUEST_LOG)',
      );
    }
    try {
      const given = parseFeedback((await readBody(req, 64 * 1024)).toString('utf8'));
      requestLog.recordFeedback(given);
      sendJson(res, id, 202, { status: 'recorded', request_id: given.request_id });
    } catch (e) {
      if (e instanceof RequestError) return sendError(res, id, e.status, 'UserError', e.message);
      throw e;
    }
  }

  /** A guard stopped the exchange: the refusal is the answer; the event is counted and logged, the text never. */
  function refuse(
    res: ServerResponse,
    exchange: Exchange,
    inputs: Record<string, unknown>,
    event: GuardEvent,
    streamEvent?: (v: unknown) => void,
  ): void {
    const id = exchange.requestId;
    metrics.guardEvent(event.stage, event.check);
    const names = Object.keys(
      runner.visibleOutputs(Object.fromEntries(Object.keys(runner.flow.outputs).map((k) => [k, null]))),
    );
    const answer = guard!.refusal(names);
    res.setHeader('x-llmops-guard', `${event.stage}:${event.check}`);
    if (streamEvent) {
      // A streaming caller gets the refusal as the stream's one event.
      startEventStream(res, id);
      streamEvent(answer);
      res.end();
    } else sendJson(res, id, 200, answer);
    requestLog?.record(
      id,
      inputs,
      answer,
      { latencyMs: performance.now() - exchange.started, status: 200 },
      { guard: event },
    );
  }

  /** SSE: first event with the non-stream outputs, then one event per chunk (live or, see StreamPlan, after the line). */
  async function streamScore(
    res: ServerResponse,
    exchange: Exchange,
    inputs: Record<string, unknown>,
    signal: AbortSignal,
    parent?: object,
  ): Promise<void> {
    const id = exchange.requestId;
    const plan = runner.stream!;
    const pending: string[] = [];
    const writeEvent = (v: unknown) => res.write(`data: ${JSON.stringify(v)}\n\n`);
    // The head, then the first event: the outputs known so far other than the streamed one.
    const open = (outputs: Record<string, unknown>) => {
      startEventStream(res, id);
      const first = Object.fromEntries(
        Object.entries(runner.visibleOutputs(outputs)).filter(([k]) => k !== plan.output),
      );
      if (Object.keys(first).length > 0) writeEvent(first);
    };
    const start = () => {
      if (!res.headersSent) open(knownOutputs(runner, inputs));
    };
    // An answer a guard checks is held back whole until checked: a live stream would send it before.
    const live = plan.live && !guard?.checksResponses;
    const onChunk = (text: string) => {
      if (!live) return void pending.push(text);
      start();
      writeEvent({ [plan.output]: text });
    };
    const r = await runner.run(inputs, { signal, onChunk, parent });
    if (r.status !== 'Completed') {
      const status = res.headersSent ? 200 : statusOfLineError(r.error);
      if (!res.headersSent)
        sendError(res, id, status, r.error?.code ?? 'SystemError', r.error?.message ?? 'The flow failed');
      else {
        writeEvent({ error: { code: r.error?.code ?? 'SystemError', message: r.error?.message ?? 'The flow failed' } });
        res.end();
      }
      return logFailure(exchange, status, r);
    }
    const event = guard?.checksResponses
      ? await guard.checkResponse(runner.visibleOutputs(r.outputs ?? {}))
      : undefined;
    if (event) return refuse(res, exchange, inputs, event, writeEvent);
    if (!res.headersSent) {
      open(r.outputs ?? {});
      // A cached or non-streamed answer arrives whole: one event carries it.
      const chunks = pending.length > 0 ? pending : [String(r.outputs?.[plan.output] ?? '')];
      for (const c of chunks) writeEvent({ [plan.output]: c });
    }
    res.end();
    requestLog?.record(id, inputs, runner.visibleOutputs(r.outputs ?? {}), {
      latencyMs: performance.now() - exchange.started,
      status: 200,
      usage: r.usage,
    });
  }

  server.on('connection', (s) => {
    sockets.set(s, 0);
    s.on('close', () => sockets.delete(s));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () =>
      resolve((server.address() as AddressInfo).port),
    );
  });
  const hostForUrl = !options.host || options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      // Keep-alive connections without a request in progress are closed now; busy ones after their response.
      for (const [s, busy] of sockets) if (busy === 0) s.end();
      const timer = setTimeout(() => server.closeAllConnections(), options.drainTimeoutMs ?? 30_000);
      await stopped;
      clearTimeout(timer);
      await runner.close();
      await requestLog?.close();
      await cache?.close();
    })());
  return { url: `http://${hostForUrl.includes(':') ? `[${hostForUrl}]` : hostForUrl}:${port}`, port, runner, close };
}

/** 'json' | 'stream' | 'none' for an Accept header (§7.2: streaming only when text/event-stream is named). */
export function negotiate(accept: string | undefined, canStream: boolean): 'json' | 'stream' | 'none' {
  if (!accept || accept.trim() === '') return 'json';
  const types = accept.split(',').map((t) => t.split(';')[0].trim().toLowerCase());
  if (canStream && types.includes('text/event-stream')) return 'stream';
  if (types.some((t) => t === 'application/json' || t === 'application/*' || t === '*/*')) return 'json';
  return 'none';
}

/** Outputs known before the line runs: literals and flow inputs (what a live stream's first event carries). */
function knownOutputs(runner: ServeRunner, inputs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of Object.values(runner.flow.outputs)) {
    const ref = o.reference;
    if (ref?.kind === 'literal') out[o.name] = ref.value;
    else if (ref?.kind === 'reference' && ref.ref.kind === 'flow_input') out[o.name] = inputs[ref.ref.input];
  }
  return out;
}

/**
 * JSON, text/plain (a JSON object, or the raw value of a flow's only input: Prompt Flow's §7.2) or none.
 * Forms, multipart, XML and the rest are refused with 415: their bodies would become an input's value.
 */
export function acceptedContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType.trim() === '') return true;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type === 'text/plain' || /^application\/[\w.+-]+\+json$/.test(type);
}

function authorized(req: IncomingMessage, key: Buffer): boolean {
  const auth = req.headers.authorization;
  const given = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : req.headers['api-key'];
  if (typeof given !== 'string') return false;
  const g = Buffer.from(given);
  return g.length === key.length && timingSafeEqual(g, key);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(
      new RequestError(`The request body has ${declared} bytes, more than the limit of ${limit} bytes`, 413),
    );
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new RequestError(`The request body is larger than the limit of ${limit} bytes`, 413));
      } else parts.push(b);
    });
    req.on('end', () => resolve(parts.length === 1 ? parts[0] : Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/**
 * A random UUID as one flat string: `randomUUID` joins it from ~20 pieces, and the request keeps its id (and so
 * that tree) alive until it is answered. Reading a character makes V8 flatten the string in place.
 */
function flatUuid(): string {
  const id = randomUUID();
  id.charCodeAt(0);
  return id;
}

/** The URL's path (the URL itself when it has no query: no copy). */
function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function safeId(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' && /^[\w.:-]{1,128}$/.test(v) ? v : undefined;
}

/** What the request's handlers share: its id (a header of every answer) and the line's abort, once it runs one. */
interface Exchange {
  readonly requestId: string;
  abort: AbortController | undefined;
  /** performance.now() at arrival (the request log's latency). */
  readonly started: number;
  /** The request's span and server metrics (telemetry on). */
  trace?: RequestTrace;
}

/** The caller's W3C trace context (one header; a repeated one is not valid trace context). */
function traceparentOf(req: IncomingMessage): string | undefined {
  const v = req.headers.traceparent;
  return typeof v === 'string' ? v : undefined;
}

/**
 * The head of every event-stream answer (live, held back for a guard, or a refusal): `x-accel-buffering: no` so a
 * proxy in front (nginx, an ingress) passes each event on as it comes instead of buffering the stream.
 */
function startEventStream(res: ServerResponse, requestId: string): void {
  res.writeHead(200, [
    'content-type',
    'text/event-stream; charset=utf-8',
    'cache-control',
    'no-cache',
    'x-accel-buffering',
    'no',
    'x-request-id',
    requestId,
  ]);
}

/**
 * The answer with its headers as one flat array: writeHead writes it as it is (a header set before, like
 * `allow` or `connection: close`, is merged in by node).
 */
function sendJson(res: ServerResponse, requestId: string, status: number, body: unknown, extra?: string[]): void {
  const text = JSON.stringify(body);
  const headers = [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(text)),
    'x-request-id',
    requestId,
  ];
  if (extra) headers.push(...extra);
  res.writeHead(status, headers);
  res.end(text);
}

function sendError(res: ServerResponse, requestId: string, status: number, code: string, message: string): void {
  sendJson(res, requestId, status, { error: { code, message } });
}
