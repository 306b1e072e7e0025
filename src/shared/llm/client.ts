/**
 * The LLM client of the engine: chat, completion and embedding calls to Azure OpenAI, OpenAI or any
 * OpenAI-compatible endpoint, with retries (retry.ts), an adaptive per-endpoint concurrency limit
 * (limiter.ts), an optional response cache (cache.ts) and token usage + latency on every result.
 *
 * Why not the official `openai` npm client: measured against the local model server on this machine (2 cores,
 * latency 0, bench/model-server.ts), `openai` v5 reached only 0.59–0.92 of a bare fetch loop at concurrency 8
 * and 32 — below the >= 90% budget of DESIGN.md — because of its per-request overhead (option merging, header
 * building, response wrapping). The request bodies are the OpenAI wire format either way, so nothing is lost;
 * the `openai` client is used in tests to prove the server's compatibility instead.
 * Why undici's dispatcher for JSON calls (transport.ts) and not fetch: fetch costs more CPU per call than the
 * engine's own work at an instant model, which held the engine at 0.62–0.83 of a bare fetch loop at C = 32;
 * a keep-alive pool without fetch's objects takes the engine above the bare fetch loop (bench/README-engine.md).
 * The dispatcher took half the CPU and allocation of node:http's ClientRequest per call (bench/README-serve.md).
 * Streams keep fetch (its body stream is what they need); a caller's signal on a JSON call destroys its socket.
 * @module
 */
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { Completion } from 'openai/resources/completions';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import { ResponseCache, type CacheKeyParts } from './cache.js';
import {
  resolveEndpoint,
  type EndpointOptions,
  type LlmApi,
  type LlmConnection,
  type ProviderEndpoint,
} from './connections.js';
import { EndpointUnreachableError, LlmHttpError, LlmRetriesExhaustedError } from './errors.js';
import { LimiterRegistry, type AdaptiveLimiter } from './limiter.js';
import {
  backoffMs,
  DEFAULT_RETRY,
  isRetryable,
  retryAfterMs,
  retryBudget,
  sleep,
  unreachableKind,
  type AttemptFailure,
  type RetryOptions,
} from './retry.js';
import { type Deadline, DeadlineQueue } from './deadlines.js';
import { postText, requestText, transportLoading, type RawResponse } from './transport.js';
import { telemetry } from '../telemetry/hooks.js';

/** Tokens of one call. A cache hit costs none. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** A call's answer with its accounting. */
export interface LlmResult<T> {
  /** The parsed response body (OpenAI shape). */
  response: T;
  /** Tokens billed for this call: the response's `usage`, zeros on a cache hit (or when the service sends none). */
  usage: TokenUsage;
  /** Wall time of the call, retries and waits included (ms). */
  latencyMs: number;
  cached: boolean;
  /** HTTP attempts made (0 on a cache hit). */
  attempts: number;
}

export interface LlmClientOptions extends EndpointOptions {
  /** The Prompt Flow connection (YAML form or the executor's `{type, value}` form). */
  connection?: LlmConnection | { type: string; value: Record<string, unknown>; name?: string };
  /** An endpoint given whole instead of a connection (an http flow target: its own URL and headers). */
  endpoint?: ProviderEndpoint;
  /** Response cache; omit for none. */
  cache?: ResponseCache;
  retry?: Partial<RetryOptions>;
  /** Time limit of one attempt (ms). Default 600000, the openai SDK's. */
  timeoutMs?: number;
  /** Limiters shared across clients (one per endpoint + model). Default: a registry of this client. */
  limiters?: LimiterRegistry;
  /** Ceiling of the adaptive concurrency per endpoint when the client makes its own registry. Default 64. */
  maxConcurrency?: number;
  /** Randomness of the backoff jitter (tests pin it). */
  random?: () => number;
  /** fetch implementation (tests may wrap it). Default the global fetch. Given, every call goes through it. */
  fetch?: typeof fetch;
  /**
   * Transport of JSON calls: 'node' (default: node:http with a keep-alive agent, transport.ts) or 'fetch'.
   * Streams always use fetch.
   */
  transport?: 'node' | 'fetch';
  /** Sees every answer's status and headers (a model pool reads rate-limit headroom from them). */
  observe?: (status: number, header: (name: string) => string | null) => void;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
  /** false: bypass the cache for this call. */
  cache?: boolean;
  /** W3C trace context sent with the call (telemetry on), so the model's own trace joins the caller's. */
  traceparent?: string;
}

