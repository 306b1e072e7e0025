/**
 * The local model server: OpenAI-compatible, deterministic, offline. See server.ts for the request pipeline,
 * answers.ts for the echo format and rules.ts for the rules file.
 * @module
 */
export { startModelServer } from './server.js';
export type { ModelServerHandle, ModelServerOptions, ModelServerStats, Rule } from './types.js';
export { loadRulesFile, compileRules, type CompiledRule } from './rules.js';
export { echoText, echoLine } from './answers.js';
export { embedText, DEFAULT_EMBEDDING_DIMENSIONS } from './embeddings.js';
export { standInModel } from './responses.js';
