/**
 * A model pool: one connection name served by several endpoints/deployments (e.g. Azure OpenAI in two regions
 * and an OpenAI fallback). Each call goes to one member chosen by priority (lower first), then at random by
 * weight times live headroom: the `x-ratelimit-remaining-requests/-tokens` share the member last reported, a
 * cool-down after a 429 (its Retry-After), and its latency EWMA relative to the fastest member. A member that
 * keeps failing (unreachable, 5xx, timeouts) is taken out by a circuit breaker (breaker.ts) and probed back in
 * after its cool-down. A call that fails on one member is sent to another at once, within the call's deadline.
 *
 * Members are plain LlmClients without retries of their own (the pool decides where the next attempt goes) and
 * with their own limiter registry, so a dead member never fails a whole step the way a dead single endpoint does
 * (LlmService.unreachable): the pool answers from the others. A connection with one endpoint never gets here.
 * @module
 */
import { CircuitBreaker, type BreakerOptions } from './breaker.js';
import type { ResponseCache, CacheKeyParts } from './cache.js';
import { LlmClient, type CallOptions, type LlmClientOptions, type LlmResult } from './client.js';
import type { LlmApi, LlmConnection } from './connections.js';
import { EndpointUnreachableError, LlmHttpError, LlmRetriesExhaustedError } from './errors.js';
import { LimiterRegistry, type AdaptiveLimiter } from './limiter.js';
import { DEFAULT_RETRY, isRetryable, sleep } from './retry.js';
import { ServiceError } from '../errors.js';

/** One endpoint of a pool. */
export interface PoolMemberOptions {
  /** The member's own connection (its URL, deployment and secret). */
  connection: LlmConnection | { type: string; value: Record<string, unknown>; name?: string };
  /** Share of traffic among members of the same priority. Default 1. */
  weight?: number;
  /** Lower is preferred: members of a higher number get calls only while all lower ones are out. Default 1. */
  priority?: number;
  /** How errors and metrics name the member (never its key): e.g. `aoai[0] https://east.example`. */
  label?: string;
}

export interface LlmPoolOptions extends Omit<LlmClientOptions, 'connection' | 'limiters' | 'cache'> {
  /** Name of the pooled connection (errors, cache key). */
  name: string;
  members: PoolMemberOptions[];
  /** The batch response cache, keyed by the pool's name (any member's answer serves). */
  cache?: ResponseCache;
  /** When a member is taken out and how long before it is probed. Default 3 failures in a row, 5 s. */
  breaker?: BreakerOptions;
  /** Longest time one call may take over all members and waits (ms). Default: the attempt time limit. */
  deadlineMs?: number;
  /** Attempts over all members before giving up. Default (retries + 1) × members. */
  maxAttempts?: number;
  /** A factory of limiters (pacing per member URL, like LlmService's registry). */
  limiterFactory?: (maxConcurrency: number) => AdaptiveLimiter;
}

/** A pool's answer: which member gave it (undefined on a cache hit). */
export type PoolResult<T> = LlmResult<T> & { member?: PoolMember };

/** Latency differences below about this much (ms) are noise, not a reason to move traffic. */
const LATENCY_FLOOR_MS = 20;

export const DEFAULT_POOL_BREAKER: BreakerOptions = { threshold: 3, coolDownMs: 5_000 };

/** Every member failed or was out until the call's deadline or attempt budget ran out (exit 3). */
export class PoolExhaustedError extends ServiceError {
  constructor(
    readonly pool: string,
    readonly attempts: number,
    readonly lastError: Error | undefined,
    reason: string,
  ) {
    super(
      `model pool "${pool}" could not answer: ${reason} after ${attempts} attempts${lastError ? `; last failure: ${lastError.message}` : ''}`,
      (lastError as { status?: number } | undefined)?.status,
    );
    this.name = 'PoolExhaustedError';
  }
}

/** What the pool knows about one member. */
export class PoolMember {
  readonly weight: number;
  readonly priority: number;
  readonly breaker: CircuitBreaker;
  /** No calls before this time (epoch ms): the member answered 429 and asked to wait. */
  coolUntil = 0;
  /** Share of the request and token quota left, as last reported (1 when unknown). */
  requestHeadroom = 1;
  tokenHeadroom = 1;
  /** Latency EWMA of successful calls (ms); 0 until the first. */
  latencyMs = 0;
  calls = 0;
  failures = 0;

  constructor(
    readonly label: string,
    readonly client: LlmClient,
    options: PoolMemberOptions,
    breaker: BreakerOptions,
  ) {
    this.weight = options.weight ?? 1;
    this.priority = options.priority ?? 1;
    this.breaker = new CircuitBreaker(label, breaker);
  }

