/**
 * A model pool in a cloud bulk-run: the connection's `endpoints:` (one of them dead) reach the Azure ML jobs, which
 * run for real as local `llmops run-shard` processes against the ARM emulator, with each endpoint's secrets read
 * by the job itself (from Key Vault, or from one workspace connection per endpoint). Every line is answered by
 * the live endpoint after the dead one fails over, and no job definition holds a secret.
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
import { experimentWith, llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';

const CONTAINER = 'azureml-blobstore-3a7c9e1f-2b4d-4f60-8a1c-5e7f9b2d4c6a';
const LIVE_KEY = 'sk-POOL-LIVE-KEY-2468';
const DEAD_KEY = 'sk-POOL-DEAD-KEY-1357';
const DEAD_BASE = 'http://127.0.0.1:9';
const LINES = 8;

let model: ModelServerHandle;
let azurite: Azurite;
let emulator: ArmEmulator;
let runner: JobRunner;
let vault: KeyVaultEmulator;

beforeAll(async () => {
  model = await startModelServer({});
  azurite = await Azurite.start();
  const blob = await import('@azure/storage-blob');
  const container = new blob.BlobServiceClient(
    azurite.directUrl,
    new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
  ).getContainerClient(CONTAINER);
  await container.create();
  emulator = await ArmEmulator.start({
    datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: CONTAINER },
  });
  runner = new JobRunner(emulator, {
    container,
    containerName: CONTAINER,
    connections: {
      'aoai-east': { target: DEAD_BASE, key: DEAD_KEY },
      'aoai-west': { target: model.url, key: LIVE_KEY },
    },
  });
  vault = await new KeyVaultEmulator(emulator, {
    'east-key': DEAD_KEY,
    'east-base': DEAD_BASE,
    'west-key': LIVE_KEY,
    'west-base': model.url,
  }).start();
}, 60_000);

afterAll(async () => {
  await runner?.settle();
  await vault?.stop();
  await emulator?.stop();
  await azurite?.stop();
  await model?.close();
});

const POOL = `  - name: aoai
    connection_type: AzureOpenAIConnection
    api_version: 2024-06-01
    endpoints:
      - api_base: \${east_base}
        api_key: \${east_key}
      - api_base: \${west_base}
        api_key: \${west_key}
`;

function useCase(azure: Record<string, unknown>) {
  const data = Array.from({ length: LINES }, (_, i) => JSON.stringify({ question: `q${i}`, answer: `q${i}` }));
  const experiment = experimentWith(
    `  - name: aoai
    connection_type: AzureOpenAIConnection
    api_base: \${api_base}
    api_key: \${api_key}
`,
    POOL,
  );
  return makeUseCase({
    'experiment.yaml': `${experiment}${stringify({
      azure: {
        ...emulator.azureSettings(),
        blob_endpoint: azurite.url,
        image: 'ghcr.io/example/llmops-cli:0.1.0',
        lines_per_shard: LINES / 2,
        ...azure,
      },
    })}`,
    ...llmNodeFlow(),
    'data/train.jsonl': `${data.join('\n')}\n`,
  });
}

function records(dir: string): { line_number: number; status: string; outputs?: { answer?: string } }[] {
  const runs = JSON.parse(readFileSync(path.join(dir, '.llmops/experiments/demo/runs.json'), 'utf8')) as {
    runs: { runId: string }[];
  };
  return readFileSync(path.join(dir, '.llmops/runs', runs.runs[0].runId, 'outputs.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { line_number: number; status: string; outputs?: { answer?: string } })
    .sort((a, b) => a.line_number - b.line_number);
}

function expectNoSecretIn(definitions: typeof runner.definitions): void {
  expect(definitions.length).toBeGreaterThan(0);
  for (const d of definitions) {
    const text = JSON.stringify(d.body);
    for (const secret of [LIVE_KEY, DEAD_KEY, DEV_KEY]) expect(text).not.toContain(secret);
  }
}

async function bulkRun(azure: Record<string, unknown>) {
  const uc = useCase(azure);
  const before = runner.definitions.length;
  const calls = model.stats().byEndpoint.chat ?? 0;
  try {
    const run = await runCli(['bulk-run', '--config', 'experiment.yaml', '--target', 'azure'], {
      cwd: uc.dir,
      env: { ...emulator.childEnv(), LLMOPS_AZURE_JOB_POLL_MS: '100' },
    });
    expect(run.stderr).not.toMatch(/internal error/);
    if (run.status !== 0) console.log(run.stderr);
    expect(run.status).toBe(0);
    const lines = records(uc.dir);
    expect(lines.map((l) => [l.line_number, l.status])).toEqual(
      Array.from({ length: LINES }, (_, i) => [i, 'Completed']),
    );
    expect(lines.every((l) => String(l.outputs?.answer ?? '').includes('user: q'))).toBe(true);
    // The live endpoint answered every line.
    expect((model.stats().byEndpoint.chat ?? 0) - calls).toBe(LINES);
    const mine = runner.definitions.slice(before);
    expect(mine).toHaveLength(2);
    expectNoSecretIn(mine);
    expect(emulator.specViolations()).toEqual([]);
    return mine;
  } finally {
    uc.cleanup();
  }
}

test('a pool whose secrets are Key Vault references: every line answered past the dead endpoint', async () => {
  const defs = await bulkRun({
    key_vault_secrets: {
      AOAI_EAST_KEY: `${vault.url}/secrets/east-key`,
      AOAI_EAST_BASE: `${vault.url}/secrets/east-base`,
      AOAI_WEST_KEY: `${vault.url}/secrets/west-key`,
      AOAI_WEST_BASE: `${vault.url}/secrets/west-base`,
    },
  });
  for (const d of defs)
    expect(
      (d.body as { properties: { environmentVariables: Record<string, string> } }).properties.environmentVariables
        .LLMOPS_KEY_VAULT_SECRETS,
    ).toContain('/secrets/west-key');
}, 240_000);

test('a pool mapped to one workspace connection per endpoint: every line answered past the dead endpoint', async () => {
  const defs = await bulkRun({ connections: { aoai: ['aoai-east', 'aoai-west'] } });
  for (const d of defs)
    expect(
      JSON.parse(
        (d.body as { properties: { environmentVariables: Record<string, string> } }).properties.environmentVariables
          .LLMOPS_WORKSPACE_CONNECTIONS,
      ),
    ).toEqual({ aoai: ['aoai-east', 'aoai-west'] });
}, 240_000);

test('a pool filled from one workspace connection is refused before any job starts', async () => {
  const uc = useCase({});
  const before = runner.definitions.length;
  try {
    const run = await runCli(['bulk-run', '--config', 'experiment.yaml', '--target', 'azure'], {
      cwd: uc.dir,
      env: { ...emulator.childEnv(), LLMOPS_AZURE_JOB_POLL_MS: '100' },
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'connection aoai is a model pool whose 2 endpoints read their keys from AOAI_EAST_KEY, AOAI_WEST_KEY',
    );
    expect(run.stderr).toContain('azure.connections.aoai to list one workspace connection per endpoint');
    expect(runner.definitions.length).toBe(before);
  } finally {
    uc.cleanup();
  }
}, 60_000);
