/**
 * The packaged steps validate user files with validators compiled at build time (ajv standalone
 * code); they must report exactly what schema-check's runtime-compiled validators report.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { SCHEMA_NAMES, schemaValidator, type SchemaName } from '../../src/shared/config/schema-check.js';
import { precompiledSchemasSource } from '../../src/packaging/precompile-schemas.js';

const root = process.cwd();
const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-precompiled-'));
let precompiled: Record<SchemaName, ValidateFunction>;

beforeAll(async () => {
  // Bundled as scripts/package.mjs bundles it: the standalone code `require`s ajv's runtime helpers.
  const outfile = path.join(work, 'validators.mjs');
  await build({
    stdin: { contents: precompiledSchemasSource(root), resolveDir: root, loader: 'js' },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'warning',
  });
  ({ precompiledValidators: precompiled } = (await import(pathToFileURL(outfile).href)) as {
    precompiledValidators: typeof precompiled;
  });
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

const yamlOf = (file: string) => parse(readFileSync(path.join(root, file), 'utf8')) as Record<string, unknown>;

const cases: [SchemaName, string, unknown][] = [
  ['experiment', 'the example', yamlOf('examples/web_classification/experiment.yaml')],
  [
    'experiment',
    'wrong types and unknown keys',
    { ...yamlOf('examples/web_classification/experiment.yaml'), name: ['x'], datasets: [{ name: 3 }], surprise: true },
  ],
  ['experiment', 'empty', {}],
  ['flow.dag', 'the example flow', yamlOf('examples/web_classification/flows/experiment/flow.dag.yaml')],
  ['flow.dag', 'nodes not a list', { inputs: [], outputs: 'x', nodes: { name: 'a' } }],
  ['flow.flex', 'no entry', { inputs: { q: { type: 'nope' } } }],
  ['deployment_config', 'not a list', { azure_managed_endpoint: 'x' }],
  ['dataops_config', 'wrong shape', { datasets: 'x' }],
];

test('every schema schema-check knows is precompiled', () => {
  expect(Object.keys(precompiled).sort()).toEqual([...SCHEMA_NAMES].sort());
});

test.each(cases)(
  '%s, %s: same verdict and the same errors as the runtime-compiled validator',
  (name, _label, value) => {
    const runtime = schemaValidator(name);
    const ahead = precompiled[name];
    expect(ahead(value)).toBe(runtime(value));
    expect(ahead.errors ?? null).toEqual(runtime.errors ?? null);
  },
);

test('the invalid cases are invalid (the comparison compares errors)', () => {
  const invalid = cases.filter(([, label]) => !label.startsWith('the example'));
  expect(invalid.filter(([name, , value]) => schemaValidator(name)(value)).map(([n, l]) => `${n}: ${l}`)).toEqual([]);
});

test('bundling replaces the empty module with the precompiled validators', async () => {
  const { bundleOptions } = (await import(pathToFileURL(path.join(root, 'scripts/package.mjs')).href)) as {
    bundleOptions: (e: Record<string, string>, o: string) => Record<string, unknown>;
  };
  const entry = path.join(work, 'entry.ts');
  writeFileSync(
    entry,
    `import { precompiledValidators } from ${JSON.stringify(path.join(root, 'src/packaging/precompiled-schemas.ts'))};\nexport const names = Object.keys(precompiledValidators);\n`,
  );
  const out = path.join(work, 'bundle');
  await build({ ...bundleOptions({ entry }, out), metafile: false, splitting: false, legalComments: 'none' });
  writeFileSync(path.join(out, 'package.json'), '{ "type": "module" }\n');
  const { names } = (await import(pathToFileURL(path.join(out, 'entry.js')).href)) as { names: string[] };
  expect(names.sort()).toEqual([...SCHEMA_NAMES].sort());
}, 60_000);
