/**
 * Serving a flow over HTTP with Prompt Flow's contract (promptflow-formats.md §7), and the docker build context.
 * @module
 */
export { startFlowServer, negotiate, serverVersion, type FlowServer, type FlowServerOptions } from './server.js';
export {
  createServeRunner,
  RequestError,
  statusOfLineError,
  type ServeFlowOptions,
  type ServeRunner,
} from './runner.js';
export {
  applyConnectionOverrides,
  connectionOverrideName,
  initFromEnv,
  planStream,
  type StreamPlan,
} from './flow-setup.js';
export { ServerMetrics } from './metrics.js';
export { RequestLog, openRequestLog, requestLogFromEnv, type RequestLogOptions } from './request-log.js';
export { writeBuildContext, type BuildContextOptions, type BuildContextResult } from './build-context.js';
export {
  ServeCache,
  MemoryStore,
  RedisStore,
  cacheDirectives,
  type CacheStore,
  type CacheCounters,
  type ServeCacheOptions,
} from './cache.js';
export { degradeReason, type DegradeOptions, type DegradeCounters } from './degrade.js';
export { serveCacheFromEnv, degradeFromEnv } from './resilience-env.js';
