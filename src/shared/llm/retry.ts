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
}

export const DEFAULT_RETRY: RetryOptions = { maxRetries: 10, baseDelayMs: 1000, maxDelayMs: 60_000 };

/** What went wrong with one attempt. */
export type AttemptFailure =
  | { kind: 'http'; status: number; code?: string; type?: string; param?: string; message: string; retryAfterMs?: number }
  | { kind: 'timeout'; message: string }
  | { kind: 'network'; message: string };

/** Whether a failed attempt may succeed if tried again. */
export function isRetryable(f: AttemptFailure): boolean {
  if (f.kind !== 'http') return true;
  if (f.status === 429) return f.code !== 'insufficient_quota';
  return f.status >= 500 || f.status === 408;
}

/** The wait the service asked for, in ms, from `retry-after-ms` or `Retry-After` (seconds or HTTP date). */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
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

/** How long to wait before retry number `retry` (0-based). */
export function backoffMs(retry: number, failure: AttemptFailure, options: RetryOptions, random: () => number = Math.random): number {
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
