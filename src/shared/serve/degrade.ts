/**
 * Graceful degradation of the serving path: a configured fallback answer when the models cannot answer (the
 * model pool is exhausted, the endpoint is unreachable, or the line timed out), marked in the response and
 * counted; and load shedding: past a bound of /score requests in flight, new ones get 503 with Retry-After at
 * once (their body unread), so a burst costs a few bytes per request instead of a queue without limit.
 * @module
 */
import type { PfError } from '../engine/line-error.js';

export interface DegradeOptions {
  /**
   * The outputs answered instead of an error when the models cannot answer (e.g. `{"answer": "Sorry, try again
   * later"}`). The answer carries `x-llmops-degraded: <reason>` and the field `llmops_degraded: <reason>`.
   */
  fallback?: Record<string, unknown>;
  /** Most /score requests answered at once; beyond, 503 with Retry-After. Default: no bound. */
  maxInFlight?: number;
  /** Retry-After of a shed request (seconds). Default 1. */
  retryAfterSeconds?: number;
}

/** Failures of the model side (not of the request, not of the flow's own code), by the error the line recorded. */
const MODEL_FAILURES = new Set([
  'PoolExhaustedError',
  'LlmRetriesExhaustedError',
  'EndpointUnreachableError',
  'ServiceError',
]);

/** Why a failed line may be answered with the fallback ('timeout' | 'models'), or undefined when it may not. */
export function degradeReason(error: PfError | undefined): 'timeout' | 'models' | undefined {
  if (!error) return undefined;
  for (let inner = error.innerError; inner; inner = inner.innerError)
    if (inner.code === 'LineExecutionTimeoutError') return 'timeout';
  return error.debugInfo && MODEL_FAILURES.has(error.debugInfo.type) ? 'models' : undefined;
}

/** Counters `/metrics` shows. */
export interface DegradeCounters {
  /** Requests answered with the fallback, by reason. */
  fallback: { timeout: number; models: number };
  /** Requests refused with 503 (too many in flight). */
  shed: number;
}

export function newDegradeCounters(): DegradeCounters {
  return { fallback: { timeout: 0, models: 0 }, shed: 0 };
}
