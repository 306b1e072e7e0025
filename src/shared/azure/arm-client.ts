/**
 * A thin Azure Resource Manager client over @azure/core-rest-pipeline, at the api-version of the
 * vendored Azure ML spec. The pipeline brings TLS, the bearer-token policy and the 429/5xx retries
 * (Retry-After honoured); this module adds what ARM needs on top: long-running operations polled
 * through `Azure-AsyncOperation` or `Location`, and every failure turned into one clear error naming
 * the resource and the service's own message (exit 3), a 403 named as a missing role assignment.
 *
 * Why not @azure/arm-machinelearning: its last release pins api-version 2022-10-01, which is not the
 * spec we validate against (2025-12-01) and lacks newer fields (serverless job compute, isDefault
 * filters); every operation we call is a plain REST call with the ARM envelope.
 * @module
 */
import {
  bearerTokenAuthenticationPolicy,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  createDefaultHttpClient,
  type HttpClient,
  type Pipeline,
  type PipelineResponse,
  RestError,
  retryPolicy,
} from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import { ServiceError } from '../errors.js';

/** api-version of the vendored spec (specs/azure-rest-api-specs, Microsoft.MachineLearningServices stable). */
export const ML_API_VERSION = '2025-12-01';

export interface ArmClientOptions {
  /** Resource Manager endpoint, e.g. https://management.azure.com. */
  endpoint: string;
  credential: TokenCredential;
  /** Token scope; default `<endpoint origin>/.default`. */
  scope?: string;
  apiVersion?: string;
  /** Retries of a 429/5xx/network failure (default 4). */
  maxRetries?: number;
  /** First retry delay without Retry-After, doubled each time (default 1000 ms). */
  retryDelayMs?: number;
  /** Poll interval of a long-running operation that sends no Retry-After (default 10 s, ARM's usual). */
  pollIntervalMs?: number;
  /** Longest wait for a long-running operation (default 60 min: online deployments routinely take 15+). */
  lroTimeoutMs?: number;
  /** Longest wait for one response (default 120 s); a timeout is retried like a network failure. */
  requestTimeoutMs?: number;
  /** Role named when a call is forbidden (403), unless a call names its own. */
  role?: string;
  /** Tests only: a different HTTP client. */
  httpClient?: HttpClient;
}

export interface ArmCall {
  /** What is being done, for messages: `register data asset "train" version 1a2b`. */
  what: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** The role that allows this call, named when it is forbidden. */
  role?: string;
  /** Statuses that are answers, not failures (e.g. 404 for "does it exist?"). */
  accept?: number[];
  /** Extra request headers (e.g. If-Match for a conditional write). */
  headers?: Record<string, string>;
}

export interface ArmResponse<T = unknown> {
  status: number;
  body: T;
  headers: Record<string, string>;
}

const RETRY_AFTER_HEADERS = ['retry-after', 'retry-after-ms', 'x-ms-retry-after-ms'];
const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'cancelled']);

export class ArmClient {
  readonly endpoint: string;
  readonly apiVersion: string;
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient;
  private readonly pollIntervalMs: number;
  private readonly lroTimeoutMs: number;
  private readonly role: string;
  private readonly requestTimeoutMs: number;

