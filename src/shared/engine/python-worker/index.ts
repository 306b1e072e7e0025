/**
 * The Python worker client: run a flow's own Python code (python nodes, flex entries) in
 * persistent `python3` processes. See src/shared/engine/python/PROTOCOL.md.
 * @module
 */
export { PythonWorkerPool, type CallOptions, type PythonWorkerPoolOptions } from './pool.js';
export { PythonCodeError, PythonPoolClosed, PythonWorkerCrashed, PythonWorkerTimeout } from './errors.js';
export { parsePyJson, stringifyPyJson } from './py-json.js';
export type {
  CallbackContext,
  FlexEntryInfo,
  PyAggregateResult,
  PyCallResult,
  PyCodeCheck,
  PyErrorInfo,
  PyParam,
  PySignature,
  PyToolInfo,
  PyValueType,
  PythonCallbacks,
  ReadyMessage,
  RuntimeConnection,
} from './protocol.js';
export {
  asLoadError,
  codeCheckProblems,
  displayPath,
  pythonLoadError,
  readRequirements,
  requirementFor,
  requirementsFileOf,
  type LoadContext,
  type Requirements,
} from './user-code.js';
export { ensureVirtualEnv, type PythonRequirementsMode, type VirtualEnvOptions } from './venv.js';
