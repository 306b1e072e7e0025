/**
 * `llmops data-pipeline` on a copy of examples/named_entity_recognition (its configs/dataops_config.json prepares the
 * experiment's datasets from an annotation export): unchanged data registers nothing new, changed data makes a
 * new version of the changed asset only, and the preparation code's own errors are exit 2 at its file and line,
 * with the target and the registry left as they were.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CLI = path.resolve('dist/cli.js');
const UC = 'examples/named_entity_recognition';
let repo: string;

beforeEach(() => {
  repo = mkdtempSync(path.join(os.tmpdir(), 'llmops-data-pipeline-'));
  mkdirSync(path.join(repo, '.git'));
  cpSync(UC, path.join(repo, UC), { recursive: true });
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

function pipeline(): Promise<{ status: number | null; out: string; err: string }> {
  const child = spawn(
    process.execPath,
    [CLI, 'data-pipeline', '--config', `${UC}/experiment.yaml`, '--store', '.llmops'],
    { cwd: repo, env: { ...process.env, AOAI_API_BASE: 'http://127.0.0.1:9', AOAI_API_KEY: 'unused' } },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  return new Promise((resolve) => child.on('exit', (status) => resolve({ status, out, err })));
}

const file = (p: string) => path.join(repo, p);
const assets = (out: string) =>
  JSON.parse(/^assets=(.*)$/m.exec(out)![1]) as Record<string, { version: string; created: boolean; rows: number }>;

test('the first run registers both assets; an unchanged source registers nothing new and rewrites nothing', async () => {
  const first = await pipeline();
  expect(first.err).not.toContain('internal error');
  expect(first.status).toBe(0);
  expect(assets(first.out)).toEqual({
    ner_train: expect.objectContaining({ version: '1', created: true, rows: 12 }),
    ner_pr: expect.objectContaining({ version: '1', created: true, rows: 3 }),
  });
  // The prepared files are the example's datasets, byte for byte.
  expect(readFileSync(file(`${UC}/data/data.jsonl`))).toEqual(readFileSync(`${UC}/data/data.jsonl`));
  expect(readFileSync(file(`${UC}/data/data_pr.jsonl`))).toEqual(readFileSync(`${UC}/data/data_pr.jsonl`));
  const registry = readFileSync(file('.llmops/data/registry.json'), 'utf8');
  const mtime = statSync(file(`${UC}/data/data.jsonl`)).mtimeMs;

  const second = await pipeline();
  expect(second.status).toBe(0);
  expect(assets(second.out)).toEqual({
    ner_train: expect.objectContaining({ version: '1', created: false }),
    ner_pr: expect.objectContaining({ version: '1', created: false }),
  });
  expect(second.err).toContain('data-pipeline: 2 asset(s), nothing new to register');
  expect(readFileSync(file('.llmops/data/registry.json'), 'utf8')).toBe(registry);
  expect(statSync(file(`${UC}/data/data.jsonl`)).mtimeMs).toBe(mtime);
}, 60_000);

test('a new accepted annotation makes version 2 of the training set only; a rejected one changes nothing', async () => {
  expect((await pipeline()).status).toBe(0);
  const csv = file(`${UC}/data_pipelines/source/annotations.csv`);
  appendFileSync(csv, 'a300,rejected,no,city,Rome again.,Rome\n');
  expect(assets((await pipeline()).out).ner_train).toMatchObject({ version: '1', created: false });
  appendFileSync(csv, 'a301,accepted,no,City,"The ferry left Oslo for  Kiel.",Oslo ; Kiel\n');
  const changed = await pipeline();
  expect(changed.status).toBe(0);
  expect(assets(changed.out)).toEqual({
    ner_train: expect.objectContaining({ version: '2', created: true, rows: 13 }),
    ner_pr: expect.objectContaining({ version: '1', created: false, rows: 3 }),
  });
  const lines = readFileSync(file(`${UC}/data/data.jsonl`), 'utf8')
    .trimEnd()
    .split('\n');
  expect(JSON.parse(lines[12])).toEqual({
    text: 'The ferry left Oslo for Kiel.',
    entity_type: 'city',
    results: 'Oslo, Kiel',
  });
}, 60_000);

test("an error in the preparation code is exit 2 at the script's file and line; target and registry untouched", async () => {
  expect((await pipeline()).status).toBe(0);
  const registry = readFileSync(file('.llmops/data/registry.json'), 'utf8');
  const script = file(`${UC}/data_pipelines/prep_data.py`);
  const code = readFileSync(script, 'utf8');
  const broken = code.replace('row["entity_type"].strip().lower()', 'row["entity_kind"].strip().lower()');
  expect(broken).not.toBe(code);
  writeFileSync(script, broken);
  const line = broken.split('\n').findIndex((l) => l.includes('entity_kind')) + 1;
  appendFileSync(file(`${UC}/data_pipelines/source/annotations.csv`), 'a302,accepted,no,city,Bergen.,Bergen\n');
  const r = await pipeline();
  expect(r.status).toBe(2);
  expect(r.err).not.toContain('internal error');
  expect(r.err).toContain(`${UC}/data_pipelines/prep_data.py:${line}`);
  expect(r.err).toMatch(/\(KeyError\) 'entity_kind'/);
  expect(readFileSync(file('.llmops/data/registry.json'), 'utf8')).toBe(registry);
  expect(readFileSync(file(`${UC}/data/data.jsonl`))).toEqual(readFileSync(`${UC}/data/data.jsonl`));
}, 60_000);

test('code that does not write a DATA_ASSETS file, and a syntax error, are exit 2 naming the file', async () => {
  const script = file(`${UC}/data_pipelines/prep_data.py`);
  const code = readFileSync(script, 'utf8');
  writeFileSync(script, code.replace('    for name in asset_paths:', '    for name in asset_paths[:1]:'));
  const missing = await pipeline();
  expect(missing.status).toBe(2);
  expect(missing.err).toMatch(/prep_data\.py output data_pr\.jsonl \(DATA_ASSETS ner_pr\): error: was not written/);
  expect(missing.err).not.toContain('.llmops');
  writeFileSync(script, code.replace('def to_line(row):', 'def to_line(row)'));
  const syntax = await pipeline();
  expect(syntax.status).toBe(2);
  expect(syntax.err).toMatch(new RegExp(`${UC}/data_pipelines/prep_data\\.py:\\d+`));
  expect(syntax.err).toContain('SyntaxError');
}, 60_000);

test('EXECUTION_TYPE azure (the template default) without the azure settings names what to set; a missing source file is named', async () => {
  const configFile = file(`${UC}/configs/dataops_config.json`);
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        ...config,
        EXECUTION_TYPE: 'azure',
        STORAGE: {
          ...config.STORAGE,
          STORAGE_ACCOUNT: 'nerdata',
          SOURCE_CONTAINER: 'ner-in',
          TARGET_CONTAINER: 'ner-out',
        },
      },
      null,
      2,
    ),
  );
  const azure = await pipeline();
  expect(azure.status).toBe(2);
  expect(azure.err).toMatch(
    /experiment\.yaml: error: .*dataops_config\.json has EXECUTION_TYPE azure \(blob storage and Azure ML data assets\): expected the azure: settings/,
  );
  writeFileSync(
    configFile,
    JSON.stringify({ ...config, STORAGE: { ...config.STORAGE, SOURCE_BLOB: 'export.csv' } }, null, 2),
  );
  const missing = await pipeline();
  expect(missing.status).toBe(2);
  expect(missing.err).toMatch(/dataops_config\.json:\d+:\d+: .*file not found: .*source\/export\.csv/);
}, 60_000);
