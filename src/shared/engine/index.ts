/**
 * The native Prompt Flow executor: DAG flows (scheduler, node runners, aggregation), flex flows through the
 * Python worker, prompty natively. See README-executor.md.
 * @module
 */
export {
  checkFlowPython,
  checkPythonFiles,
  createExecutor,
  type ExecutorOptions,
  type FlowExecutor,
  type LineResult,
  type AggregationResult,
  type AggregationColumns,
} from './executor.js';
export { LlmService, emptyUsage, addUsage, type Usage, type LlmServiceOptions } from './llm-service.js';
export {
  loadConnections,
  loadConnectionFile,
  connectionFromEnv,
  toRuntimeConnection,
  connectionMap,
} from './connections.js';
export { toPfError, toLineFailure, LineFailure, type PfError, type PfInnerError } from './line-error.js';
export { parseValue, ValueParseError, followPath, toRecordValue } from './values.js';
export { coerceLineInputs } from './flow-inputs.js';
export { resolveImagePaths, ImageInputError, type ImageSink, type MessageFormat } from './images.js';
export { resolveEnvironmentVariables } from './env-vars.js';
export { preparePrompty, callPrompty, PromptyCache, type PreparedPrompty } from './prompty-runner.js';
export { makeCallbacks } from './callbacks.js';
export { PythonWorkerPool, PythonCodeError, type PythonCallbacks } from './python-worker/index.js';
export type { NodeRun } from './scheduler.js';
export { ensureVirtualEnv, requirementsFileOf, type PythonRequirementsMode } from './python-worker/index.js';
