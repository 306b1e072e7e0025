/**
 * register-data with azure settings, end to end through the CLI (a child process trusting the
 * emulator's certificate through NODE_EXTRA_CA_CERTS, signing in with the production credential
 * chain against the loopback Entra endpoint), the ARM emulator and Azurite as the datastore account:
 * content-hash versions, nothing uploaded or created again for unchanged data, SAS datastores,
 * folders as uri_folder, --dry-run, a 403 named as a missing role; every request valid against the spec.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { runCli } from '../support/azure/cli.js';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const CONTAINER = 'azureml-blobstore-6f1c1a52-6b0e-4d8c-9a53-2d1f1a0e5e11';

let azurite: Azurite;
let emulator: ArmEmulator;

beforeAll(async () => {
  azurite = await Azurite.start();
  const blob = await import('@azure/storage-blob');
  const service = new blob.BlobServiceClient(
    azurite.directUrl,
    new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
  );
  await service.getContainerClient(CONTAINER).create();
  emulator = await ArmEmulator.start({
    datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: CONTAINER },
  });
}, 60_000);

afterAll(async () => {
  await emulator?.stop();
  await azurite?.stop();
});

function azureUseCase(files: Record<string, string | null> = {}, settings: Record<string, string> = {}) {
  const azure = { ...emulator.azureSettings(), blob_endpoint: azurite.url, ...settings };
  return makeUseCase({ 'experiment.yaml': `${baseExperiment}${stringify({ azure })}`, ...files });
}

async function registerData(dir: string, ...extra: string[]) {
  const r = await runCli(['register-data', '--config', 'experiment.yaml', '--output-file', 'datasets.json', ...extra], {
    cwd: dir,
    env: { ...baseEnv, ...emulator.childEnv() },
  });
  const datasets = r.status === 0 ? JSON.parse(readFileSync(path.join(dir, 'datasets.json'), 'utf8')) : undefined;
  return { ...r, datasets };
}

test('registers new content once: uploaded to the default datastore, a version per content hash, tags; unchanged data is neither uploaded nor created again', async () => {
  const uc = azureUseCase();
  try {
    const first = await registerData(uc.dir);
    expect(first.stderr).toContain('register-data: Azure ML workspace mlw-llmops');
    expect(first.status).toBe(0);
    const train = first.datasets.train;
    expect(train).toEqual({
      version: expect.stringMatching(/^[0-9a-f]{16}$/),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      rows: 1,
      created: true,
      asset: `azureml:train:${train.version}`,
    });
    expect(train.hash.startsWith(train.version)).toBe(true);
    // Uploaded where the Azure ML SDK puts local data, one blob per dataset file.
    expect(
      azurite
        .writes()
        .map((w) => w.path)
        .sort(),
    ).toEqual(
      [
        `/${CONTAINER}/LocalUpload/${first.datasets.train_eval.hash}/eval.jsonl`,
        `/${CONTAINER}/LocalUpload/${train.hash}/train.jsonl`,
      ].sort(),
    );
    const version = emulator.get(`${emulator.workspaceId()}/data/train/versions/${train.version}`)!;
    expect(version.properties).toMatchObject({
      dataType: 'uri_file',
      dataUri: `azureml://datastores/workspaceblobstore/paths/LocalUpload/${train.hash}/train.jsonl`,
      tags: { data_hash: train.hash, rows: '1', source: 'data/train.jsonl' },
    });

    const armBefore = emulator.requests.length;
    const blobBefore = azurite.requests.length;
    const again = await registerData(uc.dir);
    expect(again.status).toBe(0);
    expect(again.datasets.train).toEqual({ ...train, created: false });
    expect(again.stderr).toContain(
      `train: 1 rows, azureml:train:${train.version} unchanged (already registered; nothing uploaded)`,
    );
    // Not one blob request, and only reads in Azure ML.
    expect(azurite.requests.slice(blobBefore)).toEqual([]);
    expect(emulator.requests.slice(armBefore).map((r) => `${r.method} ${r.operationId}`)).toEqual([
      'GET DataVersions_Get',
      'GET DataVersions_Get',
    ]);
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    uc.cleanup();
  }
});

test('--dry-run says what would be uploaded and created, and changes nothing; then only the changed dataset is uploaded', async () => {
  const uc = azureUseCase();
  try {
    const first = await registerData(uc.dir);
    expect(first.status).toBe(0);
    writeFileSync(path.join(uc.dir, 'data/train.jsonl'), '{"question": "q1"}\n{"question": "q2"}\n');
    const armBefore = emulator.requests.length;
    const blobBefore = azurite.requests.length;
    const dry = await registerData(uc.dir, '--dry-run');
    expect(dry.status).toBe(0);
    const hash = dry.datasets.train.hash as string;
    expect(dry.stderr).toContain(
      `train: 2 rows, would upload 1 file(s) to azureml://datastores/workspaceblobstore/paths/LocalUpload/${hash}/train.jsonl and create azureml:train:${hash.slice(0, 16)} (uri_file)`,
    );
    expect(emulator.requests.slice(armBefore).filter((r) => r.method === 'PUT')).toEqual([]);
    expect(azurite.requests.slice(blobBefore).filter((r) => r.method !== 'GET')).toEqual([]);

    const writesBefore = azurite.writes().length;
    const real = await registerData(uc.dir);
    expect(real.status).toBe(0);
    expect(real.datasets.train).toMatchObject({ version: hash.slice(0, 16), rows: 2, created: true });
    expect(real.datasets.train_eval.created).toBe(false);
    expect(
      azurite
        .writes()
        .slice(writesBefore)
        .map((w) => w.path),
    ).toEqual([`/${CONTAINER}/LocalUpload/${hash}/train.jsonl`]);
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    uc.cleanup();
  }
});

test('a folder dataset is one uri_folder asset; its files are uploaded under the folder name', async () => {
  const experiment = `${baseExperiment.replace('source: data/train.jsonl', 'source: data/shards')}${stringify({
    azure: { ...emulator.azureSettings(), blob_endpoint: azurite.url },
  })}`;
  const uc = makeUseCase({
    'experiment.yaml': experiment,
    'data/shards/a.jsonl': '{"question": "sa1"}\n',
    'data/shards/b.jsonl': '{"question": "sb1"}\n{"question": "sb2"}\n',
  });
  try {
    const r = await registerData(uc.dir);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const { hash, version, rows } = r.datasets.train;
    expect(rows).toBe(3);
    expect(
      azurite
        .writes()
        .map((w) => w.path)
        .filter((p) => p.includes(hash)),
    ).toEqual([`/${CONTAINER}/LocalUpload/${hash}/shards/a.jsonl`, `/${CONTAINER}/LocalUpload/${hash}/shards/b.jsonl`]);
    expect(emulator.get(`${emulator.workspaceId()}/data/train/versions/${version}`)!.properties).toMatchObject({
      dataType: 'uri_folder',
      dataUri: `azureml://datastores/workspaceblobstore/paths/LocalUpload/${hash}/shards/`,
    });
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    uc.cleanup();
  }
});

test('a datastore without access for the identity: exit 3, the message names the role to grant; nothing registered', async () => {
  const uc = azureUseCase({ 'data/train.jsonl': '{"question": "forbidden"}\n' });
  try {
    emulator.inject({
      method: 'POST',
      path: '/listSecrets',
      status: 403,
      message:
        "The client '0b0f3c1e-7c41-4a2b-9f5e-3c8d1a2b4c5d' does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/datastores/listSecrets/action'",
    });
    const armBefore = emulator.requests.length;
    const r = await registerData(uc.dir);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(
      'Azure ML: read the secrets of datastore "workspaceblobstore" in workspace mlw-llmops (resource group rg-llmops) was forbidden (403: AuthorizationFailed:',
    );
    expect(r.stderr).toContain('grant it AzureML Data Scientist on the workspace');
    expect(r.stderr).not.toContain(emulator.childEnv().AZURE_CLIENT_SECRET);
    expect(emulator.requests.slice(armBefore).filter((q) => q.method === 'PUT')).toEqual([]);
  } finally {
    uc.cleanup();
  }
});

test('a SAS datastore: listSecrets gives a SAS token and the upload uses it', async () => {
  const blob = await import('@azure/storage-blob');
  const sasEmulator = await ArmEmulator.start({
    datastore: {
      accountName: DEV_ACCOUNT,
      accountKey: DEV_KEY,
      containerName: CONTAINER,
      credentials: 'Sas',
      sasToken: () =>
        blob
          .generateBlobSASQueryParameters(
            {
              containerName: CONTAINER,
              permissions: blob.ContainerSASPermissions.parse('racwl'),
              expiresOn: new Date(Date.now() + 3600_000),
            },
            new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
          )
          .toString(),
    },
  });
  const uc = makeUseCase({
    'experiment.yaml': `${baseExperiment}${stringify({ azure: { ...sasEmulator.azureSettings(), blob_endpoint: azurite.url } })}`,
    'data/train.jsonl': '{"question": "through a SAS"}\n',
  });
  try {
    const blobBefore = azurite.requests.length;
    const r = await runCli(['register-data', '--config', 'experiment.yaml'], {
      cwd: uc.dir,
      env: { ...baseEnv, ...sasEmulator.childEnv() },
    });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const puts = azurite.requests.slice(blobBefore).filter((q) => q.method === 'PUT');
    expect(puts.length).toBe(1);
    expect(puts[0].query).toMatch(/[?&]sig=/); // the SAS signed it, not a shared key
    expect(sasEmulator.specViolations()).toEqual([]);
  } finally {
    uc.cleanup();
    await sasEmulator.stop();
  }
});

test('the same content under two file names: each asset points at a blob that exists (a datastore named in azure.datastore)', async () => {
  const same = '{"question": "same", "answer": "same"}\n';
  const uc = azureUseCase({ 'data/train.jsonl': same, 'data/eval.jsonl': same }, { datastore: 'workspaceblobstore' });
  try {
    const before = emulator.requests.length;
    const r = await registerData(uc.dir);
    expect(r.status).toBe(0);
    const ops = emulator.requests.slice(before).map((q) => q.operationId);
    expect(ops).toContain('Datastores_Get');
    expect(ops).not.toContain('Datastores_List');
    const { hash } = r.datasets.train;
    expect(r.datasets.train_eval.hash).toBe(hash);
    expect(
      azurite
        .writes()
        .map((w) => w.path)
        .filter((p) => p.includes(hash))
        .sort(),
    ).toEqual([`/${CONTAINER}/LocalUpload/${hash}/eval.jsonl`, `/${CONTAINER}/LocalUpload/${hash}/train.jsonl`]);
  } finally {
    uc.cleanup();
  }
});

test('an identity-based datastore (no secrets): the upload signs in to storage with the same Entra credential', async () => {
  const idEmulator = await ArmEmulator.start({
    datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: CONTAINER, credentials: 'None' },
  });
  // Azurite over HTTPS with the emulator's certificate, checking bearer tokens (--oauth basic).
  const secure = await Azurite.start({ tls: idEmulator.cert });
  const uc = makeUseCase({
    'experiment.yaml': `${baseExperiment}${stringify({ azure: { ...idEmulator.azureSettings(), blob_endpoint: secure.url } })}`,
    'data/train.jsonl': '{"question": "with my own identity"}\n',
  });
  try {
    const blob = await import('@azure/storage-blob');
    const service = new blob.BlobServiceClient(
      secure.directUrl,
      new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
    );
    await service.getContainerClient(CONTAINER).create();
    const r = await runCli(['register-data', '--config', 'experiment.yaml'], {
      cwd: uc.dir,
      env: { ...baseEnv, ...idEmulator.childEnv() },
    });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(secure.writes().length).toBe(2);
    expect(idEmulator.requests.filter((q) => q.operationId === 'Datastores_ListSecrets')).toEqual([]);
    expect(idEmulator.entra.requests.filter((q) => q.grantType === 'client_credentials').length).toBeGreaterThanOrEqual(
      2,
    );
    expect([...idEmulator.entra.issued.values()].map((t) => t.scope)).toContain('https://storage.azure.com/.default');
    expect(idEmulator.specViolations()).toEqual([]);
  } finally {
    uc.cleanup();
    await secure.stop();
    await idEmulator.stop();
  }
});
