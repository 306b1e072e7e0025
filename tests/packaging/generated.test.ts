/**
 * The packaging files generated from the step registry: none is stale, and each one passes a
 * JSON Schema written from the platform's documented field list (tests/packaging/schemas/,
 * see each schema's $comment for the source; the platforms publish no complete schema we
 * could vendor offline).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { generatedFiles, packageVersion } from '../../src/packaging/generate.js';
import { readmeWithReference } from '../../src/packaging/readme.js';
import { stepExport } from '../../src/packaging/entries.js';
import { actionBundle, taskDir } from '../../src/packaging/layout.js';
import { packagedSteps } from '../../src/packaging/steps.js';
import { taskId } from '../../src/packaging/task-json.js';
import { uuidV5 } from '../../src/packaging/uuid.js';

const root = process.cwd();
const files = generatedFiles(packageVersion(root));
const ajv = new Ajv({ allErrors: true, strict: false });
const schema = (name: string) =>
  ajv.compile(JSON.parse(readFileSync(path.join(root, 'tests/packaging/schemas', `${name}.schema.json`), 'utf8')));
const validators = { action: schema('action'), task: schema('task'), extension: schema('vss-extension') };

test.each([...files.keys()])('%s is up to date (run `npm run generate` after changing a step)', (file) => {
  const onDisk = existsSync(path.join(root, file)) ? readFileSync(path.join(root, file), 'utf8') : '(missing)';
  expect(onDisk).toBe(files.get(file));
});

test('the README step reference is up to date and lists every step and input', () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  expect(readme).toBe(readmeWithReference(readme, packagedSteps));
  for (const { step } of packagedSteps)
    for (const input of step.inputs) expect(readme).toContain(`\`--${input.name}\``);
});

const actionFiles = [...files.keys()].filter((f) => f.endsWith('action.yml'));
test.each(actionFiles)('%s is a valid node24 action whose runs.main is the step bundle', (file) => {
  const meta = parse(readFileSync(path.join(root, file), 'utf8'));
  expect(validators.action(meta) ? [] : validators.action.errors).toEqual([]);
  const main = path.relative(root, path.resolve(root, path.dirname(file), meta.runs.main));
  const step = path.basename(path.dirname(file));
  expect(main).toBe(file === 'action.yml' ? 'dist/actions/_root/index.js' : actionBundle(step));
});

test.each(packagedSteps.map((p) => p.step.name))(
  'ado-tasks/%s/task.json is valid, runs on the Node24 handler only, and maps every declared input',
  (name) => {
    const task = JSON.parse(readFileSync(path.join(root, taskDir(name), 'task.json'), 'utf8'));
    expect(validators.task(task) ? [] : validators.task.errors).toEqual([]);
    expect(Object.keys(task.execution)).toEqual(['Node24']);
    const step = packagedSteps.find((p) => p.step.name === name)!.step;
    for (const input of step.inputs) {
      const t = task.inputs.find((i: { label: string }) => i.label === input.name);
      expect(t).toMatchObject({
        required: Boolean(input.required),
        type: { boolean: 'boolean', choice: 'pickList', path: 'filePath' }[input.type as string] ?? 'string',
      });
    }
    expect(task.inputs.find((i: { name: string }) => i.name === 'azureSubscription')).toMatchObject({
      type: 'connectedService:AzureRM',
      required: false,
    });
    expect(task.outputVariables.map((o: { name: string }) => o.name)).toHaveLength(step.outputs.length);
  },
);

test('vss-extension.json is valid and lists every task folder as a file and a contribution', () => {
  const manifest = JSON.parse(readFileSync(path.join(root, 'vss-extension.json'), 'utf8'));
  expect(validators.extension(manifest) ? [] : validators.extension.errors).toEqual([]);
  const folders = packagedSteps.map((p) => taskDir(p.step.name));
  expect(manifest.files.map((f: { path: string }) => f.path)).toEqual([...folders, manifest.icons.default]);
  expect(manifest.contributions.map((c: { properties: { name: string } }) => c.properties.name)).toEqual(folders);
  expect(existsSync(path.join(root, manifest.content.details.path))).toBe(true);
});

test('the extension icon is a 128x128 PNG, the one scripts/make-icon.mjs draws', async () => {
  const manifest = JSON.parse(readFileSync(path.join(root, 'vss-extension.json'), 'utf8'));
  const png = readFileSync(path.join(root, manifest.icons.default));
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
  expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([128, 128]);
  const { iconPng } = (await import(path.join(root, 'scripts/make-icon.mjs'))) as { iconPng: () => Buffer };
  expect(Buffer.compare(iconPng(), png)).toBe(0);
});

test('the Marketplace overview page names every task', () => {
  const manifest = JSON.parse(readFileSync(path.join(root, 'vss-extension.json'), 'utf8'));
  const overview = readFileSync(path.join(root, manifest.content.details.path), 'utf8');
  for (const { step } of packagedSteps)
    expect(overview).toContain(
      `Llmops${step.name
        .split('-')
        .map((w) => w[0].toUpperCase() + w.slice(1))
        .join('')}@0`,
    );
});

test('the schemas reject what the platforms reject', () => {
  const task = JSON.parse(files.get('ado-tasks/register-data/task.json')!);
  expect(validators.task({ ...task, name: 'Llmops Register Data' })).toBe(false);
  expect(validators.task({ ...task, inputs: [{ name: 'x', type: 'pickList', label: 'x' }] })).toBe(false);
  const action = parse(files.get('actions/register-data/action.yml')!);
  expect(validators.action({ ...action, runs: { using: 'node20', main: 'x.js' } })).toBe(false);
  expect(validators.action({ ...action, branding: undefined })).toBe(false);
});

test('task ids are name-based v5 UUIDs: stable across regeneration and distinct per task', () => {
  // RFC 9562 appendix A.4 test vector: v5 of "www.example.com" in the DNS namespace.
  expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
    '2ed6657d-e927-568b-95e1-2665a8aea6a2',
  );
  expect(taskId('register-data')).toBe('408ef043-26f9-594c-bc27-8d5eb1759291');
  const ids = packagedSteps.map((p) => taskId(p.step.name));
  expect(new Set(ids).size).toBe(ids.length);
});

test.each(packagedSteps.map((p) => p.step.name))(
  'step %s lives where the generated entry files import it from',
  async (name) => {
    const mod = (await import(`../../src/shared/steps/${name}.js`)) as Record<string, unknown>;
    expect(mod[stepExport(name)]).toBe(packagedSteps.find((p) => p.step.name === name)!.step);
  },
);

test('the root action offers every step and the union of their inputs, none required but `step`', () => {
  const root = parse(files.get('action.yml')!);
  for (const { step } of packagedSteps) {
    expect(root.inputs.step.description).toContain(step.name);
    for (const i of step.inputs) expect(root.inputs[i.name]).toBeDefined();
    for (const o of step.outputs) expect(root.outputs[o.name]).toBeDefined();
  }
  const required = Object.entries(root.inputs as Record<string, { required: boolean }>)
    .filter(([, v]) => v.required)
    .map(([k]) => k);
  expect(required).toEqual(['step']);
});
