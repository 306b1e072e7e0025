/**
 * The credential chain against the loopback Entra endpoint and the ARM emulator: GitHub OIDC
 * (ClientAssertionCredential), workload identity from a token file (WorkloadIdentityCredential) and
 * App Service managed identity (ManagedIdentityCredential), each giving an ARM token the emulator accepts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArmClient } from '../../src/shared/azure/arm-client.js';
import { createAzureCredential } from '../../src/shared/azure/credentials.js';
import { ServiceError } from '../../src/shared/errors.js';
import { ArmEmulator, TEST_CLIENT } from '../support/azure/arm-emulator.js';

const FEDERATED = 'eyJhbGciOiJSUzI1NiJ9.github-oidc-token-for-tests.signature';
let emulator: ArmEmulator;

beforeAll(async () => {
  emulator = await ArmEmulator.start({
    datastore: { accountName: 'devstoreaccount1', accountKey: 'a2V5', containerName: 'c' },
    clients: [{ ...TEST_CLIENT, federatedToken: FEDERATED }],
  });
});

afterAll(async () => {
  await emulator?.stop();
});

async function listDatastores(credential: Awaited<ReturnType<typeof createAzureCredential>>['credential']) {
  const client = new ArmClient({ endpoint: emulator.url, credential, retryDelayMs: 10 });
  return client.list<{ name: string }>(`${emulator.workspaceId()}/datastores`, { what: 'list datastores' });
}

test('GitHub OIDC: ClientAssertionCredential exchanges the runner token for an ARM token', async () => {
  let asked = 0;
  const { credential, choice } = await createAzureCredential(
    {
      tenantId: TEST_CLIENT.tenantId,
      clientId: TEST_CLIENT.clientId,
      getFederatedToken: async () => {
        asked++;
        return FEDERATED;
      },
      authorityHost: emulator.entra.url,
    },
    {},
  );
  expect(choice.kind).toBe('ClientAssertionCredential');
  expect((await listDatastores(credential)).map((d) => d.name)).toEqual(['workspaceblobstore']);
  expect(asked).toBeGreaterThanOrEqual(1); // asked for when MSAL needs it, never cached by us
});

test('workload identity: WorkloadIdentityCredential reads AZURE_FEDERATED_TOKEN_FILE', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-wif-'));
  try {
    const file = path.join(dir, 'token');
    writeFileSync(file, FEDERATED);
    const env = {
      AZURE_FEDERATED_TOKEN_FILE: file,
      AZURE_TENANT_ID: TEST_CLIENT.tenantId,
      AZURE_CLIENT_ID: TEST_CLIENT.clientId,
    };
    const { credential, choice } = await createAzureCredential({ authorityHost: emulator.entra.url }, env);
    expect(choice.kind).toBe('WorkloadIdentityCredential');
    expect((await listDatastores(credential)).map((d) => d.name)).toEqual(['workspaceblobstore']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a federated token the app does not trust: a sign-in error with Entra's message", async () => {
  const { credential } = await createAzureCredential(
    {
      tenantId: TEST_CLIENT.tenantId,
      clientId: TEST_CLIENT.clientId,
      getFederatedToken: async () => 'a-token-from-another-repository',
      authorityHost: emulator.entra.url,
    },
    {},
  );
  const error = await listDatastores(credential).catch((e) => e);
  expect(error).toBeInstanceOf(ServiceError);
  expect(error.message).toMatch(/^Azure sign-in failed .*AADSTS700213/);
  expect(emulator.specViolations()).toEqual([]);
});

test('managed identity (App Service IDENTITY_ENDPOINT): ManagedIdentityCredential gets the ARM token', async () => {
  const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
  // MSAL reads these from the process environment itself.
  process.env.IDENTITY_ENDPOINT = `${emulator.entra.url}/msi/token`;
  process.env.IDENTITY_HEADER = emulator.entra.msiHeader;
  try {
    const { credential, choice } = await createAzureCredential(
      {},
      { IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT },
    );
    expect(choice.kind).toBe('ManagedIdentityCredential');
    expect((await listDatastores(credential)).map((d) => d.name)).toEqual(['workspaceblobstore']);
    expect(emulator.entra.requests.some((r) => r.path.startsWith('/msi/token?'))).toBe(true);
  } finally {
    for (const [k, v] of [
      ['IDENTITY_ENDPOINT', saved.endpoint],
      ['IDENTITY_HEADER', saved.header],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
});
