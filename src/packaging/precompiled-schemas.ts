/**
 * The user-file schema validators, compiled ahead of time. From source (tests, tsx) this module
 * is empty and schema-check compiles on first use; when bundling, scripts/package.mjs replaces
 * its body with ajv's standalone code for every schema (src/packaging/precompile-schemas.ts),
 * so a packaged step starts without compiling them.
 * @module
 */
import type { ValidateFunction } from 'ajv';
import type { SchemaName } from '../shared/config/schema-check.js';

export const precompiledValidators: Partial<Record<SchemaName, ValidateFunction>> = {};
