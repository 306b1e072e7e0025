/**
 * The response cache of the serving path (opt-in per deployment): a completed answer to exactly the same inputs
 * of the same flow is sent again without running the line. Keyed like the batch cache (llm/cache.ts: SHA-256 of
 * the canonical JSON), bounded by a time to live and a size, in a pluggable store: in-process LRU by default,
 * Redis when a URL is given (shared by every replica). Errors and degraded answers are never stored; a request
 * with `Cache-Control: no-store` neither reads nor writes it. A store that fails is a miss, never a failed request.
 *
 * Concurrent misses are coalesced (single flight, per process): while one request runs the line for a key, later
 * requests with the same key wait for its answer instead of each calling the model. Only an answer that would be
 * stored is shared; when the running request fails (an error, a degraded answer, a guard refusal), each waiter
 * runs its own line, as it would have without the cache, so one caller's failure is never handed to another.
 * Waiting is bounded by the waiter's own request deadline and ends when its client goes away.
 * @module
 */
import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import { stableStringify } from '../llm/cache.js';

export interface ServeCacheOptions {
  /** How long an answer is served from the cache (seconds). Default 300. */
  ttlSeconds?: number;
  /** In-process store: most answers kept. Default 10000. */
  maxEntries?: number;
  /** In-process store: most bytes of answers kept. Default 64 MiB. */
  maxBytes?: number;
  /** redis:// or rediss:// URL: answers are kept there, shared by every replica. */
  redisUrl?: string;
  /** Prefix of Redis keys (several flows may share one server). Default `llmops:serve:`. */
  keyPrefix?: string;
  /** Told once when the store starts failing (requests are then answered without it) and once when it is back. */
  warn?: (message: string) => void;
}

/** Where answers are kept. Values are the answer's JSON text. */
export interface CacheStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  close(): Promise<void>;
  /** Resolves once the store can be used (or has given up for now: it is then a miss per call). */
  connected?(): Promise<void>;
}

/** An LRU map bounded by entries and bytes, with a deadline per entry (Map order is the recency order). */
export class MemoryStore implements CacheStore {
  private readonly entries = new Map<string, { value: string; expires: number }>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): Promise<string | undefined> {
    const e = this.entries.get(key);
    if (!e) return Promise.resolve(undefined);
    this.entries.delete(key);
    if (e.expires <= this.now()) {
      this.bytes -= e.value.length;
      return Promise.resolve(undefined);
    }
    this.entries.set(key, e);
    return Promise.resolve(e.value);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    if (value.length > this.maxBytes) return Promise.resolve();
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= old.value.length;
    }
    this.entries.set(key, { value, expires: this.now() + ttlMs });
    this.bytes += value.length;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.value.length;
    }
    return Promise.resolve();
  }

  get size(): number {
    return this.entries.size;
  }

  close(): Promise<void> {
    this.entries.clear();
    this.bytes = 0;
    return Promise.resolve();
  }
}

/** Answers kept in Redis with a PX expiry (node-redis, the official client). */
export class RedisStore implements CacheStore {
  private readonly client: ReturnType<typeof createClient>;
  private readonly ready: Promise<unknown>;

  constructor(url: string) {
    // Reconnect with a short bounded delay; while down, reads and writes fail fast (counted as store errors).
    this.client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2_000), connectTimeout: 2_000 },
    });
    this.client.on('error', () => undefined); // reported per call through the rejected command
    this.ready = this.client.connect().catch(() => undefined);
  }

  async get(key: string): Promise<string | undefined> {
    if (!this.client.isReady) throw new Error('redis is not connected');
    const v = await this.client.get(key);
    return typeof v === 'string' ? v : undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    if (!this.client.isReady) throw new Error('redis is not connected');
    await this.client.set(key, value, { expiration: { type: 'PX', value: Math.max(1, Math.round(ttlMs)) } });
  }

  async close(): Promise<void> {
    if (this.client.isReady) await this.client.close();
    else if (this.client.isOpen) this.client.destroy();
    await this.ready;
  }

  /** Waits for the first connection (a replica that starts with its cache). Resolves, never rejects. */
  connected(timeoutMs = 2_000): Promise<void> {
    return Promise.race([this.ready.then(() => undefined), new Promise<void>((r) => setTimeout(r, timeoutMs).unref())]);
  }
}

/** The counters `/metrics` shows (and telemetry may report). */
export interface CacheCounters {
  hits: number;
  misses: number;
  stores: number;
  /** Bypassed: the request said no-store. */
  bypassed: number;
  /** The store failed (Redis down): served as a miss. */
  storeErrors: number;
  /** Answered with the answer of a request that was running the same inputs (single flight). */
  coalesced: number;
}

/**
 * What a read found: an answer (kept, or shared by the request running the same inputs now), a waiter whose wait
 * ran out or whose client went away (`expired`), or a miss: the caller runs the line and hands its answer to `settle` (undefined when it
 * has none to share), which stores it and releases the requests waiting for it. `settle` must be called once.
 */
export type CacheLookup =
  | { result: 'hit' | 'coalesced'; outputs: Record<string, unknown> }
  | { result: 'expired' }
  | { result: 'miss'; settle: (outputs: Record<string, unknown> | undefined) => void };

/** A line being run for a key: its answer when it has one to share, undefined when it failed. */
type Flight = Promise<Record<string, unknown> | undefined>;

export class ServeCache {
  readonly counters: CacheCounters = { hits: 0, misses: 0, stores: 0, bypassed: 0, storeErrors: 0, coalesced: 0 };
  private readonly ttlMs: number;
  /** Lines being run now, by key (kept until the answer is in the store, so no request falls between). */
  private readonly flights = new Map<string, Flight>();
  private readonly prefix: string;
  private readonly warn: (message: string) => void;
  /** The store's last operation failed: the next success is reported as its recovery. */
  private storeDown = false;

