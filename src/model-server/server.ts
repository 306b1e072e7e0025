/**
 * The local model server: an OpenAI-compatible HTTP server on loopback (node:http), deterministic, with
 * injectable latency, rate limits and faults. Answers are described in answers.ts (the echo format), rules in
 * rules.ts. Order of checks per request: route (404/405) → auth (401) → JSON (400) → validation (400) →
 * rpm/tpm limits (429 + Retry-After) → fault draw (500 or dropped connection) → latency → answer.
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ConfigError } from '../shared/errors.js';
import { loadTokenizers, countTextTokens } from '../shared/llm/tokens.js';
import { ApiError, invalid } from './api-error.js';
import { planChat, planCompletion } from './answers.js';
import { DEFAULT_EMBEDDING_DIMENSIONS, embedText, embeddingInputs, encodeVector } from './embeddings.js';
import { SightCounter, SlidingWindow } from './limits.js';
import { chatChunks, chatCompletion, embeddingList, modelList, textCompletion } from './responses.js';
import { jsonNestsDeeper } from '../shared/json-depth.js';
import { route, type Route } from './routes.js';
import { compileRules, loadRulesFile, type CompiledRule } from './rules.js';
import { hashString, hexId, unitFloat } from './seeded.js';
import { validateChat, validateCompletion, validateEmbedding } from './validate.js';
import type { ModelServerHandle, ModelServerOptions, ModelServerStats } from './types.js';

/** Default body cap: four times a 128k-token prompt; bigger bodies are refused before any work. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** JSON nesting the server walks; deeper bodies are a 400, not a stack overflow. */
export const MAX_JSON_DEPTH = 128;
/** How long the rest of an oversize body is read and dropped before the connection is cut. */
const OVERSIZE_LINGER_MS = 2000;
const JSON_HEADERS = { 'content-type': 'application/json' };

/** A computed answer waiting for its latency. */
interface Reply {
  status: number;
  body?: object;
  events?: string[];
  headers?: Record<string, string>;
  promptTokens: number;
  completionTokens: number;
}

function checkOption(name: string, value: number | undefined, min: number, max = Infinity): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw ConfigError.at(
      { file: `model-server option ${name}` },
      `expected a number from ${min}${max === Infinity ? '' : ` to ${max}`}, found ${String(value)}`,
    );
  }
}