type Body = Record<string, unknown>;
const NO_USAGE: TokenUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

export class LlmClient {
  readonly endpoint: ProviderEndpoint;
  private readonly retry: RetryOptions;
  private readonly timeoutMs: number;
  private readonly limiters: LimiterRegistry;
  private readonly random: () => number;
  private readonly fetchImpl: typeof fetch;
  /** JSON calls without a caller signal go over node:http (transport.ts) unless a fetch was given. */
  private readonly nodeTransport: boolean;
  private readonly cache?: ResponseCache;
  private readonly timeouts: DeadlineQueue;
  private readonly observe?: (status: number, header: (name: string) => string | null) => void;
  /** The request method: POST but for an http target that says otherwise. */
  private readonly method: NonNullable<ProviderEndpoint['method']>;

  constructor(options: LlmClientOptions) {
    if (!options.endpoint && !options.connection) throw new TypeError('LlmClient needs a connection or an endpoint');
    this.endpoint = options.endpoint ?? resolveEndpoint(options.connection!, options);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 600_000;
    this.timeouts = new DeadlineQueue(this.timeoutMs);
    this.limiters = options.limiters ?? new LimiterRegistry(options.maxConcurrency ?? 64);
    this.random = options.random ?? Math.random;
    this.fetchImpl = options.fetch ?? fetch;
    this.nodeTransport = options.fetch === undefined && options.transport !== 'fetch';
    this.cache = options.cache && options.cache.mode !== 'off' ? options.cache : undefined;
    this.observe = options.observe;
    this.method = this.endpoint.method ?? 'POST';
  }

  /** POST /chat/completions. `body` is the request as the API takes it (`model` = Azure deployment or OpenAI model). */
  chat(body: Body, options?: CallOptions): Promise<LlmResult<ChatCompletion>> {
    return this.call<ChatCompletion>('chat', body, options);
  }

  /** POST /completions. */
  completion(body: Body, options?: CallOptions): Promise<LlmResult<Completion>> {
    return this.call<Completion>('completion', body, options);
  }

  /** POST /embeddings. */
  embedding(body: Body, options?: CallOptions): Promise<LlmResult<CreateEmbeddingResponse>> {
    return this.call<CreateEmbeddingResponse>('embedding', body, options);
  }

  /** The limiter of an API + model (exposed for tests and progress displays). */
  limiterFor(api: LlmApi, model: string): AdaptiveLimiter {
    return this.limiters.get(`${this.endpoint.url(api, model)}`);
  }