  constructor(
    private readonly store: CacheStore,
    options: ServeCacheOptions = {},
  ) {
    this.ttlMs = (options.ttlSeconds ?? 300) * 1000;
    this.prefix = options.keyPrefix ?? 'llmops:serve:';
    this.warn = options.warn ?? (() => undefined);
  }

  private storeFailed(error: unknown): void {
    this.counters.storeErrors++;
    if (this.storeDown) return;
    this.storeDown = true;
    this.warn(
      `serving cache: its store failed (${(error as Error).message}); answering without it until it is back (llmops_response_cache_errors_total counts the failures)`,
    );
  }

  private storeAnswered(): void {
    if (!this.storeDown) return;
    this.storeDown = false;
    this.warn('serving cache: its store answers again');
  }

  /** The store the options name: Redis when a URL is given, else in-process. */
  static open(options: ServeCacheOptions): ServeCache {
    const store = options.redisUrl
      ? new RedisStore(options.redisUrl)
      : new MemoryStore(options.maxEntries ?? 10_000, options.maxBytes ?? 64 * 1024 * 1024);
    return new ServeCache(store, options);
  }

  /** The key of a flow's inputs: identity of the flow (name and variant) and the inputs, canonical JSON hashed. */
  keyOf(flow: string, inputs: Record<string, unknown>): string {
    return (
      this.prefix +
      createHash('sha256')
        .update(stableStringify(['serve', flow, inputs]))
        .digest('hex')
    );
  }

  /** The cached answer, or undefined (a miss, counted unless `countMiss` is false: the caller decides). */
  async get(key: string, countMiss = true): Promise<Record<string, unknown> | undefined> {
    let text: string | undefined;
    try {
      text = await this.store.get(key);
      this.storeAnswered();
    } catch (e) {
      this.storeFailed(e);
    }
    if (text === undefined) {
      if (countMiss) this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return JSON.parse(text) as Record<string, unknown>;
  }

  /**
   * The answer for a key: from the store, else from the request running the same inputs now (waiting at most
   * `waitMs`, or until `signal` aborts), else a miss whose caller leads the flight for the key.
   */
  async lookup(key: string, waitMs: number, signal?: AbortSignal): Promise<CacheLookup> {
    // A running flight is joined before the store is asked: its answer is not there yet.
    let flight = this.flights.get(key);
    if (!flight) {
      const kept = await this.get(key, false);
      if (kept) return { result: 'hit', outputs: kept };
      flight = this.flights.get(key); // one may have started while the store answered
    }
    if (flight) {
      const shared = await waitFor(flight, waitMs, signal);
      if (shared === 'expired') return { result: 'expired' };
      if (shared) {
        this.counters.coalesced++;
        return { result: 'coalesced', outputs: shared };
      }
      // The running request has no answer to share: this one runs its own line (without leading a new flight:
      // the waiters of a failed flight run side by side, as they would without the cache).
      this.counters.misses++;
      return { result: 'miss', settle: (outputs) => void (outputs && this.put(key, outputs)) };
    }
    this.counters.misses++;
    let release!: (outputs: Record<string, unknown> | undefined) => void;
    const lead: Flight = new Promise((resolve) => (release = resolve));
    this.flights.set(key, lead);
    return {
      result: 'miss',
      settle: (outputs) => {
        release(outputs);
        if (!outputs) return void this.flights.delete(key);
        // Requests arriving while the answer is being stored still join the (now answered) flight.
        void this.put(key, outputs).finally(() => {
          if (this.flights.get(key) === lead) this.flights.delete(key);
        });
      },
    };
  }

  /** How many keys have a line running now (tests, diagnostics). */
  get inFlight(): number {
    return this.flights.size;
  }

  async put(key: string, outputs: Record<string, unknown>): Promise<void> {
    try {
      await this.store.set(key, JSON.stringify(outputs), this.ttlMs);
      this.counters.stores++;
      this.storeAnswered();
    } catch (e) {
      this.storeFailed(e);
    }
  }

  /** Waits (boundedly) for the store's first connection, so a replica's first requests can share answers. */
  async ready(): Promise<void> {
    await this.store.connected?.();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** A flight's answer, or 'expired' once `waitMs` has passed or `signal` has aborted (the client went away). */
function waitFor(
  flight: Flight,
  waitMs: number,
  signal?: AbortSignal,
): Promise<Record<string, unknown> | undefined | 'expired'> {
  if (signal?.aborted) return Promise.resolve('expired');
  return new Promise((resolve) => {
    const timer = Number.isFinite(waitMs) ? setTimeout(() => done('expired'), Math.max(0, waitMs)) : undefined;
    const onAbort = (): void => done('expired');
    signal?.addEventListener('abort', onAbort, { once: true });
    function done(v: Record<string, unknown> | undefined | 'expired'): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    }
    void flight.then(done);
  });
}

/** Whether a request's Cache-Control forbids the cache (`no-store`; `no-cache` also skips the read). */
export function cacheDirectives(header: string | string[] | undefined): { read: boolean; write: boolean } {
  const v = (Array.isArray(header) ? header.join(',') : (header ?? '')).toLowerCase();
  if (/(^|,)\s*no-store\s*(,|$)/.test(v)) return { read: false, write: false };
  if (/(^|,)\s*no-cache\s*(,|$)/.test(v)) return { read: false, write: true };
  return { read: true, write: true };
}