  /** Reads the rate-limit headers of an answer (Azure OpenAI and OpenAI both send them). */
  observe(status: number, header: (name: string) => string | null): void {
    this.requestHeadroom = share(header('x-ratelimit-remaining-requests'), header('x-ratelimit-limit-requests'));
    this.tokenHeadroom = share(header('x-ratelimit-remaining-tokens'), header('x-ratelimit-limit-tokens'));
    if (status === 429) this.requestHeadroom = 0;
  }

  succeeded(ms: number): void {
    this.calls++;
    this.latencyMs = this.latencyMs === 0 ? ms : this.latencyMs * 0.8 + ms * 0.2;
    this.breaker.reached();
  }
}

/**
 * A member's latency against the fastest's, in [0.25, 1]: a slower member gets fewer calls, never none (its
 * average only moves when it is called, so one slow spell must not starve it).
 */
function latencyShare(ms: number, fastest: number): number {
  if (!(ms > 0) || !Number.isFinite(fastest)) return 1;
  return Math.max(0.25, (fastest + LATENCY_FLOOR_MS) / (ms + LATENCY_FLOOR_MS));
}

/** remaining/limit in (0.02, 1]; 1 when either is missing. A member at zero still gets a trickle (it may refill). */
function share(remaining: string | null, limit: string | null): number {
  const r = Number(remaining);
  const l = Number(limit);
  if (remaining === null || limit === null || !(l > 0) || !Number.isFinite(r)) return 1;
  return Math.min(1, Math.max(0.02, r / l));
}

export class LlmPool {
  readonly members: PoolMember[];
  private readonly cache?: ResponseCache;
  private readonly deadlineMs: number;
  private readonly maxAttempts: number;
  private readonly random: () => number;

  constructor(private readonly options: LlmPoolOptions) {
    if (options.members.length === 0) throw new Error(`model pool "${options.name}" has no endpoints`);
    const limiters = new LimiterRegistry(
      options.maxConcurrency ?? 64,
      // The pool's own breakers decide; a member's registry never refuses calls by itself.
      { threshold: Number.POSITIVE_INFINITY, coolDownMs: 0 },
      options.limiterFactory,
    );
    const breaker = options.breaker ?? DEFAULT_POOL_BREAKER;
    this.random = options.random ?? Math.random;
    this.members = options.members.map((m, i) => {
      let member: PoolMember | undefined = undefined;
      const client = new LlmClient({
        ...options,
        connection: m.connection,
        limiters,
        retry: { ...options.retry, maxRetries: 0, connectRetries: 0 },
        observe: (status, header) => member?.observe(status, header),
      });
      member = new PoolMember(m.label ?? `${options.name}[${i}] ${client.endpoint.baseUrl}`, client, m, breaker);
      return member;
    });
    this.cache = options.cache && options.cache.mode !== 'off' ? options.cache : undefined;
    this.deadlineMs = options.deadlineMs ?? options.timeoutMs ?? 600_000;
    this.maxAttempts =
      options.maxAttempts ?? ((options.retry?.maxRetries ?? DEFAULT_RETRY.maxRetries) + 1) * this.members.length;
  }

  get name(): string {
    return this.options.name;
  }

  chat<T = unknown>(body: Record<string, unknown>, options?: CallOptions): Promise<PoolResult<T>> {
    return this.call<T>('chat', body, options);
  }
  completion<T = unknown>(body: Record<string, unknown>, options?: CallOptions): Promise<PoolResult<T>> {
    return this.call<T>('completion', body, options);
  }
  embedding<T = unknown>(body: Record<string, unknown>, options?: CallOptions): Promise<PoolResult<T>> {
    return this.call<T>('embedding', body, options);
  }

  /** The limiter of a member's API + model (token pacing is settled on the member that answered). */
  limiterFor(member: PoolMember, api: LlmApi, model: string): AdaptiveLimiter {
    return member.client.limiterFor(api, model);
  }

  async call<T>(api: LlmApi, body: Record<string, unknown>, options: CallOptions = {}): Promise<PoolResult<T>> {
    const started = performance.now();
    let parts: CacheKeyParts | undefined;
    let key: string | undefined;
    if (this.cache && options.cache !== false) {
      parts = { provider: 'pool', endpoint: this.options.name, model: String(body.model ?? ''), body };
      key = this.cache.keyOf(parts);
      const hit = await this.cache.get(key, parts);
      if (hit !== undefined)
        return {
          response: hit as T,
          usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
          latencyMs: performance.now() - started,
          cached: true,
          attempts: 0,
        };
    }
    const result = await this.send<T>(api, body, options);
    if (key && parts) await this.cache!.put(key, parts, result.response);
    return { ...result, latencyMs: performance.now() - started };
  }

