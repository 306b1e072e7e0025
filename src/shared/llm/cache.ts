/**
 * Response cache: content-addressed JSON files under a root the caller gives (the run store's
 * `.llmops/cache/`). The key is sha256 of (provider, endpoint, model/deployment, request body) in stable JSON
 * (sorted keys), so the same call from any process or machine finds the same file. Writes are atomic
 * (temp file + rename), so concurrent writers never leave a torn file; a TTL and a size limit (oldest
 * evicted first) bound it. Only successful responses are ever stored — the client never offers errors.
 *
 * Modes: `readwrite` (default) · `read` (use, never store) · `write` (store, never use) · `off` ·
 * `replay` (use; a miss is an error naming the missing request, no network call — for offline CI).
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { contentText } from './tokens.js';

export type CacheMode = 'read' | 'write' | 'readwrite' | 'off' | 'replay';

export interface CacheOptions {
  /** Directory of the cache (created when first written). */
  root: string;
  mode?: CacheMode;
  /** Entries older than this are misses (and removed). Default: no expiry. */
  ttlMs?: number;
  /** Size bound of all entries; beyond it the oldest are deleted. Default: unbounded. */
  maxBytes?: number;
  /** Clock, for tests of the TTL. */
  now?: () => number;
  /**
   * Applied to a response before it is written (the use case's PII redaction of the run store, which holds the
   * cache): the cache then keeps, and replays, what the run store keeps.
   */
  redact?: (response: unknown) => Promise<unknown>;
}

/**
 * The repetition (`repeat: K`) of the line whose calls run inside: repetitions send the same requests, and a
 * shared cached answer would make them identical. Repetition 0 keeps the plain key, so existing caches still hit.
 * Held in async context so the engine need not carry it through every node to the client.
 */
const repetitionScope = new AsyncLocalStorage<number>();

/** Runs `work` (one line's execution) with the calls it makes cached as repetition `index`. */
export function asRepetition<T>(index: number, work: () => T): T {
  return repetitionScope.run(index, work);
}

/** The repetition the current line runs as, if any (to carry it across a hop the async context does not follow). */
export function currentRepetition(): number | undefined {
  return repetitionScope.getStore();
}

/** What identifies a call. */
export interface CacheKeyParts {
  provider: string;
  /** The endpoint's base URL; for an http target its whole URL (so two targets never share answers). */
  endpoint: string;
  model: string;
  body: unknown;
  /** An http target's method when not POST: the same body sent by GET or PUT is another request. */
  method?: string;
}

interface StoredEntry {
  v: 1;
  key: string;
  createdAt: number;
  provider: string;
  endpoint: string;
  model: string;
  response: unknown;
}

/** In replay mode, a request that is not in the cache. Exit code 2: the recorded cache is incomplete input. */
export class ReplayMissError extends ConfigError {
  constructor(
    readonly root: string,
    readonly key: string,
    readonly model: string,
    readonly lastMessage: string,
  ) {
    super([
      {
        file: root,
        message: `cache replay: no recorded response for model "${model}", last message "${lastMessage}" (key ${key}); record it first with cache mode readwrite or write`,
      },
    ]);
    this.name = 'ReplayMissError';
  }
}

/** JSON with object keys sorted at every level, so equal requests give equal text whatever their key order. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stableStringify(v))).join(',')}]`;
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== 'function') parts.push(`${JSON.stringify(k)}:${stableStringify(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** The last message (chat), prompt (completion) or input (embedding) of a body, cut to 80 characters. */
export function describeRequest(body: unknown): string {
  const b = (body ?? {}) as Record<string, unknown>;
  let text: string;
  if (Array.isArray(b.messages) && b.messages.length > 0)
    text = contentText((b.messages[b.messages.length - 1] as { content?: unknown }).content);
  else if (b.prompt !== undefined) text = typeof b.prompt === 'string' ? b.prompt : JSON.stringify(b.prompt);
  else text = typeof b.input === 'string' ? b.input : JSON.stringify(b.input ?? '');
  return text.length > 80 ? text.slice(0, 80) : text;
}

export class ResponseCache {
  readonly root: string;
  readonly mode: CacheMode;
  private readonly now: () => number;
  private approxBytes: number | undefined;
  private evicting: Promise<void> | undefined;
  private readonly madeDirs = new Set<string>();

  constructor(private readonly options: CacheOptions) {
    this.root = options.root;
    this.mode = options.mode ?? 'readwrite';
    this.now = options.now ?? Date.now;
  }