  constructor(options: ArmClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.apiVersion = options.apiVersion ?? ML_API_VERSION;
    this.pollIntervalMs = options.pollIntervalMs ?? 10_000;
    this.lroTimeoutMs = options.lroTimeoutMs ?? 60 * 60_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
    this.role = options.role ?? 'AzureML Data Scientist (or Contributor) on the workspace';
    this.httpClient = options.httpClient ?? createDefaultHttpClient();
    this.pipeline = createPipelineFromOptions({
      retryOptions: {
        maxRetries: options.maxRetries ?? 4,
        retryDelayInMs: options.retryDelayMs ?? 1000,
        maxRetryDelayInMs: 60_000,
      },
      userAgentOptions: { userAgentPrefix: 'llmops' },
    });
    // The library retries 5xx, and a 429 or 503 that says when (Retry-After); a 429 that does not say
    // when is retried here with the same exponential back-off, innermost so retries do not multiply.
    const baseDelay = options.retryDelayMs ?? 1000;
    this.pipeline.addPolicy(
      retryPolicy(
        [
          {
            name: 'throttledWithoutRetryAfter',
            retry: ({ response, retryCount }) => {
              if (response?.status !== 429 || RETRY_AFTER_HEADERS.some((h) => response.headers.has(h)))
                return { skipStrategy: true };
              return { retryAfterInMs: Math.min(60_000, baseDelay * 2 ** retryCount * (0.8 + Math.random() * 0.4)) };
            },
          },
        ],
        { maxRetries: options.maxRetries ?? 4 },
      ),
      { phase: 'Retry' },
    );
    const credential = options.credential;
    const authority = options.scope ?? `${new URL(this.endpoint).origin}/.default`;
    // Token failures say where sign-in failed, not a generic "request failed".
    const signingIn: TokenCredential = {
      getToken: async (scopes, opts) => {
        try {
          return await credential.getToken(scopes, opts);
        } catch (e) {
          throw new ServiceError(
            `Azure sign-in failed (token for ${authority}): ${firstLine(e instanceof Error ? e.message : String(e))}`,
          );
        }
      },
    };
    this.pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: signingIn, scopes: authority }));
  }

  /** One call; a non-2xx status (not in `accept`) becomes a ServiceError naming `what` and the service's message. */
  async request<T = unknown>(method: string, path: string, call: ArmCall): Promise<ArmResponse<T>> {
    const url = this.url(path, call.query);
    const response = await this.send(method, url, call);
    if (response.status >= 400 && !call.accept?.includes(response.status)) throw this.failure(method, response, call);
    return response as ArmResponse<T>;
  }

  get<T = unknown>(path: string, call: ArmCall): Promise<ArmResponse<T>> {
    return this.request<T>('GET', path, call);
  }

  /** Every item of a pageable list (`value` + `nextLink`). */
  async list<T = unknown>(path: string, call: ArmCall): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined = this.url(path, call.query);
    while (next) {
      const response = await this.send('GET', next, call);
      if (response.status >= 400) throw this.failure('GET', response, call);
      const page = response.body as { value?: T[]; nextLink?: string };
      items.push(...(page.value ?? []));
      next = page.nextLink || undefined;
    }
    return items;
  }

  /**
   * A call that may be long-running: a 201/202 with `Azure-AsyncOperation` or `Location` is polled
   * (waiting Retry-After between polls) until the operation ends; then the final resource is read
   * (GET of the original URL for PUT/PATCH, the Location result otherwise). A failed or canceled
   * operation is a ServiceError with the operation's own error.
   */
  async lro<T = unknown>(method: string, path: string, call: ArmCall): Promise<ArmResponse<T>> {
    const first = await this.request<T>(method, path, call);
    const asyncOp = first.headers['azure-asyncoperation'];
    const location = first.headers['location'];
    // An update answers 200 and may still run (Azure ML deployments: provisioningState Updating) when it
    // names an operation to follow; 200 without one is done.
    if (first.status !== 201 && first.status !== 202 && !(first.status === 200 && asyncOp)) return first;
    if (!asyncOp && !location) return first;
    const deadline = Date.now() + this.lroTimeoutMs;
    // Polls and the final read carry no body and no conditional headers (If-Match was for the write).
    call = { ...call, headers: undefined };
    let wait = retryAfterMs(first.headers) ?? this.pollIntervalMs;
    if (asyncOp) {
      for (;;) {
        await this.pause(wait, deadline, call);
        const poll = await this.send('GET', asyncOp, call);
        if (poll.status >= 400) throw this.failure('GET', poll, { ...call, what: `${call.what} (operation status)` });
        const op = poll.body as { status?: string; error?: { code?: string; message?: string } };
        const status = String(op?.status ?? '').toLowerCase();
        if (TERMINAL.has(status)) {
          if (status !== 'succeeded')
            throw new ServiceError(
              `Azure ML: ${call.what} ${status === 'failed' ? 'failed' : 'was canceled'}: ${describeError(op.error) || `operation status ${op.status}`}`,
            );
          break;
        }
        wait = retryAfterMs(poll.headers) ?? this.pollIntervalMs;
      }
      if (method === 'PUT' || method === 'PATCH') return this.request<T>('GET', path, { ...call, body: undefined });
      if (!location) return { status: 200, body: undefined as T, headers: {} };
    }
    for (;;) {
      await this.pause(wait, deadline, call);
      const poll = await this.send('GET', location!, call);
      if (poll.status >= 400) throw this.failure('GET', poll, call);
      if (poll.status !== 202) {
        if (method === 'PUT' || method === 'PATCH') return this.request<T>('GET', path, { ...call, body: undefined });
        return poll as ArmResponse<T>;
      }
      wait = retryAfterMs(poll.headers) ?? this.pollIntervalMs;
    }
  }

  private url(path: string, query: ArmCall['query'] = {}): string {
    const url = new URL(this.endpoint + path);
    url.searchParams.set('api-version', this.apiVersion);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  private async send(method: string, url: string, call: ArmCall): Promise<ArmResponse> {
    const request = createPipelineRequest({
      url,
      method: method as 'GET',
      headers: createHttpHeaders({ accept: 'application/json', ...call.headers }),
      // A Resource Manager call answers in seconds; a hung connection must not hang the step.
      timeout: this.requestTimeoutMs,
    });
    if (call.body !== undefined && method !== 'GET') {
      request.headers.set('content-type', 'application/json');
      request.body = JSON.stringify(call.body);
    }
    let response: PipelineResponse;
    try {
      response = await this.pipeline.sendRequest(this.httpClient, request);
    } catch (e) {
      if (e instanceof ServiceError) throw e;
      if (e instanceof RestError && e.response) response = e.response;
      else {
        const cause = e instanceof Error ? e.message : String(e);
        throw new ServiceError(`Azure ML: ${call.what}: ${new URL(url).origin} cannot be reached: ${firstLine(cause)}`);
      }
    }
    const headers = response.headers.toJSON({ preserveCase: false });
    let body: unknown = response.bodyAsText ?? undefined;
    if (typeof body === 'string' && body.length > 0) {
      try {
        body = JSON.parse(body);
      } catch {
        // not JSON: kept as text for the error message
      }
    } else body = undefined;
    return { status: response.status, body, headers };
  }

  private failure(method: string, response: ArmResponse, call: ArmCall): ServiceError {
    const service = describeError((response.body as { error?: ArmErrorBody } | undefined)?.error);
    const said = service || (typeof response.body === 'string' ? firstLine(response.body) : '');
    const status = `${response.status}${said ? `: ${said}` : ''}`;
    if (response.status === 403)
      return new ServiceError(
        `Azure ML: ${call.what} was forbidden (${status}). The signed-in identity has no role assignment that allows it: grant it ${call.role ?? this.role}.`,
        403,
      );
    if (response.status === 401)
      return new ServiceError(
        `Azure ML: ${call.what} was refused (${status}): the token was not accepted; check the tenant and the identity`,
        401,
      );
    const retried = response.status === 429 || response.status >= 500 ? ' (after retries)' : '';
    return new ServiceError(`Azure ML: ${call.what} failed${retried}: ${method} ${status}`, response.status);
  }

  private async pause(ms: number, deadline: number, call: ArmCall): Promise<void> {
    if (Date.now() + ms > deadline)
      throw new ServiceError(
        `Azure ML: ${call.what} did not finish within ${duration(this.lroTimeoutMs)}; it may still be running in Azure`,
      );
    await new Promise((r) => setTimeout(r, ms));
  }
}

interface ArmErrorBody {
  code?: string;
  message?: string;
  details?: ArmErrorBody[];
}

/** `Code: message` of an ARM error, with its first detail when the top message is generic. */
export function describeError(error: ArmErrorBody | undefined): string {
  if (!error) return '';
  const top = [error.code, error.message].filter(Boolean).join(': ');
  const detail = error.details?.find((d) => d.message)?.message;
  return detail && !top.includes(detail) ? `${top} (${detail})` : top;
}

/**
 * How long to wait, in milliseconds, from `retry-after-ms` / `x-ms-retry-after-ms` (Azure's finer
 * headers, preferred as the Azure SDKs do) or `Retry-After` in seconds or as an HTTP date.
 */
export function retryAfterMs(headers: Record<string, string>): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = Number(headers[name]);
    if (headers[name] !== undefined && Number.isFinite(ms)) return Math.max(0, ms);
  }
  const v = headers['retry-after'];
  if (v === undefined) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(v);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function duration(ms: number): string {
  return ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim();
}
