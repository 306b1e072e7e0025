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
    const what =
      lastFailure.kind === 'http'
        ? `HTTP ${lastFailure.status}: ${lastFailure.message}`
        : `${lastFailure.kind}: ${lastFailure.message}`;
    super(
      `${api} call to ${url} failed after ${attempts} attempts; last failure ${what}`,
      lastFailure.kind === 'http' ? lastFailure.status : undefined,
    );
    this.name = 'LlmRetriesExhaustedError';
  }
}

/** What a system error code means, for the message. */
const CODE_MEANING: Record<string, string> = {
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved (DNS unavailable)',
  EAI_NONAME: 'the host name does not resolve',
  EAI_FAIL: 'the host name could not be resolved',
  ECONNREFUSED: 'nothing accepts connections at that address and port',
  EHOSTUNREACH: 'the host cannot be reached',
  ENETUNREACH: 'the network cannot be reached',
  EADDRNOTAVAIL: 'the address is not available',
  UND_ERR_CONNECT_TIMEOUT: 'connecting timed out',
};

/** A URL as messages show it: without its query, where a key may be passed (`?code=...`). */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return url;
  }
}

/** The endpoint could not be reached at all: its host name does not resolve, or no connection can be made. */
export class EndpointUnreachableError extends ServiceError {
  constructor(
    readonly origin: string,
    readonly code: string,
    readonly attempts: number,
    /** The endpoint's circuit is open: later calls fail at once with this error. */
    readonly circuitOpen = false,
    /** The URL of the http flow target this endpoint is (undefined: a model endpoint). */
    readonly httpTarget?: string,
  ) {
    const meaning = CODE_MEANING[code] ?? 'no connection could be made';
    const what = circuitOpen
      ? `${attempts} connection attempts in a row failed, so the remaining calls to it fail at once`
      : attempts > 1
        ? `gave up after ${attempts} attempts`
        : 'not retried';
    super(
      httpTarget !== undefined
        ? `http target ${shownUrl(httpTarget)} is unreachable (${code}: ${meaning}); ${what}. Check that the endpoint is running and the target's url (flow.url in experiment.yaml) is right.`
        : `model endpoint ${origin} is unreachable (${code}: ${meaning}); ${what}. Check that the endpoint is running and the connection's api_base/base_url is right.`,
    );
    this.name = 'EndpointUnreachableError';
  }
}
