/**
 * Batch runs and the run store: datasets, column mapping, orchestration, resume. See batch.ts and store.ts.
 * @module
 */
export {
  runBatch,
  pythonForRequirements,
  type BatchExecutor,
  type LineExecutor,
  type LineStopper,
  type RunBatchOptions,
  type RunningAggregation,
  type RunSummary,
} from './batch.js';
export {
  runDir,
  readRunRecord,
  readLineRecords,
  repairOutputs,
  RunStore,
  type RunWriter,
  type ExperimentKey,
  type RunRecord,
  type LineRecord,
  type RunStatus,
  type EarlyStopRecord,
} from './store.js';
export { OutputsIndex, OutputsReader } from './outputs-index.js';
export { readData, readDataBatches, readDataFile, dataFiles, scanData, type DataRow } from './data.js';
export {
  CompiledMapping,
  effectiveMapping,
  parseMappingPairs,
  type ColumnMapping,
  type Sources,
  type SourceName,
} from './mapping.js';
export { readableRunId } from './run-id.js';
export { bySeededOrder, inSeededOrder, lineRank } from './line-order.js';
export type { PendingLine } from './pending-lines.js';
export { SlotPool } from './pool.js';
export { plainProgress, type ProgressReporter, type ProgressState } from './progress.js';
