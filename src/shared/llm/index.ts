/**
 * The LLM layer: client (connections, retries, adaptive concurrency, cache, usage), prices, tokenizer and the
 * local model server used offline and in tests.
 * @module
 */
export {
  LlmClient,
  usageOf,
  type LlmClientOptions,
  type CallOptions,
  type LlmResult,
  type TokenUsage,
} from './client.js';
export { chatStream, type LlmStream } from './stream.js';
export { warmTransport } from './transport.js';
export {
  resolveEndpoint,
  DEFAULT_AZURE_API_VERSION,
  type LlmConnection,
  type AzureOpenAIConnection,
  type OpenAIConnection,
  type ServerlessConnection,
  type ProviderEndpoint,
  type EndpointOptions,
  type LlmApi,
} from './connections.js';
export { EndpointUnreachableError, LlmHttpError, LlmRetriesExhaustedError } from './errors.js';
export { CircuitBreaker, DEFAULT_BREAKER, type BreakerOptions } from './breaker.js';
export { endpointUrlProblem, ENDPOINT_URL_FIELDS } from './endpoint-url.js';
export { AdaptiveLimiter, LimiterRegistry, type Permit } from './limiter.js';
export { PacedLimiter, RatePacer, pacingOf, type RateLimits } from './pacer.js';
export {
  DEFAULT_RETRY,
  isRetryable,
  retryAfterMs,
  backoffMs,
  type RetryOptions,
  type AttemptFailure,
} from './retry.js';
export {
  ResponseCache,
  asRepetition,
  currentRepetition,
  ReplayMissError,
  stableStringify,
  describeRequest,
  type CacheMode,
  type CacheOptions,
  type CacheKeyParts,
} from './cache.js';
export { DEFAULT_PRICES, mergePrices, priceOf, estimateCost, type ModelPrice, type PriceTable } from './pricing.js';
export { loadTokenizers, countTextTokens, countChatTokens, encodingNameFor, contentText } from './tokens.js';
export {
  LlmPool,
  PoolMember,
  PoolExhaustedError,
  DEFAULT_POOL_BREAKER,
  type LlmPoolOptions,
  type PoolMemberOptions,
  type PoolResult,
} from './pool.js';
