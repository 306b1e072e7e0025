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
  warmTransport,
} from '../llm/index.js';
import { LlmPool, type PoolResult } from '../llm/pool.js';
import { genAiSystem, telemetry } from '../telemetry/hooks.js';

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
  private readonly pools = new Map<string, LlmPool>();
  private readonly limiters: LimiterRegistry;

  constructor(private readonly options: LlmServiceOptions = {}) {
    // A service is made when models will be called: the transport loads meanwhile, not on the first call.
    warmTransport();
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

  /** The pool of a connection with several endpoints (cached like clients). Unusable endpoints → ConfigError. */
  pool(connection: Connection, calledFrom = 'aoai-tool'): LlmPool {
    const key = `${connection.name}\u0000${calledFrom}`;
    let p = this.pools.get(key);
    if (!p) {
      const rates = pacingOf(this.options.rates);
      p = new LlmPool({
        ...this.options.client,
        name: connection.name,
        members: connection.endpoints!.map((e, i) => ({
          connection: { type: e.type, name: `${connection.name}.endpoints[${i}]`, value: e.value },
          weight: e.weight,
          priority: e.priority,
        })),
        cache: this.options.cache,
        calledFrom,
        maxConcurrency: this.options.maxConcurrency ?? 64,
        limiterFactory: rates ? (n) => new PacedLimiter(n, rates) : undefined,
      });
      this.pools.set(key, p);
    }
    return p;
  }

  /** The endpoints whose circuit opened (unreachable): a step that used this service fails with exit 3. */
  unreachable(): EndpointUnreachableError | undefined {
    const down = this.limiters.unreachable()[0];
    if (down) return down;
    // A pool fails the step only when none of its endpoints could be reached (one live member answers for all).
    for (const pool of this.pools.values()) {
      const errors = pool.members.map((m) => m.breaker.stepError);
      if (errors.every((e) => e !== undefined && /^E[A-Z_]+$/.test(e.code))) return errors[0];
    }
    return undefined;
  }

  /** The time limit other outside fetches of a line (image URLs) share with model calls. */
  get fetchOptions(): { timeoutMs: number } {
    return { timeoutMs: this.options.client?.timeoutMs ?? 600_000 };
  }

  /** Checks at load time that a connection can call a model. */
  check(connection: Connection): void {
    if (this.options.checkAtLoad === false) return;
    if (connection.endpoints) this.pool(connection);
    else this.client(connection);
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
    if (telemetry) return this.tracedCall(api, connection, body, usage, signal, calledFrom);
    if (connection.endpoints) return this.poolCall(api, connection, body, usage, signal, calledFrom);
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
      this.settleQuota(client, api, body, result);
      return this.account(result, body, usage);
    });
  }

  /** A call with a span (child of the node or line that made it) whose `traceparent` goes to the model. */
  private async tracedCall(
    api: LlmApiName,
    connection: Connection,
    body: Record<string, unknown>,
    usage: Usage[],
    signal?: AbortSignal,
    calledFrom?: string,
  ): Promise<LlmResult<unknown>> {
    const pool = connection.endpoints ? this.pool(connection, calledFrom) : undefined;
    const client = pool ? pool.members[0].client : this.client(connection, calledFrom);
    const caller = pool ?? client;
    const span = telemetry!.modelCallStart(usage[usage.length - 1], {
      api,
      system: genAiSystem(client.endpoint.provider),
      model: String(body.model ?? ''),
      body,
    });
    try {
      const options = { signal, traceparent: span.traceparent };
      const result =
        api === 'chat'
          ? await caller.chat(body, options)
          : api === 'completion'
            ? await caller.completion(body, options)
            : await caller.embedding(body, options);
      // A pool's tokens count against the member that answered.
      const answeredBy = pool ? (result as PoolResult<unknown>).member?.client : client;
      if (answeredBy) this.settleQuota(answeredBy, api, body, result);
      const cost = this.costOf(result, body);
      for (const u of usage) addUsage(u, result.usage, cost);
      span.end({
        response: result.response,
        usage: result.usage,
        costUsd: cost,
        cached: result.cached,
        attempts: result.attempts,
      });
      return result;
    } catch (e) {
      span.end({ error: e });
      throw e;
    }
  }

  private async poolCall(
    api: LlmApiName,
    connection: Connection,
    body: Record<string, unknown>,
    usage: Usage[],
    signal?: AbortSignal,
    calledFrom?: string,
  ): Promise<LlmResult<unknown>> {
    const result = await this.pool(connection, calledFrom).call(api, body, { signal });
    if (result.member) this.settleQuota(result.member.client, api, body, result);
    return this.account(result, body, usage);
  }

  /** A declared tokens-per-minute quota is settled with what the answer really used. */
  private settleQuota(client: LlmClient, api: LlmApiName, body: Record<string, unknown>, result: LlmResult<unknown>) {
    if (this.options.rates?.tokensPerMinute && !result.cached) {
      const limiter = client.limiterFor(api, String(body.model ?? ''));
      if (limiter instanceof PacedLimiter) limiter.spent(result.usage.totalTokens);
    }
  }

  private costOf(result: LlmResult<unknown>, body: Record<string, unknown>): number | undefined {
    if (result.cached) return undefined;
    const model = String((result.response as { model?: unknown })?.model ?? body.model ?? '');
    return (
      estimateCost(String(body.model ?? model), result.usage, this.options.prices) ??
      estimateCost(model, result.usage, this.options.prices)
    );
  }

  private account(result: LlmResult<unknown>, body: Record<string, unknown>, usage: Usage[]): LlmResult<unknown> {
    const cost = this.costOf(result, body);
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
