/**
 * Errors of LLM calls. Both are ServiceErrors (exit code 3): the model service refused or failed.
 * Messages name the provider, API, status and the service's own message — never a key or token.
 * @module
 */
import { ServiceError } from '../errors.js';
import type { AttemptFailure } from './retry.js';

/** The service answered with an error that retrying cannot fix (400, 401, 403, 404, 429 insufficient_quota, …). */
export class LlmHttpError extends ServiceError {
  constructor(
    readonly api: string,
    readonly url: string,
    override readonly status: number,
    readonly serviceMessage: string,
    readonly code?: string,
    readonly type?: string,
    readonly param?: string,
  ) {
    super(`${api} call to ${url} failed with HTTP ${status}${code ? ` (${code})` : ''}: ${serviceMessage}`, status);
    this.name = 'LlmHttpError';
  }
}

/** Every attempt failed with a retryable failure until the retry budget ran out. */
export class LlmRetriesExhaustedError extends ServiceError {
  constructor(
    readonly api: string,
    readonly url: string,
    readonly attempts: number,
    readonly lastFailure: AttemptFailure,
  ) {
    const what = lastFailure.kind === 'http' ? `HTTP ${lastFailure.status}: ${lastFailure.message}` : `${lastFailure.kind}: ${lastFailure.message}`;
    super(`${api} call to ${url} failed after ${attempts} attempts; last failure ${what}`, lastFailure.kind === 'http' ? lastFailure.status : undefined);
    this.name = 'LlmRetriesExhaustedError';
  }
}
