/**
 * Generates the body that replaces precompiled-schemas.ts in the bundles: ajv's standalone
 * validation code for every user-file schema, with schema-check's own ajv options, exported as
 * `precompiledValidators` by schema name.
 * @module
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import standaloneCodeModule from 'ajv/dist/standalone/index.js';
import { SCHEMA_AJV_OPTIONS, SCHEMA_NAMES } from '../shared/config/schema-check.js';

// ajv's standalone entry is CommonJS with a default export; under NodeNext it arrives wrapped.
type StandaloneCode = typeof standaloneCodeModule.default;
const standaloneCode: StandaloneCode =
  (standaloneCodeModule as unknown as { default?: StandaloneCode }).default ??
  (standaloneCodeModule as unknown as StandaloneCode);

const exportName = (schema: string): string => `validate_${schema.replace(/[^A-Za-z0-9_]/g, '_')}`;

/** JavaScript (ESM; it `require`s two small ajv runtime helpers, which the bundler inlines). */
export function precompiledSchemasSource(root: string): string {
  const ajv = new Ajv({ ...SCHEMA_AJV_OPTIONS, code: { source: true, esm: true } });
  for (const name of SCHEMA_NAMES)
    ajv.addSchema(JSON.parse(readFileSync(path.join(root, 'schemas', `${name}.schema.json`), 'utf8')), name);
  const code = standaloneCode(ajv, Object.fromEntries(SCHEMA_NAMES.map((name) => [exportName(name), name])));
  const table = SCHEMA_NAMES.map((name) => `  ${JSON.stringify(name)}: ${exportName(name)},`).join('\n');
  return `${code}\nexport const precompiledValidators = {\n${table}\n};\n`;
}
