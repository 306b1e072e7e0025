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