  get reads(): boolean {
    return this.mode === 'read' || this.mode === 'readwrite' || this.mode === 'replay';
  }

  get writes(): boolean {
    return this.mode === 'write' || this.mode === 'readwrite';
  }

  /** The content address of a call; a repetition after the first (`repeat: K`) gets its own. */
  keyOf(parts: CacheKeyParts): string {
    const repetition = repetitionScope.getStore();
    const identity = [parts.provider, parts.endpoint, parts.model, parts.body];
    // POST (every model call) keeps the plain key, so caches recorded before still hit.
    if (parts.method && parts.method !== 'POST') identity.push({ method: parts.method });
    if (repetition) identity.push({ repetition });
    return createHash('sha256').update(stableStringify(identity)).digest('hex');
  }

  private pathOf(key: string): string {
    return join(this.root, key.slice(0, 2), `${key}.json`);
  }

  /**
   * The recorded response of a call, or undefined (mode off/write, miss, expired, unreadable).
   * In replay mode a miss throws {@link ReplayMissError}.
   */
  async get(key: string, parts: CacheKeyParts): Promise<unknown | undefined> {
    if (!this.reads) return undefined;
    const found = await this.read(key);
    if (found === undefined && this.mode === 'replay')
      throw new ReplayMissError(this.root, key, parts.model, describeRequest(parts.body));
    return found;
  }

  private async read(key: string): Promise<unknown | undefined> {
    const path = this.pathOf(key);
    let entry: StoredEntry;
    try {
      entry = JSON.parse(await readFile(path, 'utf8')) as StoredEntry;
    } catch {
      return undefined; // absent, or unreadable (never happens with atomic writes; a miss either way)
    }
    if (entry.key !== key) return undefined;
    if (this.options.ttlMs !== undefined && this.now() - entry.createdAt > this.options.ttlMs) {
      await unlink(path).catch(() => undefined);
      return undefined;
    }
    return entry.response;
  }

  /** Record a successful response (no-op unless the mode writes). */
  async put(key: string, parts: CacheKeyParts, response: unknown): Promise<void> {
    if (!this.writes) return;
    const path = this.pathOf(key);
    const dir = join(this.root, key.slice(0, 2));
    if (!this.madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
    const entry: StoredEntry = {
      v: 1,
      key,
      createdAt: this.now(),
      provider: parts.provider,
      // An http target's query string may carry a key (?code=…): the entry names the endpoint without it.
      endpoint: withoutQuery(parts.endpoint),
      model: parts.model,
      response: this.options.redact ? await this.options.redact(response) : response,
    };
    const text = JSON.stringify(entry);
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, path);
    if (this.options.maxBytes !== undefined) {
      this.approxBytes = (this.approxBytes ?? (await this.totalBytes())) + Buffer.byteLength(text);
      if (this.approxBytes > this.options.maxBytes) await this.evict();
    }
  }

  private async listEntries(): Promise<{ path: string; size: number; mtimeMs: number }[]> {
    const out: { path: string; size: number; mtimeMs: number }[] = [];
    const dirs = await readdir(this.root).catch(() => [] as string[]);
    for (const d of dirs) {
      const files = await readdir(join(this.root, d)).catch(() => [] as string[]);
      for (const f of files) {
        if (!f.endsWith('.json')) continue;
        const path = join(this.root, d, f);
        const s = await stat(path).catch(() => undefined);
        if (s) out.push({ path, size: s.size, mtimeMs: s.mtimeMs });
      }
    }
    return out;
  }

  private async totalBytes(): Promise<number> {
    return (await this.listEntries()).reduce((sum, e) => sum + e.size, 0);
  }

  /** Delete the oldest entries until the cache is under 90% of its limit (slack, so not every put rescans). */
  private evict(): Promise<void> {
    this.evicting ??= (async () => {
      const entries = await this.listEntries();
      entries.sort((a, b) => a.mtimeMs - b.mtimeMs);
      let total = entries.reduce((sum, e) => sum + e.size, 0);
      const target = this.options.maxBytes! * 0.9;
      for (const e of entries) {
        if (total <= target) break;
        await unlink(e.path).catch(() => undefined); // another process may have evicted it already
        total -= e.size;
      }
      this.approxBytes = total;
    })().finally(() => (this.evicting = undefined));
    return this.evicting;
  }
}

function withoutQuery(url: string): string {
  const at = url.indexOf('?');
  return at < 0 ? url : `${url.slice(0, at)}?…`;
}
