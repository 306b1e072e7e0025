/**
 * An http flow target run on Azure ML: the shard jobs (real `llmops run-shard` processes started by the ARM
 * emulator over Azurite) read the target's URL and key from Key Vault references, call the loopback migrated
 * service, and merge back into the same records a local run gives; no job definition holds the key.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { runCli } from '../support/azure/cli.js';
import { JobRunner } from '../support/azure/jobs.js';
import { KeyVaultEmulator } from '../support/azure/key-vault.js';
import { startMigratedService, type MigratedService } from '../support/migrated-service.js';
import { makeUseCase } from '../helpers/use-case-dir.js';

const CONTAINER = 'azureml-blobstore-3c9a1f20-6b7e-4d52-8e31-0f2a4b6c8d1e';
const KEY = 'agent-cloud-key-4e8d2a';

let azurite: Azurite;
let emulator: ArmEmulator;
let runner: JobRunner;
let vault: KeyVaultEmulator;
let model: ModelServerHandle;
let migrated: MigratedService;

beforeAll(async () => {
  model = await startModelServer({ rules: path.resolve('examples/web_classification/model-rules.yaml') });
  migrated = await startMigratedService({ modelUrl: model.url, requireKey: KEY });
  azurite = await Azurite.start();
  const blob = await import('@azure/storage-blob');
  const service = new blob.BlobServiceClient(
    azurite.directUrl,
    new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
  );
  const container = service.getContainerClient(CONTAINER);
  await container.create();
  emulator = await ArmEmulator.start({
    datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: CONTAINER },
  });
  runner = new JobRunner(emulator, { container, containerName: CONTAINER });
  vault = await new KeyVaultEmulator(emulator, { 'agent-key': KEY, 'agent-url': migrated.url }).start();
}, 60_000);

afterAll(async () => {
  await runner?.settle();
  await vault?.stop();
  await emulator?.stop();
  await azurite?.stop();
  await migrated?.close();
  await model?.close();
});

const urls = Object.keys(
  JSON.parse(readFileSync(path.resolve('examples/web_classification/flows/experiment/pages.json'), 'utf8')),
).slice(0, 6);

test('bulk-run --target azure runs an http target in the shard jobs with its key from Key Vault', async () => {
  const azure = {
    ...emulator.azureSettings(),
    blob_endpoint: azurite.url,
    image: 'ghcr.io/example/llmops-cli:0.1.0',
    lines_per_shard: 2,
    key_vault_secrets: { AGENT_KEY: `${vault.url}/secrets/agent-key`, AGENT_URL: `${vault.url}/secrets/agent-url` },
  };
  const uc = makeUseCase({
    'experiment.yaml': `name: demo
flow:
  target: http
  url: \${AGENT_URL}/agent/run
  headers:
    Authorization: Bearer \${AGENT_KEY}
  body:
    messages: [{ role: user, contents: [{ type: text, text: "\${inputs.url}" }] }]
  outputs:
    category: $.value.category
datasets:
  - name: train
    source: data/train.jsonl
    mappings:
      url: \${data.url}
${stringify({ azure })}`,
    'data/train.jsonl': urls.map((url) => JSON.stringify({ url })).join('\n') + '\n',
  });
  try {
    const before = migrated.requests;
    const run = await runCli(['bulk-run', '--config', 'experiment.yaml', '--target', 'azure'], {
      cwd: uc.dir,
      env: { ...emulator.childEnv(), LLMOPS_AZURE_JOB_POLL_MS: '100' },
    });
    expect(run.stderr).not.toMatch(/internal error/);
    expect(run.stderr).toContain('shard 3/3 merged');
    expect(run.status).toBe(0);
    expect(migrated.requests - before).toBe(6);
    const runs = JSON.parse(readFileSync(path.join(uc.dir, '.llmops/experiments/demo/runs.json'), 'utf8')) as {
      runs: { runId: string }[];
    };
    const records = readFileSync(path.join(uc.dir, '.llmops/runs', runs.runs[0].runId, 'outputs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line_number: number; status: string; outputs: { category: string } })
      .sort((a, b) => a.line_number - b.line_number);
    expect(records.map((r) => r.status)).toEqual(Array(6).fill('Completed'));
    expect(records[0].outputs.category).toBe('Movie');
    for (const d of runner.definitions) expect(JSON.stringify(d.body)).not.toContain(KEY);
    expect(vault.reads.filter((n) => n === 'agent-key')).toHaveLength(3);
  } finally {
    uc.cleanup();
  }
}, 240_000);
