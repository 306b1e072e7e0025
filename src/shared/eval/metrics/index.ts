/**
 * Built-in metric functions for the evaluate step: deterministic, fast, one score per line.
 * @module
 */
export { exactMatch, type ExactMatchOptions } from './exact-match.js';
export { tokenF1 } from './token-f1.js';
export { bleu, type BleuOptions, type BleuSmoothing } from './bleu.js';
export { rougeL, lcsLength, type RougeLOptions } from './rouge-l.js';
export { cosineSimilarity } from './cosine.js';
export { jsonSchemaValid, validateJson, type JsonSchemaResult } from './json-schema.js';
export { regexMatch, type RegexMatchOptions } from './regex-match.js';
export { normalizeSquad, whitespaceTokens, wordAndPunctuationTokens, alphanumericTokens } from './text.js';
