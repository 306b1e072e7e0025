/**
 * Flow loading and load-time validation for dag, flex and prompty flows.
 * @module
 */
export type * from './model.js';
export { loadFlow, type LoadFlowOptions } from './load.js';
export { resolveFlowPath, displayPath } from './resolve-path.js';
export { loadPrompty, type PromptyLoadOptions } from './prompty.js';
export { parseAssignment, parseReference, parsePropertyPath, referencedNode, describeAssignment } from './reference.js';
export { checkGraph, nodeDependencies, topologicalOrder, type GraphCheck } from './dag-graph.js';
export {
  applyVariant,
  parseVariantSpec,
  planVariants,
  selectVariantNodes,
  type VariantCombination,
  type VariantPlan,
  type VariantSelection,
} from './variants.js';
export { materializeFlow, findFlowFile, type MaterializedFlow } from './includes.js';
export { FLEX_ENTRY } from './flex-load.js';
export { resolveRefs, deepMerge } from './file-refs.js';
export {
  isCodeEvaluatorFolder,
  loadCodeEvaluator,
  type CodeEvaluatorFunction,
  type CodeEvaluatorRef,
} from './code-evaluator.js';
export { resolveFlexInit, INIT_SOURCES, type FlexInit } from './flex-init.js';