  /** Sends to one member after another until one answers, the deadline passes or the attempts run out. */
  private async send<T>(api: LlmApi, body: Record<string, unknown>, options: CallOptions): Promise<PoolResult<T>> {
    const signal = options.signal;
    const deadline = Date.now() + this.deadlineMs;
    const tried = new Set<PoolMember>();
    let attempts = 0;
    let lastError: Error | undefined;
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const member = this.pick(tried);
      if (!member) {
        // Every member was tried this round, is cooling down after a 429 or is out: wait for the first to return.
        const now = Date.now();
        const wait = this.nextReturn(now) - now;
        if (now + wait >= deadline)
          throw new PoolExhaustedError(
            this.options.name,
            attempts,
            lastError,
            'no endpoint can answer before the deadline',
          );
        await sleep(Math.max(wait, 10), signal);
        tried.clear();
        continue;
      }
      tried.add(member);
      attempts++;
      const t0 = performance.now();
      try {
        const r = await member.client[api](body, { ...options, cache: false });
        member.succeeded(performance.now() - t0);
        return { ...(r as LlmResult<T>), attempts, member };
      } catch (e) {
        if (signal?.aborted) throw e;
        if (!this.failed(member, e)) throw e;
        lastError = e as Error;
        if (attempts >= this.maxAttempts)
          throw new PoolExhaustedError(this.options.name, attempts, lastError, 'every attempt failed');
        if (Date.now() >= deadline)
          throw new PoolExhaustedError(this.options.name, attempts, lastError, 'the deadline passed');
      }
    }
  }

  /**
   * Records a member's failure; false when the error is the request's own fault (400, 401, …), which another
   * member would answer the same way.
   */
  private failed(member: PoolMember, e: unknown): boolean {
    member.failures++;
    if (e instanceof EndpointUnreachableError) {
      member.breaker.unreachable(e.code);
      return true;
    }
    if (e instanceof LlmRetriesExhaustedError) {
      const f = e.lastFailure;
      if (!isRetryable(f)) return false;
      if (f.kind === 'http' && f.status === 429) {
        // Throttled is an answer, not an outage: the member cools down for as long as it asked.
        member.breaker.reached();
        member.coolUntil = Date.now() + Math.min(f.retryAfterMs ?? 1_000, 60_000);
      } else member.breaker.unreachable(f.kind === 'http' ? `HTTP ${f.status}` : f.kind);
      return true;
    }
    if (e instanceof LlmHttpError) {
      // 401/403/404 from one member is that member's misconfiguration (its key or deployment), not the request's.
      if (e.status === 401 || e.status === 403 || e.status === 404) {
        member.breaker.unreachable(`HTTP ${e.status}`);
        return true;
      }
      return false;
    }
    return false;
  }

  /** The member for the next attempt, or undefined when none may be called now. */
  private pick(tried: Set<PoolMember>): PoolMember | undefined {
    const now = Date.now();
    let best: PoolMember[] | undefined;
    let bestPriority = Number.POSITIVE_INFINITY;
    for (const m of this.members) {
      if (tried.has(m)) continue;
      if (m.breaker.openError) {
        // Out; after its cool-down exactly one call probes it (refuse() lets it through once).
        if (m.breaker.refuse() === undefined) return m;
        continue;
      }
      if (m.coolUntil > now || m.priority > bestPriority) continue;
      if (m.priority < bestPriority) {
        bestPriority = m.priority;
        best = [m];
      } else best!.push(m);
    }
    if (!best) return undefined;
    if (best.length === 1) return best[0];
    let fastest = Number.POSITIVE_INFINITY;
    for (const m of best) if (m.latencyMs > 0 && m.latencyMs < fastest) fastest = m.latencyMs;
    const scores = best.map(
      (m) => m.weight * Math.min(m.requestHeadroom, m.tokenHeadroom) * latencyShare(m.latencyMs, fastest),
    );
    let total = 0;
    for (const s of scores) total += s;
    let r = this.random() * total;
    for (let i = 0; i < best.length; i++) {
      r -= scores[i];
      if (r <= 0) return best[i];
    }
    return best[best.length - 1];
  }

  /** When the first member may be called again (epoch ms). */
  private nextReturn(now: number): number {
    let at = Number.POSITIVE_INFINITY;
    const coolDown = (this.options.breaker ?? DEFAULT_POOL_BREAKER).coolDownMs;
    for (const m of this.members) {
      if (m.breaker.openError) at = Math.min(at, now + Math.min(coolDown, 250));
      else at = Math.min(at, Math.max(now, m.coolUntil));
    }
    return at;
  }
}
