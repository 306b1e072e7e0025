/**
 * Which failures are worth retrying and how long to wait: exponential backoff with full jitter, unless the
 * service said how long (`retry-after-ms`, then `Retry-After` in seconds or as an HTTP date).
 * Mirrors Prompt Flow's `handle_openai_error` (spec §2.3): 429 (not `insufficient_quota`), 5xx, timeouts and
 * dropped connections are retried; any other 4xx is the caller's mistake and is not.
 * @module
 */

export interface RetryOptions {
  /** Retries after the first attempt. Default 10. */
  maxRetries: number;
  /** First backoff ceiling (ms); doubles per retry. Default 1000. */
  baseDelayMs: number;
  /** Largest wait (ms), also caps a service's Retry-After. Default 60000. */
  maxDelayMs: number;
  /**
   * Retries of a connection the endpoint refused (or a host that cannot be reached): a short budget, as a
   * server that is down rarely comes back within a line's retries. Default 2.
   */
  connectRetries: number;
  /** Wait before each of those retries (ms). Default 250. */
  connectDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxRetries: 10,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  connectRetries: 2,
  connectDelayMs: 250,
};

/** What went wrong with one attempt. `code`: the system error code of a network failure (ECONNREFUSED, …). */
export type AttemptFailure =
  | {
      kind: 'http';
      status: number;
      code?: string;
      type?: string;
      param?: string;
      message: string;
      retryAfterMs?: number;
    }
  | { kind: 'timeout'; message: string }
  | { kind: 'network'; message: string; code?: string };

/** A host name that does not resolve: retrying cannot fix a wrong or unknown name within a run. */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);
/** No connection could be made to a resolved address: the endpoint (or the route to it) is down. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** 'dns' or 'connect' when the attempt never reached the endpoint; undefined otherwise (it answered or dropped). */
export function unreachableKind(f: AttemptFailure): 'dns' | 'connect' | undefined {
  if (f.kind !== 'network' || !f.code) return undefined;
  if (DNS_CODES.has(f.code)) return 'dns';
  return CONNECT_CODES.has(f.code) ? 'connect' : undefined;
}

/** Whether a failed attempt may succeed if tried again. */
export function isRetryable(f: AttemptFailure): boolean {
  if (f.kind === 'network') return unreachableKind(f) !== 'dns';
  if (f.kind !== 'http') return true;
  if (f.status === 429) return f.code !== 'insufficient_quota';
  return f.status >= 500 || f.status === 408;
}

/** The wait the service asked for, in ms, from `retry-after-ms` or `Retry-After` (seconds or HTTP date). */
export function retryAfterMs(headers: { get(name: string): string | null }, now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null) {
    const v = Number(ms);
    if (Number.isFinite(v) && v >= 0) return v;
  }
  const ra = headers.get('retry-after');
  if (ra === null) return undefined;
  const seconds = Number(ra);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(ra);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Retries allowed after a failure of this kind. */
export function retryBudget(failure: AttemptFailure, options: RetryOptions): number {
  return unreachableKind(failure) === 'connect'
    ? Math.min(options.connectRetries, options.maxRetries)
    : options.maxRetries;
}

/** How long to wait before retry number `retry` (0-based). */
export function backoffMs(
  retry: number,
  failure: AttemptFailure,
  options: RetryOptions,
  random: () => number = Math.random,
): number {
  if (unreachableKind(failure) === 'connect') return options.connectDelayMs;
  const asked = failure.kind === 'http' ? failure.retryAfterMs : undefined;
  if (asked !== undefined) return Math.min(asked, options.maxDelayMs);
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  return random() * ceiling;
}

/** A sleep that ends early (rejecting) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
