/**
 * `llmops data-pipeline` with EXECUTION_TYPE azure on a copy of examples/named_entity_recognition, through the
 * CLI against the ARM emulator (every request checked against the vendored Azure ML spec) and Azurite over
 * HTTPS (bearer tokens checked): the source CSV is read from a blob container, the prepared files are written
 * to the target container and each DATA_ASSETS entry is registered as an Azure ML data asset by content hash —
 * unchanged data uploads and creates nothing; a SAS token from a variable works and is never printed; an error
 * in the preparation code is exit 2 at the script's file and line with nothing written; --schedule creates the
 * component and the cron schedule of the pipeline job (--dry-run: nothing), and the scheduled job, triggered in
 * the emulator, runs the same pipeline in the code snapshot with the compute's managed identity.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { stringify } from 'yaml';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { runCli } from '../support/azure/cli.js';
import { DataopsSchedules } from '../support/azure/dataops.js';

const UC = 'examples/named_entity_recognition';
const WORKSPACE_CONTAINER = 'azureml-blobstore-0d6c2f4e-2b7a-4c39-8e15-7a9b3c1d5e20';
const SOURCE = 'ner-annotations';
const TARGET = 'ner-prepared';
const IMAGE = 'llmopsacr.azurecr.io/llmops-cli:1.4.0';
const env = { AOAI_API_BASE: 'http://127.0.0.1:9', AOAI_API_KEY: 'unused' };

let emulator: ArmEmulator;
let azurite: Azurite;
let schedules: DataopsSchedules;
let containers: Record<string, ContainerClient>;
let repo: string;

beforeAll(async () => {
  emulator = await ArmEmulator.start({
    datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: WORKSPACE_CONTAINER },
  });
  // HTTPS with the emulator's certificate and bearer tokens checked: the credential path is the real one.
  azurite = await Azurite.start({ tls: emulator.cert });
  const blob = await import('@azure/storage-blob');
  const service = new blob.BlobServiceClient(
    azurite.directUrl,
    new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
  );
  containers = Object.fromEntries(
    [WORKSPACE_CONTAINER, SOURCE, TARGET].map((name) => [name, service.getContainerClient(name)]),
  );
  for (const c of Object.values(containers)) await c.create();
  schedules = new DataopsSchedules(emulator, {
    container: containers[WORKSPACE_CONTAINER],
    containerName: WORKSPACE_CONTAINER,
    env,
  });
}, 60_000);

afterAll(async () => {
  await azurite?.stop();
  await emulator?.stop();
});

beforeEach(async () => {
  repo = mkdtempSync(path.join(os.tmpdir(), 'llmops-dataops-azure-'));
  mkdirSync(path.join(repo, '.git'));
  cpSync(UC, path.join(repo, UC), { recursive: true });
  const configFile = path.join(repo, UC, 'configs/dataops_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  delete config.EXECUTION_TYPE; // the template's default: azure
  config.STORAGE = {
    STORAGE_ACCOUNT: DEV_ACCOUNT,
    SOURCE_CONTAINER: SOURCE,
    SOURCE_BLOB: 'exports/annotations.csv',
    TARGET_CONTAINER: TARGET,
  };
  config.SCHEDULE.TIMEZONE = 'W. Europe Standard Time';
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const experiment = path.join(repo, UC, 'experiment.yaml');
  const azure = { ...emulator.azureSettings(), blob_endpoint: azurite.url, image: IMAGE };
  writeFileSync(experiment, `${readFileSync(experiment, 'utf8')}\n${stringify({ azure })}`);
  await containers[SOURCE].getBlockBlobClient('exports/annotations.csv').uploadFile(
    `${UC}/data_pipelines/source/annotations.csv`,
  );
  for (const name of [TARGET, WORKSPACE_CONTAINER])
    for await (const b of containers[name].listBlobsFlat()) await containers[name].deleteBlob(b.name);
  for (const key of [...emulator.resources.keys()])
    if (/\/(data|components|schedules|codes|environments)\//.test(key)) emulator.resources.delete(key);
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

function pipeline(...extra: string[]) {
  return runCli(['data-pipeline', '--config', `${UC}/experiment.yaml`, '--output-file', 'out.json', ...extra], {
    cwd: repo,
    env: { ...env, ...emulator.childEnv() },
  });
}

const outputs = () => JSON.parse(readFileSync(path.join(repo, 'out.json'), 'utf8'));
const blobText = async (container: string, name: string) =>
  (await containers[container].getBlobClient(name).downloadToBuffer()).toString('utf8');

test('blob source to blob target, Azure ML data assets by content hash; unchanged data uploads and creates nothing', async () => {
  const first = await pipeline();
  expect(first.stderr).not.toContain('internal error');
  expect(first.status).toBe(0);
  const assets = outputs();
  expect(assets).toEqual({
    ner_train: expect.objectContaining({
      rows: 12,
      created: true,
      asset: `azureml:ner_train:${assets.ner_train.version}`,
    }),
    ner_pr: expect.objectContaining({ rows: 3, created: true, asset: `azureml:ner_pr:${assets.ner_pr.version}` }),
  });
  expect(assets.ner_train.hash.startsWith(assets.ner_train.version)).toBe(true);
  // The target container holds the prepared files, byte for byte the example's datasets.
  expect(await blobText(TARGET, 'data.jsonl')).toBe(readFileSync(`${UC}/data/data.jsonl`, 'utf8'));
  expect(await blobText(TARGET, 'data_pr.jsonl')).toBe(readFileSync(`${UC}/data/data_pr.jsonl`, 'utf8'));
  const version = emulator.get(`${emulator.workspaceId()}/data/ner_train/versions/${assets.ner_train.version}`)!;
  expect(version.properties).toMatchObject({
    dataType: 'uri_file',
    dataUri: `azureml://datastores/workspaceblobstore/paths/LocalUpload/${assets.ner_train.hash}/data.jsonl`,
    tags: { data_hash: assets.ner_train.hash, rows: '12' },
  });
  // Signed in to storage with the step's Entra credential.
  expect([...emulator.entra.issued.values()].map((t) => t.scope)).toContain('https://storage.azure.com/.default');

  const armBefore = emulator.requests.length;
  const writesBefore = azurite.writes().length;
  const again = await pipeline();
  expect(again.status).toBe(0);
  expect(outputs()).toEqual({
    ner_train: { ...assets.ner_train, created: false },
    ner_pr: { ...assets.ner_pr, created: false },
  });
  expect(again.stderr).toContain('data-pipeline: 2 asset(s), nothing new to register');
  expect(again.stderr).toContain('(same content, not rewritten)');
  expect(azurite.writes().slice(writesBefore)).toEqual([]);
  expect(emulator.requests.slice(armBefore).map((r) => `${r.method} ${r.operationId}`)).toEqual([
    'GET DataVersions_Get',
    'GET DataVersions_Get',
  ]);
  expect(emulator.specViolations()).toEqual([]);
}, 90_000);

test('a SAS token from a variable signs in to storage and never appears in the log', async () => {
  const blob = await import('@azure/storage-blob');
  const sas = blob
    .generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3600_000),
        permissions: blob.AccountSASPermissions.parse('rwlc'),
        resourceTypes: blob.AccountSASResourceTypes.parse('sco').toString(),
        services: blob.AccountSASServices.parse('b').toString(),
      },
      new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
    )
    .toString();
  const configFile = path.join(repo, UC, 'configs/dataops_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  config.STORAGE = { ...config.STORAGE, AUTH: 'sas', SAS_TOKEN: '${NER_STORAGE_SAS}' };
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  const unset = await pipeline();
  expect(unset.status).toBe(2);
  expect(unset.stderr).toMatch(
    /dataops_config\.json:\d+:\d+: .*SAS_TOKEN: environment variable NER_STORAGE_SAS is not set/,
  );

  const r = await runCli(['data-pipeline', '--config', `${UC}/experiment.yaml`], {
    cwd: repo,
    env: { ...env, ...emulator.childEnv(), NER_STORAGE_SAS: sas },
  });
  expect(r.stderr).not.toContain('internal error');
  expect(r.status).toBe(0);
  expect(await blobText(TARGET, 'data_pr.jsonl')).toBe(readFileSync(`${UC}/data/data_pr.jsonl`, 'utf8'));
  const signature = new URLSearchParams(sas).get('sig')!;
  expect(r.stdout + r.stderr).not.toContain(signature);
  expect(azurite.requests.some((q) => q.query.includes('sig='))).toBe(true);
}, 90_000);

test("an error in the preparation code is exit 2 at the script's file and line; nothing uploaded or registered", async () => {
  const script = path.join(repo, UC, 'data_pipelines/prep_data.py');
  const broken = readFileSync(script, 'utf8').replace('row["text"].split()', 'row["body"].split()');
  writeFileSync(script, broken);
  const line = broken.split('\n').findIndex((l) => l.includes('row["body"]')) + 1;
  const armBefore = emulator.requests.length;
  const writesBefore = azurite.writes().length;
  const r = await pipeline();
  expect(r.status).toBe(2);
  expect(r.stderr).not.toContain('internal error');
  expect(r.stderr).toContain(`${UC}/data_pipelines/prep_data.py:${line}`);
  expect(r.stderr).toMatch(/\(KeyError\) 'body'/);
  expect(azurite.writes().slice(writesBefore)).toEqual([]);
  expect(emulator.requests.slice(armBefore).filter((q) => q.method !== 'GET')).toEqual([]);
}, 90_000);

test('--dry-run says what would be read, written and registered, and does not sign in', async () => {
  const armBefore = emulator.requests.length;
  const blobBefore = azurite.requests.length;
  const r = await pipeline('--dry-run');
  expect(r.status).toBe(0);
  expect(r.stderr).toContain(
    `would read blob ${SOURCE}/exports/annotations.csv of storage account ${DEV_ACCOUNT} (credential) and write data.jsonl, data_pr.jsonl to blob container ${TARGET}`,
  );
  expect(r.stderr).toContain('as an Azure ML data asset in workspace mlw-llmops');
  expect(emulator.requests.slice(armBefore)).toEqual([]);
  expect(azurite.requests.slice(blobBefore)).toEqual([]);
}, 60_000);

test('--schedule with EXECUTION_TYPE local is exit 2 at EXECUTION_TYPE: a job would only see a snapshot', async () => {
  const configFile = path.join(repo, UC, 'configs/dataops_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        EXECUTION_TYPE: 'local',
        ...config,
        STORAGE: {
          SOURCE_CONTAINER: `${UC}/data_pipelines/source`,
          SOURCE_BLOB: 'annotations.csv',
          TARGET_CONTAINER: `${UC}/data`,
        },
      },
      null,
      2,
    ),
  );
  const r = await pipeline('--schedule');
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/dataops_config\.json:2:\d+: error: --schedule runs the pipeline in Azure ML/);
  // Run here, the repository's folders are the source and target; the versions still go to Azure ML.
  const here = await pipeline();
  expect(here.status).toBe(0);
  expect(outputs().ner_pr).toMatchObject({ rows: 3, created: true, asset: expect.stringMatching(/^azureml:ner_pr:/) });
}, 60_000);

test('a source blob that does not exist is exit 2 at SOURCE_BLOB', async () => {
  await containers[SOURCE].deleteBlob('exports/annotations.csv');
  const r = await pipeline();
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(
    /dataops_config\.json:\d+:\d+: error: SOURCE_BLOB: blob exports\/annotations\.csv not found in container ner-annotations/,
  );
}, 60_000);

test('--schedule creates the component and the cron schedule of the pipeline job (spec-valid); the triggered job runs the pipeline', async () => {
  const armBefore = emulator.requests.length;
  const dry = await pipeline('--schedule', '--dry-run');
  expect(dry.stderr).not.toContain('internal error');
  expect(dry.status).toBe(0);
  expect(dry.stderr).toContain(
    `data-pipeline: schedule ner_prep_data_weekly (cron "10 14 * * 1", W. Europe Standard Time) creates a pipeline job whose step prep_data runs \`llmops data-pipeline --config ${UC}/experiment.yaml\` in image ${IMAGE} on compute cpu-cluster`,
  );
  expect(dry.stderr).toContain('would create or update schedule ner_prep_data_weekly');
  expect(emulator.requests.slice(armBefore)).toEqual([]); // a dry run does not even sign in
  expect(emulator.get(`${emulator.workspaceId()}/schedules/ner_prep_data_weekly`)).toBeUndefined();

  const r = await pipeline('--schedule');
  expect(r.stderr).not.toContain('internal error');
  expect(r.status).toBe(0);
  const { schedule } = outputs();
  expect(schedule).toEqual({
    name: 'ner_prep_data_weekly',
    component: expect.stringMatching(/^ner_prep_data:[0-9a-f]{16}$/),
  });
  const created = emulator.get(`${emulator.workspaceId()}/schedules/ner_prep_data_weekly`)!;
  const props = created.properties as {
    provisioningState: string;
    trigger: unknown;
    action: { actionType: string; jobDefinition: unknown };
  };
  expect(props.provisioningState).toBe('Succeeded');
  expect(props.trigger).toEqual({
    triggerType: 'Cron',
    expression: '10 14 * * 1',
    timeZone: 'W. Europe Standard Time',
  });
  expect(props.action.actionType).toBe('CreateJob');
  expect(props.action.jobDefinition).toMatchObject({
    jobType: 'Pipeline',
    computeId: `${emulator.workspaceId()}/computes/cpu-cluster`,
    jobs: {
      prep_data: {
        type: 'command',
        componentId: `${emulator.workspaceId()}/components/ner_prep_data/versions/${schedule.component.split(':')[1]}`,
      },
    },
  });
  const writes = emulator.requests
    .slice(armBefore)
    .filter((q) => q.method === 'PUT')
    .map((q) => q.operationId);
  expect(writes).toEqual([
    'CodeVersions_CreateOrUpdate',
    'EnvironmentVersions_CreateOrUpdate',
    'ComponentVersions_CreateOrUpdate',
    'Schedules_CreateOrUpdate',
  ]);
  // The schedule request the emulator validated against mfe.json, and every other one.
  expect(emulator.requests.some((q) => q.operationId === 'Schedules_CreateOrUpdate' && q.status === 201)).toBe(true);
  expect(emulator.specViolations()).toEqual([]);

  const putsBefore = emulator.requests.filter((q) => q.method === 'PUT').length;
  const again = await pipeline('--schedule');
  expect(again.status).toBe(0);
  expect(again.stderr).toContain('component ner_prep_data:');
  expect(again.stderr).toMatch(/unchanged; schedule ner_prep_data_weekly unchanged/);
  expect(emulator.requests.filter((q) => q.method === 'PUT').length).toBe(putsBefore);

  // The cron fires: the pipeline's step runs `llmops data-pipeline` in the snapshot with the managed identity.
  const run = await schedules.trigger('ner_prep_data_weekly');
  expect(run.log).not.toContain('internal error');
  expect(run.status).toBe(0);
  expect(run.log).toContain('data-pipeline: 2 asset(s), 2 new version(s)');
  expect(await blobText(TARGET, 'data.jsonl')).toBe(readFileSync(`${UC}/data/data.jsonl`, 'utf8'));
  expect(emulator.entra.requests.some((q) => q.path.startsWith('/msi/token'))).toBe(true);
  const rerun = await schedules.trigger('ner_prep_data_weekly');
  expect(rerun.status).toBe(0);
  expect(rerun.log).toContain('data-pipeline: 2 asset(s), nothing new to register');
  expect(emulator.specViolations()).toEqual([]);
}, 120_000);