/** Start the server. Resolves once it listens; `url` is its base (`http://127.0.0.1:<port>`, add `/v1` for OpenAI clients). */
export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServerHandle> {
  checkOption('port', options.port, 0, 65535);
  checkOption('latencyMs', options.latencyMs, 0);
  checkOption('jitterMs', options.jitterMs, 0);
  checkOption('rpm', options.rpm, 1);
  checkOption('tpm', options.tpm, 1);
  checkOption('windowMs', options.windowMs, 1);
  checkOption('faultRate', options.faultRate, 0, 1);
  checkOption('maxBodyBytes', options.maxBodyBytes, 1);
  const rules: CompiledRule[] =
    typeof options.rules === 'string' ? loadRulesFile(options.rules) : options.rules ? compileRules(options.rules) : [];
  await loadTokenizers();
  const model = new LocalModel(options, rules);
  const server = createServer((req, res) => model.handle(req, res));
  server.keepAliveTimeout = 65_000; // longer than clients' idle timeouts, so the server is never the side closing a pooled socket
  server.headersTimeout = 66_000;
  // A client that trickles its body must not hold a socket (and a buffer) for long.
  server.requestTimeout = 120_000;
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    s.setNoDelay(true);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    stats: () => model.snapshot(),
    close: () =>
      new Promise<void>((resolve) => {
        model.closing = true;
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

class LocalModel {
  closing = false;
  private readonly seed: number;
  private readonly rpm?: SlidingWindow;
  private readonly tpm?: SlidingWindow;
  private readonly sights = new SightCounter();
  private readonly stats: ModelServerStats = {
    requests: 0,
    byStatus: {},
    byEndpoint: {},
    rateLimited: 0,
    serverErrors: 0,
    dropped: 0,
    promptTokens: 0,
    completionTokens: 0,
    inFlight: 0,
    maxInFlight: 0,
  };

  constructor(
    private readonly options: ModelServerOptions,
    private readonly rules: CompiledRule[],
  ) {
    this.seed = options.seed ?? 0;
    const windowMs = options.windowMs ?? 60_000;
    if (options.rpm) this.rpm = new SlidingWindow(options.rpm, windowMs);
    if (options.tpm) this.tpm = new SlidingWindow(options.tpm, windowMs);
  }

  snapshot(): ModelServerStats {
    return { ...this.stats, byStatus: { ...this.stats.byStatus }, byEndpoint: { ...this.stats.byEndpoint } };
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const stats = this.stats;
    stats.requests++;
    if (++stats.inFlight > stats.maxInFlight) stats.maxInFlight = stats.inFlight;
    res.on('close', () => {
      stats.inFlight--;
      // The caller's W3C trace context is logged, so a request can be found from the caller's trace.
      const traceparent = req.headers.traceparent;
      this.options.log?.(
        `${req.method} ${req.url} ${res.writableFinished ? res.statusCode : 'dropped'} ${(performance.now() - started).toFixed(1)}ms` +
          (typeof traceparent === 'string' ? ` traceparent=${traceparent}` : ''),
      );
    });
    let r: Route;
    try {
      r = route(req.method ?? 'GET', req.url ?? '/');
      stats.byEndpoint[r.endpoint] = (stats.byEndpoint[r.endpoint] ?? 0) + 1;
      const key = req.headers['api-key'];
      const authz = req.headers.authorization;
      if (!key && !(authz && /^bearer\s+\S/i.test(authz))) {
        throw new ApiError(
          401,
          "You didn't provide an API key. Send it in the 'api-key' header or as 'Authorization: Bearer <key>'.",
          'invalid_request_error',
          null,
          'invalid_api_key',
        );
      }
    } catch (e) {
      req.resume();
      this.sendError(res, e);
      return;
    }
    if (r.endpoint === 'models') {
      req.resume();
      this.send(res, { status: 200, body: modelList(), promptTokens: 0, completionTokens: 0 });
      return;
    }
    const limit = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const tooLarge = (size: number) => {
      // Answer at once and keep nothing of the body. The rest is read and dropped for a bounded moment, on a
      // connection left open: closing it (Connection: close makes Node end the socket once the answer is written)
      // fails the write of a client still sending (EPIPE, ECONNRESET) before it reads the 413.
      this.sendError(
        res,
        new ApiError(
          413,
          `Request body too large: ${size} bytes or more, limit ${limit} bytes.`,
          'invalid_request_error',
          null,
          'request_too_large',
        ),
      );
      req.removeAllListeners('data');
      req.resume();
      const linger = setTimeout(() => req.destroy(), OVERSIZE_LINGER_MS);
      linger.unref();
      req.once('end', () => clearTimeout(linger));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return tooLarge(declared);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge(size);
      else chunks.push(c);
    });
    req.on('end', () => {
      if (size > limit || res.headersSent) return;
      this.process(
        r,
        chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8'),
        req,
        res,
      );
    });
  }

  private process(r: Route, text: string, req: IncomingMessage, res: ServerResponse): void {
    let reply: Reply;
    const hash = hashString(text, this.seed);
    // Counted once per request, and only when something depends on it.
    let nth: number | undefined;
    const sight = () => (nth ??= this.sights.next(hash));
    try {
      let parsed: unknown;
      if (jsonNestsDeeper(text, MAX_JSON_DEPTH))
        throw invalid(
          null,
          `The JSON body nests more than ${MAX_JSON_DEPTH} levels deep; the local model server refuses it.`,
        );
      try {
        parsed = JSON.parse(text);
      } catch {
        throw invalid(
          null,
          'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.',
        );
      }
      reply = this.answer(r, parsed, hash, sight);
      const limited = this.limit(reply.promptTokens + reply.completionTokens);
      if (limited) throw limited;
    } catch (e) {
      this.sendError(res, e);
      return;
    }
    const { faultRate = 0, jitterMs = 0, latencyMs = 0 } = this.options;
    let delay = latencyMs;
    let fault: 'none' | '500' | 'drop' = 'none';
    if (faultRate > 0 || jitterMs > 0) {
      const n = sight();
      if (faultRate > 0 && unitFloat(this.seed, hash, n, 1) < faultRate)
        fault = unitFloat(this.seed, hash, n, 2) < 0.5 ? '500' : 'drop';
      if (jitterMs > 0) delay += Math.floor(unitFloat(this.seed, hash, n, 3) * jitterMs);
    }
    const finish = () => {
      if (this.closing || res.destroyed) return;
      if (fault === 'drop') {
        this.stats.dropped++;
        this.stats.byStatus.dropped = (this.stats.byStatus.dropped ?? 0) + 1;
        req.socket.destroy();
      } else if (fault === '500') {
        this.stats.serverErrors++;
        this.sendError(
          res,
          new ApiError(
            500,
            'The server had an error while processing your request. Sorry about that! (injected fault)',
            'server_error',
          ),
        );
      } else this.send(res, reply);
    };
    if (delay > 0) setTimeout(finish, delay);
    else finish();
  }

  private answer(r: Route, parsed: unknown, hash: number, sight: () => number): Reply {
    const modelRequired = !r.azure;
    if (r.endpoint === 'chat') {
      const body = validateChat(parsed, modelRequired);
      const model = (body.model as string | undefined) ?? r.deployment!;
      const plan = planChat(body, model, this.rules, hash, this.seed, sight);
      const id = `chatcmpl-${hexId(hash, this.seed)}`;
      const reply: Reply = { status: 200, promptTokens: plan.promptTokens, completionTokens: plan.completionTokens };
      if (body.stream === true) {
        const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
        reply.events = chatChunks(id, model, plan, includeUsage);
      } else reply.body = chatCompletion(id, model, plan);
      return reply;
    }
    if (r.endpoint === 'completions') {
      const body = validateCompletion(parsed, modelRequired);
      const model = (body.model as string | undefined) ?? r.deployment!;
      if (body.stream === true)
        throw invalid(
          'stream',
          'Streaming is not supported by the local model server for /completions; use /chat/completions.',
        );
      const plan = planCompletion(body, model, this.rules);
      return {
        status: 200,
        body: textCompletion(`cmpl-${hexId(hash, this.seed)}`, model, plan),
        promptTokens: plan.promptTokens,
        completionTokens: plan.completionTokens,
      };
    }
    const body = validateEmbedding(parsed, modelRequired);
    const model = (body.model as string | undefined) ?? r.deployment!;
    const dims = (body.dimensions as number | undefined) ?? DEFAULT_EMBEDDING_DIMENSIONS;
    const texts = embeddingInputs(body.input);
    let tokens = 0;
    const vectors = texts.map((t) => {
      tokens += countTextTokens(t, model);
      return encodeVector(embedText(t, dims, this.seed), body.encoding_format);
    });
    return { status: 200, body: embeddingList(model, vectors, tokens), promptTokens: tokens, completionTokens: 0 };
  }

  /** The 429 to answer when a limit is reached, else undefined (and the request is counted). */
  private limit(tokens: number): ApiError | undefined {
    const now = Date.now();
    if (this.tpm && tokens > this.tpm.limit) {
      return invalid(
        null,
        `Request too large: it needs ${tokens} tokens but the limit is ${this.tpm.limit} tokens per window.`,
        'tokens_exceed_limit',
      );
    }
    const verdicts: [SlidingWindow | undefined, number, string][] = [
      [this.rpm, 1, 'requests'],
      [this.tpm, tokens, 'tokens'],
    ];
    for (const [window, amount, kind] of verdicts) {
      if (!window) continue;
      const v = window.tryTake(now, amount);
      if (!v.ok) {
        this.stats.rateLimited++;
        const seconds = Math.max(1, Math.ceil(v.retryAfterMs / 1000));
        return new ApiError(
          429,
          `Rate limit reached for ${kind}: limit ${window.limit} per ${window.windowMs / 1000}s. Please try again in ${(v.retryAfterMs / 1000).toFixed(3)}s.`,
          kind,
          null,
          'rate_limit_exceeded',
          { 'retry-after': String(seconds), 'retry-after-ms': String(v.retryAfterMs) },
        );
      }
    }
    return undefined;
  }

  private rateHeaders(): Record<string, string> {
    const h: Record<string, string> = {};
    const now = Date.now();
    if (this.rpm) {
      h['x-ratelimit-limit-requests'] = String(this.rpm.limit);
      h['x-ratelimit-remaining-requests'] = String(this.rpm.remaining(now));
    }
    if (this.tpm) {
      h['x-ratelimit-limit-tokens'] = String(this.tpm.limit);
      h['x-ratelimit-remaining-tokens'] = String(this.tpm.remaining(now));
    }
    return h;
  }

  private send(res: ServerResponse, reply: Reply): void {
    const stats = this.stats;
    stats.byStatus[reply.status] = (stats.byStatus[reply.status] ?? 0) + 1;
    stats.promptTokens += reply.promptTokens;
    stats.completionTokens += reply.completionTokens;
    const limits = this.rpm || this.tpm ? this.rateHeaders() : undefined;
    if (reply.events) {
      res.writeHead(reply.status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...limits });
      for (const e of reply.events) res.write(e);
      res.end();
      return;
    }
    const text = JSON.stringify(reply.body);
    res.writeHead(
      reply.status,
      limits
        ? { ...JSON_HEADERS, ...limits, ...reply.headers, 'content-length': Buffer.byteLength(text) }
        : { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text) },
    );
    res.end(text);
  }

  private sendError(res: ServerResponse, e: unknown): void {
    if (!(e instanceof ApiError)) {
      // A bug in the server, never the client's fault: answer 500 with the message so it is visible.
      e = new ApiError(500, `local model server error: ${(e as Error).message}`, 'server_error');
    }
    const err = e as ApiError;
    const text = JSON.stringify(err.toJSON());
    this.stats.byStatus[err.status] = (this.stats.byStatus[err.status] ?? 0) + 1;
    res.writeHead(err.status, { ...JSON_HEADERS, ...err.headers, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}
