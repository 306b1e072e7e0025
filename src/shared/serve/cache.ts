/**
 * The response cache of the serving path (opt-in per deployment): a completed answer to exactly the same inputs
 * of the same flow is sent again without running the line. Keyed like the batch cache (llm/cache.ts: SHA-256 of
 * the canonical JSON), bounded by a time to live and a size, in a pluggable store: in-process LRU by default,
 * Redis when a URL is given (shared by every replica). Errors and degraded answers are never stored; a request
 * with `Cache-Control: no-store` neither reads nor writes it. A store that fails is a miss, never a failed request.
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
}

export class ServeCache {
  readonly counters: CacheCounters = { hits: 0, misses: 0, stores: 0, bypassed: 0, storeErrors: 0 };
  private readonly ttlMs: number;
  private readonly prefix: string;

  constructor(
    private readonly store: CacheStore,
    options: ServeCacheOptions = {},
  ) {
    this.ttlMs = (options.ttlSeconds ?? 300) * 1000;
    this.prefix = options.keyPrefix ?? 'llmops:serve:';
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

  /** The cached answer, or undefined (a miss). */
  async get(key: string): Promise<Record<string, unknown> | undefined> {
    let text: string | undefined;
    try {
      text = await this.store.get(key);
    } catch {
      this.counters.storeErrors++;
    }
    if (text === undefined) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return JSON.parse(text) as Record<string, unknown>;
  }

  async put(key: string, outputs: Record<string, unknown>): Promise<void> {
    try {
      await this.store.set(key, JSON.stringify(outputs), this.ttlMs);
      this.counters.stores++;
    } catch {
      this.counters.storeErrors++;
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

/** Whether a request's Cache-Control forbids the cache (`no-store`; `no-cache` also skips the read). */
export function cacheDirectives(header: string | string[] | undefined): { read: boolean; write: boolean } {
  const v = (Array.isArray(header) ? header.join(',') : (header ?? '')).toLowerCase();
  if (/(^|,)\s*no-store\s*(,|$)/.test(v)) return { read: false, write: false };
  if (/(^|,)\s*no-cache\s*(,|$)/.test(v)) return { read: false, write: true };
  return { read: true, write: true };
}