  /**
   * Without a cache, a `then` rather than an async function: a call waiting for the model keeps one callback
   * alive instead of a suspended frame (bench/README-serve.md).
   */
  private call<T>(api: LlmApi, body: Body, options: CallOptions = {}): Promise<LlmResult<T>> {
    if (this.cache && options.cache !== false) return this.cachedCall<T>(api, body, options);
    const started = performance.now();
    const model = typeof body.model === 'string' ? body.model : '';
    let text: string;
    try {
      text = JSON.stringify(body);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.send(api, model, text, options.signal, readJson, options.traceparent).then(({ value, attempts }) => ({
      response: value as T,
      usage: usageOf(value),
      latencyMs: performance.now() - started,
      cached: false,
      attempts,
    }));
  }

  private async cachedCall<T>(api: LlmApi, body: Body, options: CallOptions): Promise<LlmResult<T>> {
    const started = performance.now();
    const model = typeof body.model === 'string' ? body.model : '';
    const parts: CacheKeyParts = {
      provider: this.endpoint.provider,
      endpoint: this.endpoint.baseUrl,
      model,
      body,
      method: this.method,
    };
    const key = this.cache!.keyOf(parts);
    const hit = await this.cache!.get(key, parts);
    if (hit !== undefined)
      return {
        response: hit as T,
        usage: NO_USAGE,
        latencyMs: performance.now() - started,
        cached: true,
        attempts: 0,
      };
    const { value, attempts } = await this.send(
      api,
      model,
      JSON.stringify(body),
      options.signal,
      readJson,
      options.traceparent,
    );
    await this.cache!.put(key, parts, value);
    return {
      response: value as T,
      usage: usageOf(value),
      latencyMs: performance.now() - started,
      cached: false,
      attempts,
    };
  }

  /**
   * Send with retries. `consume` reads a successful response inside the attempt, so a connection dropped
   * mid-body is retried like one dropped before the headers.
   */
  async send<R>(
    api: LlmApi,
    model: string,
    text: string,
    signal: AbortSignal | undefined,
    consume: (res: Response) => Promise<R>,
    traceparent?: string,
  ): Promise<{ value: R; attempts: number }> {
    const url = this.endpoint.url(api, model);
    const limiter = this.limiters.get(url);
    const breaker = this.limiters.breaker(url);
    // A process's first calls wait for the transport to load before they take a start from the pacer: calls paced
    // apart would otherwise leave bunched behind the load.
    const loading = transportLoading();
    if (loading) await loading;
    for (let attempt = 0; ; attempt++) {
      const acquired = limiter.acquire();
      const permit = 'then' in acquired ? await acquired : acquired;
      // An endpoint that could not be reached N times in a row fails its calls at once (breaker.ts); checked
      // after the wait for a slot, as the circuit may have opened meanwhile.
      const open = breaker.refuse();
      if (open) {
        limiter.release(permit, 'failed');
        throw open;
      }
      let failure: AttemptFailure;
      try {
        const outcome = await this.attempt(url, text, signal, consume, traceparent);
        if (outcome.ok) {
          limiter.release(permit, 'ok');
          breaker.reached();
          return { value: outcome.value, attempts: attempt + 1 };
        }
        failure = outcome.failure;
      } catch (e) {
        limiter.release(permit, 'failed');
        throw e;
      }
      const throttled = failure.kind === 'http' && failure.status === 429;
      if (throttled && telemetry) telemetry.throttled(url);
      limiter.release(
        permit,
        throttled ? 'throttled' : 'failed',
        failure.kind === 'http' ? failure.retryAfterMs : undefined,
      );
      const unreachable = unreachableKind(failure);
      if (unreachable) {
        const code = (failure as { code: string }).code;
        breaker.unreachable(code);
        if (unreachable === 'dns' || attempt >= retryBudget(failure, this.retry))
          throw (
            breaker.openError ??
            new EndpointUnreachableError(breaker.origin, code, attempt + 1, false, breaker.httpTarget)
          );
      } else if (failure.kind === 'http') breaker.reached();
      if (!isRetryable(failure)) {
        const f = failure as Extract<AttemptFailure, { kind: 'http' }>;
        throw new LlmHttpError(this.callLabel(api), url, f.status, f.message, f.code, f.type, f.param);
      }
      if (attempt >= retryBudget(failure, this.retry))
        throw new LlmRetriesExhaustedError(this.callLabel(api), url, attempt + 1, failure);
      await sleep(backoffMs(attempt, failure, this.retry, this.random), signal);
    }
  }

  /** What a failed call is called in messages: its API, or "http target" for an endpoint given whole. */
  private callLabel(api: LlmApi): string {
    return this.endpoint.provider === 'http' ? 'http target' : api;
  }

  /** Not async itself: the attempt's own promise is handed on (no second promise and frame per call). */
  private attempt<R>(
    url: string,
    text: string,
    signal: AbortSignal | undefined,
    consume: (res: Response) => Promise<R>,
    traceparent?: string,
  ): Promise<{ ok: true; value: R } | { ok: false; failure: AttemptFailure }> {
    if (consume === (readJson as unknown)) {
      // The transport honours a caller's signal itself (the socket is destroyed): cheaper than fetch's handling of one.
      if (this.nodeTransport)
        return this.nodeAttempt(url, text, signal, traceparent) as Promise<
          { ok: true; value: R } | { ok: false; failure: AttemptFailure }
        >;
      if (!signal) return this.detachedAttempt(url, text, consume, traceparent);
    }
    return this.fetchAttempt(url, text, signal, consume, traceparent);
  }

  private async fetchAttempt<R>(
    url: string,
    text: string,
    signal: AbortSignal | undefined,
    consume: (res: Response) => Promise<R>,
    traceparent?: string,
  ): Promise<{ ok: true; value: R } | { ok: false; failure: AttemptFailure }> {
    // One controller per attempt, fed by the caller's signal and the time limit (no AbortSignal.any: see deadlines.ts).
    const controller = new AbortController();
    const timer = this.timeouts.start(() =>
      controller.abort(new DOMException('The operation timed out.', 'TimeoutError')),
    );
    const onAbort = signal ? () => controller.abort(signal.reason) : undefined;
    if (signal?.aborted) onAbort!();
    else signal?.addEventListener('abort', onAbort!, { once: true });
    try {
      const h = this.endpoint.headers();
      const base = h instanceof Promise ? await h : h;
      const headers = traceparent ? { ...base, traceparent } : base;
      const res =
        this.method === 'POST'
          ? await this.fetchImpl(url, { method: 'POST', headers, body: text, signal: controller.signal })
          : await this.fetchOther(url, headers, text, controller.signal);
      return await this.outcome(res, consume);
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      return this.failureOf(e, timer.expired);
    } finally {
      this.timeouts.finish(timer);
      if (signal && onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * A JSON call nobody can cancel sends no signal to fetch: undici's handling of one costs more CPU per call
   * than the whole engine (bench/README-engine.md). A late answer is abandoned, not aborted: the attempt times
   * out at once and the body is discarded when it arrives (undici's own timeouts bound a silent server).
   */
  private async detachedAttempt<R>(
    url: string,
    text: string,
    consume: (res: Response) => Promise<R>,
    traceparent?: string,
  ): Promise<{ ok: true; value: R } | { ok: false; failure: AttemptFailure }> {
    let abandoned = false;
    let timer: Deadline | undefined;
    try {
      const h = this.endpoint.headers();
      const base = h instanceof Promise ? await h : h;
      const headers = traceparent ? { ...base, traceparent } : base;
      const sent =
        this.method === 'POST'
          ? this.fetchImpl(url, { method: 'POST', headers, body: text })
          : this.fetchOther(url, headers, text);
      const work = sent.then((res) => {
        if (abandoned) {
          res.body?.cancel().catch(() => undefined);
          return undefined;
        }
        return this.outcome(res, consume);
      });
      return (await new Promise<{ ok: true; value: R } | { ok: false; failure: AttemptFailure } | undefined>(
        (resolve, reject) => {
          timer = this.timeouts.start(() => {
            abandoned = true;
            reject(TIMED_OUT);
          });
          work.then(resolve, reject);
        },
      ))!;
    } catch (e) {
      return this.failureOf(e, e === TIMED_OUT);
    } finally {
      if (timer) this.timeouts.finish(timer);
    }
  }

  /** An http target's PUT/PATCH (the JSON body) or GET (the body's fields as query parameters) over the transport. */
  private sendOther(url: string, headers: Record<string, string>, text: string) {
    const r = requestOf(this.method, url, text);
    return requestText(this.method, r.url, headers, r.body);
  }

  private fetchOther(url: string, headers: Record<string, string>, text: string, signal?: AbortSignal) {
    const r = requestOf(this.method, url, text);
    return this.fetchImpl(r.url, { method: this.method, headers, body: r.body, signal });
  }

  /**
   * A JSON call over the transport (transport.ts); a late answer's socket is destroyed at the deadline, and at once
   * when the caller's signal aborts (the call then rejects with the signal's reason, as fetch does).
   */
  private async nodeAttempt(
    url: string,
    text: string,
    signal?: AbortSignal,
    traceparent?: string,
  ): Promise<{ ok: true; value: unknown } | { ok: false; failure: AttemptFailure }> {
    let timer: Deadline | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const h = this.endpoint.headers();
      const base = h instanceof Promise ? await h : h;
      // The key headers object is shared by every call (its flat form is cached): a traced call gets its own.
      const headers = traceparent ? { ...base, traceparent } : base;
      // Also after the wait for a token: a signal that fired meanwhile has no listener yet.
      if (signal?.aborted) throw signal.reason;
      let call = this.method === 'POST' ? postText(url, headers, text) : this.sendOther(url, headers, text);
      const res = await new Promise<RawResponse>((resolve, reject) => {
        timer = this.timeouts.start(() => {
          call.abort();
          reject(TIMED_OUT);
        });
        if (signal) {
          onAbort = () => {
            call.abort();
            reject(signal.reason);
          };
          signal.addEventListener('abort', onAbort, { once: true });
        }
        // Follow 307/308 as fetch did (the method and body are kept); 301/302/303 would turn the POST into a GET.
        let hops = 0;
        const settle = (r: RawResponse) => {
          const location = r.header('location');
          if ((r.status === 307 || r.status === 308) && location && hops++ < 5) {
            const next = new URL(location, url).toString();
            call = this.method === 'POST' ? postText(next, headers, text) : this.sendOther(next, headers, text);
            call.response.then(settle, reject);
          } else resolve(r);
        };
        call.response.then(settle, reject);
      });
      this.observe?.(res.status, res.header);
      if (res.status >= 200 && res.status < 300) return { ok: true, value: JSON.parse(res.text) };
      return {
        ok: false,
        failure: {
          kind: 'http',
          status: res.status,
          retryAfterMs: retryAfterMs({ get: res.header }),
          ...errorEnvelope(res.text, res.statusText),
        },
      };
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      return this.failureOf(e, e === TIMED_OUT);
    } finally {
      if (timer) this.timeouts.finish(timer);
      if (onAbort) signal!.removeEventListener('abort', onAbort);
    }
  }

  private async outcome<R>(
    res: Response,
    consume: (res: Response) => Promise<R>,
  ): Promise<{ ok: true; value: R } | { ok: false; failure: AttemptFailure }> {
    this.observe?.(res.status, (name) => res.headers.get(name));
    if (res.ok) return { ok: true, value: await consume(res) };
    const errorText = await res.text();
    return {
      ok: false,
      failure: {
        kind: 'http',
        status: res.status,
        retryAfterMs: retryAfterMs(res.headers),
        ...errorEnvelope(errorText, res.statusText),
      },
    };
  }

  private failureOf(e: unknown, timedOut: boolean): { ok: false; failure: AttemptFailure } {
    if (timedOut) return { ok: false, failure: { kind: 'timeout', message: `no answer within ${this.timeoutMs} ms` } };
    if (e instanceof SyntaxError)
      return {
        ok: false,
        failure: { kind: 'network', message: `invalid JSON in a successful response: ${e.message}` },
      };
    type NetError = { code?: string; message?: string; errors?: { code?: string }[] };
    // fetch wraps the system error in `cause`; the transport rejects with it. A host with several addresses
    // (localhost: ::1 and 127.0.0.1) fails with an AggregateError of each.
    const cause = (e as { cause?: NetError }).cause ?? (e as NetError);
    const code = cause?.code ?? cause?.errors?.find((x) => x?.code)?.code;
    return { ok: false, failure: { kind: 'network', message: code ?? cause?.message ?? (e as Error).message, code } };
  }
}

const TIMED_OUT = Symbol('timed out'); // the rejection of an abandoned attempt

/**
 * A GET's URL: the rendered body's fields appended as query parameters (texts as they are, other values as
 * JSON, null left out); other methods send the body as it is.
 */
function requestOf(method: string, url: string, text: string): { url: string; body: string | undefined } {
  if (method !== 'GET') return { url, body: text };
  const u = new URL(url);
  const fields = JSON.parse(text) as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields))
    if (v !== null && v !== undefined) u.searchParams.append(k, typeof v === 'string' ? v : JSON.stringify(v));
  return { url: u.toString(), body: undefined };
}

async function readJson(res: Response): Promise<unknown> {
  return JSON.parse(await res.text());
}

/** The fields of an OpenAI/Azure error body (`{"error": {...}}`), or the raw text when it is not one. */
function errorEnvelope(
  text: string,
  statusText: string,
): { message: string; code?: string; type?: string; param?: string } {
  try {
    const e = (JSON.parse(text) as { error?: { message?: unknown; code?: unknown; type?: unknown; param?: unknown } })
      .error;
    if (e && typeof e === 'object') {
      return {
        message: typeof e.message === 'string' ? e.message : statusText,
        code:
          typeof e.code === 'string' ? e.code : e.code === undefined || e.code === null ? undefined : String(e.code),
        type: typeof e.type === 'string' ? e.type : undefined,
        param: typeof e.param === 'string' ? e.param : undefined,
      };
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return { message: text.slice(0, 500) || statusText };
}

/** The usage of a response body, zeros when it has none. */
export function usageOf(value: unknown): TokenUsage {
  const u = (value as { usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } } | null)
    ?.usage;
  if (!u) return NO_USAGE;
  const promptTokens = u.prompt_tokens ?? 0;
  const completionTokens = u.completion_tokens ?? 0;
  return { promptTokens, completionTokens, totalTokens: u.total_tokens ?? promptTokens + completionTokens };
}
