/**
 * The engine's one door to models: one LlmClient per connection (sharing the response cache and the
 * per-endpoint limiters), token and cost accounting into the line being run.
 * @module
 */
import type { Connection } from '../config/connections.js';
import { ConfigError } from '../errors.js';
import {
  estimateCost,
  LimiterRegistry,
  PacedLimiter,
  pacingOf,
  type EndpointUnreachableError,
  LlmClient,
  type LlmClientOptions,
  type LlmResult,
  type PriceTable,
  type RateLimits,
  type ResponseCache,
  type TokenUsage,
} from '../llm/index.js';

/** Tokens, cost and calls of a line or node; filled as calls finish. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** USD; undefined while no priced call was made. */
  costUsd?: number;
  llmCalls: number;
}

export function emptyUsage(): Usage {
  return { promptTokens: 0, completionTokens: 0, totalTokens: 0, llmCalls: 0 };
}

/** Adds `u` into `into` (cost stays undefined until a priced call is seen). */
export function addUsage(into: Usage, u: TokenUsage, cost: number | undefined, calls = 1): void {
  into.promptTokens += u.promptTokens;
  into.completionTokens += u.completionTokens;
  into.totalTokens += u.totalTokens;
  into.llmCalls += calls;
  if (cost !== undefined) into.costUsd = (into.costUsd ?? 0) + cost;
}

export interface LlmServiceOptions {
  cache?: ResponseCache;
  prices?: PriceTable;
  /** Options of every client (retries, timeouts, Entra token, fetch). */
  client?: Omit<LlmClientOptions, 'connection' | 'cache' | 'limiters' | 'calledFrom'>;
  maxConcurrency?: number;
  /** The quota of each model endpoint (requests / tokens per minute), kept by pacing (llm/pacer.ts). */
  rates?: RateLimits;
  /**
   * false: a connection is checked at its first call, not when the flow loads — a cloud run's submitting
   * machine finishes runs whose lines all ran in jobs, without the connections' values. Default true.
   */
  checkAtLoad?: boolean;
}

export type LlmApiName = 'chat' | 'completion' | 'embedding';

export class LlmService {
  private readonly clients = new Map<string, LlmClient>();
  private readonly limiters: LimiterRegistry;

  constructor(private readonly options: LlmServiceOptions = {}) {
    const rates = pacingOf(options.rates);
    this.limiters = new LimiterRegistry(
      options.maxConcurrency ?? 64,
      undefined,
      rates ? (n) => new PacedLimiter(n, rates) : undefined,
    );
  }

  /** The client of a connection (cached per name and called-from marker). Unusable connections → ConfigError. */
  client(connection: Connection, calledFrom = 'aoai-tool'): LlmClient {
    const key = `${connection.name}\u0000${calledFrom}\u0000${connection.type}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new LlmClient({
        ...this.options.client,
        connection: { type: connection.type, name: connection.name, value: connection.value },
        cache: this.options.cache,
        limiters: this.limiters,
        calledFrom,
      });
      this.clients.set(key, c);
    }
    return c;
  }

  /**
   * The client of an http flow target: its own URL and headers, called as they are, sharing this service's
   * response cache (and replay), per-endpoint limiters, pacing and retries with the model calls.
   */
  httpClient(
    url: string,
    headers: Record<string, string>,
    timeoutMs: number,
    method: 'POST' | 'PUT' | 'PATCH' | 'GET' = 'POST',
  ): LlmClient {
    const key = `http\u0000${method}\u0000${url}\u0000${JSON.stringify(headers)}\u0000${timeoutMs}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new LlmClient({
        ...this.options.client,
        timeoutMs,
        endpoint: { provider: 'http', baseUrl: url, url: () => url, headers: () => headers, method },
        cache: this.options.cache,
        limiters: this.limiters,
      });
      // Its connection failures name the target and its URL, not a model connection's api_base.
      this.limiters.breaker(url).httpTarget = url;
      this.clients.set(key, c);
    }
    return c;
  }

  /** The endpoints whose circuit opened (unreachable): a step that used this service fails with exit 3. */
  unreachable(): EndpointUnreachableError | undefined {
    return this.limiters.unreachable()[0];
  }

  /** The time limit other outside fetches of a line (image URLs) share with model calls. */
  get fetchOptions(): { timeoutMs: number } {
    return { timeoutMs: this.options.client?.timeoutMs ?? 600_000 };
  }

  /** Checks at load time that a connection can call a model. */
  check(connection: Connection): void {
    if (this.options.checkAtLoad === false) return;
    this.client(connection);
  }

  /**
   * One call; its usage and cost are added to every `usage` given. A `then` rather than an async function: a call
   * waiting for the model keeps one callback alive instead of a suspended frame (bench/README-serve.md).
   */
  call(
    api: LlmApiName,
    connection: Connection,
    body: Record<string, unknown>,
    usage: Usage[],
    signal?: AbortSignal,
    calledFrom?: string,
  ): Promise<LlmResult<unknown>> {
    let pending: Promise<LlmResult<unknown>>;
    let client: LlmClient;
    try {
      client = this.client(connection, calledFrom);
      pending =
        api === 'chat'
          ? client.chat(body, { signal })
          : api === 'completion'
            ? client.completion(body, { signal })
            : client.embedding(body, { signal });
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return pending.then((result) => {
      // A declared tokens-per-minute quota is settled with what the answer really used.
      if (this.options.rates?.tokensPerMinute && !result.cached) {
        const limiter = client.limiterFor(api, String(body.model ?? ''));
        if (limiter instanceof PacedLimiter) limiter.spent(result.usage.totalTokens);
      }
      return this.account(result, body, usage);
    });
  }

  private account(result: LlmResult<unknown>, body: Record<string, unknown>, usage: Usage[]): LlmResult<unknown> {
    const model = String((result.response as { model?: unknown })?.model ?? body.model ?? '');
    const cost = result.cached
      ? undefined
      : (estimateCost(String(body.model ?? model), result.usage, this.options.prices) ??
        estimateCost(model, result.usage, this.options.prices));
    for (const u of usage) addUsage(u, result.usage, cost);
    return result;
  }
}

/** Looks a connection up by name; a missing one is a run-level ConfigError. */
export function requireConnection(
  connections: Record<string, Connection>,
  name: unknown,
  where: string,
  fallback?: Connection,
): Connection {
  if (typeof name === 'string' && connections[name]) return connections[name];
  if (fallback && typeof name === 'string') return { ...fallback, name };
  const known = Object.keys(connections);
  const choices = known.length
    ? known.join(', ')
    : '(no connections given: use --connections, experiment.yaml connections, or AZURE_OPENAI_*/OPENAI_API_KEY)';
  if (name === undefined || name === null || name === '')
    throw ConfigError.at({ file: where }, `no connection given; expected connection: <name>, one of: ${choices}`);
  throw ConfigError.at(
    { file: where },
    `connection ${JSON.stringify(name)} is not defined; expected one of: ${choices}`,
  );
}
