/**
 * The ARM client against the ARM emulator (HTTPS on loopback, every request and response checked
 * against the vendored spec by oav) and the loopback Entra token endpoint: the production
 * credential (ClientSecretCredential through our chain), retries of 429/5xx, long-running
 * operations through both polling headers, and clear errors (403 as a missing role assignment).
 */
import { ArmClient } from '../../src/shared/azure/arm-client.js';
import { createAzureCredential } from '../../src/shared/azure/credentials.js';
import { ServiceError } from '../../src/shared/errors.js';
import { ArmEmulator, TEST_CLIENT } from '../support/azure/arm-emulator.js';

let emulator: ArmEmulator;
let client: ArmClient;
let ws: string;

beforeAll(async () => {
  emulator = await ArmEmulator.start({
    datastore: { accountName: 'devstoreaccount1', accountKey: 'a2V5', containerName: 'azureml-blobstore-test' },
  });
  const { credential } = await createAzureCredential(
    { override: 'secret', ...TEST_CLIENT, authorityHost: emulator.entra.url },
    {},
  );
  client = new ArmClient({ endpoint: emulator.url, credential, retryDelayMs: 10, pollIntervalMs: 10 });
  ws = emulator.workspaceId();
});

afterAll(async () => {
  await emulator?.stop();
});

const dataVersion = {
  properties: { dataType: 'uri_file', dataUri: 'azureml://datastores/workspaceblobstore/paths/a/b.jsonl' },
};

test('signs in through the loopback Entra endpoint and round-trips a data version, spec-valid both ways', async () => {
  const put = await client.request('PUT', `${ws}/data/train/versions/v1`, { what: 'register', body: dataVersion });
  expect(put.status).toBe(201);
  const got = await client.get<{ properties: { dataUri: string } }>(`${ws}/data/train/versions/v1`, { what: 'read' });
  expect(got.body.properties.dataUri).toBe(dataVersion.properties.dataUri);
  const list = await client.list(`${ws}/data/train/versions`, {
    what: 'list',
    query: { $orderBy: 'createdtime desc' },
  });
  expect(list).toHaveLength(1);
  // The credential read the tenant's OpenID metadata, then used the client-credentials grant.
  expect(emulator.entra.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual(
    expect.arrayContaining([
      `GET /${TEST_CLIENT.tenantId}/v2.0/.well-known/openid-configuration`,
      `POST /${TEST_CLIENT.tenantId}/oauth2/v2.0/token`,
    ]),
  );
  expect(emulator.entra.requests.some((r) => r.method === 'POST' && r.grantType === 'client_credentials')).toBe(true);
  expect(emulator.specViolations()).toEqual([]);
});

test('429 with Retry-After and 503s are retried; the call then succeeds', async () => {
  emulator.inject({ method: 'GET', path: '/datastores', status: 429, retryAfter: 1 });
  emulator.inject({ method: 'GET', path: '/datastores', status: 503, times: 2 });
  const before = emulator.requests.length;
  const started = Date.now();
  const stores = await client.list<{ name: string }>(`${ws}/datastores`, {
    what: 'list datastores',
    query: { isDefault: true },
  });
  expect(stores.map((s) => s.name)).toEqual(['workspaceblobstore']);
  const made = emulator.requests.slice(before);
  expect(made.map((r) => r.status)).toEqual([429, 503, 503, 200]);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After: 1 was honoured
  expect(emulator.specViolations()).toEqual([]);
});

test('a 429 without Retry-After is retried with back-off too', async () => {
  emulator.inject({ method: 'GET', path: '/datastores/workspaceblobstore', status: 429, times: 2 });
  const before = emulator.requests.length;
  const store = await client.get<{ name: string }>(`${ws}/datastores/workspaceblobstore`, { what: 'read datastore' });
  expect(store.body.name).toBe('workspaceblobstore');
  expect(emulator.requests.slice(before).map((r) => r.status)).toEqual([429, 429, 200]);
});

test('a 5xx that persists is a ServiceError (exit 3) naming the resource and the service message', async () => {
  emulator.inject({
    method: 'GET',
    path: '/data/train/versions/v1',
    status: 500,
    message: 'backend exploded',
    times: 20,
  });
  const error = await client.get(`${ws}/data/train/versions/v1`, { what: 'read data asset train:v1' }).catch((e) => e);
  expect(error).toBeInstanceOf(ServiceError);
  expect(error.exitCode).toBe(3);
  expect(error.message).toBe(
    'Azure ML: read data asset train:v1 failed (after retries): GET 500: InternalServerError: backend exploded',
  );
  emulator.faults.length = 0;
});

test('403 names the missing role assignment', async () => {
  emulator.inject({
    method: 'POST',
    path: '/listSecrets',
    status: 403,
    message:
      "The client '0b0f3c1e' does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/datastores/listSecrets/action'",
  });
  const error = await client
    .request('POST', `${ws}/datastores/workspaceblobstore/listSecrets`, {
      what: 'read the secrets of datastore "workspaceblobstore"',
      role: 'AzureML Data Scientist on the workspace',
    })
    .catch((e) => e);
  expect(error).toBeInstanceOf(ServiceError);
  expect(error.message).toMatch(
    /^Azure ML: read the secrets of datastore "workspaceblobstore" was forbidden \(403: AuthorizationFailed: The client .*listSecrets\/action'\)\. The signed-in identity has no role assignment that allows it: grant it AzureML Data Scientist on the workspace\.$/,
  );
});

test('long-running PUT polls Azure-AsyncOperation, DELETE polls Location; both wait as the service says', async () => {
  const endpoint = `${ws}/onlineEndpoints/ep-one`;
  const before = emulator.requests.length;
  const put = await client.lro<{ properties: { provisioningState: string } }>('PUT', endpoint, {
    what: 'create online endpoint ep-one',
    body: { location: 'westeurope', identity: { type: 'SystemAssigned' }, properties: { authMode: 'Key' } },
  });
  expect(put.body.properties.provisioningState).toBe('Succeeded');
  const del = await client.lro('DELETE', endpoint, { what: 'delete online endpoint ep-one' });
  expect([200, 204]).toContain(del.status);
  const made = emulator.requests.slice(before);
  expect(made.map((r) => `${r.method} ${r.status}${r.platform ? ' (operation)' : ''}`)).toEqual([
    'PUT 201',
    'GET 200 (operation)',
    'GET 200 (operation)',
    'GET 200',
    'DELETE 202',
    'GET 202 (operation)',
    'GET 204 (operation)',
  ]);
  expect(emulator.get(endpoint)).toBeUndefined();
  expect(emulator.specViolations()).toEqual([]);
});

test('a long-running operation that does not finish in time: a clear error saying it may still run', async () => {
  const { credential } = await createAzureCredential(
    { override: 'secret', ...TEST_CLIENT, authorityHost: emulator.entra.url },
    {},
  );
  const impatient = new ArmClient({ endpoint: emulator.url, credential, lroTimeoutMs: 5 });
  const error = await impatient
    .lro('PUT', `${ws}/onlineEndpoints/ep-slow`, {
      what: 'create online endpoint ep-slow',
      body: { location: 'westeurope', identity: { type: 'SystemAssigned' }, properties: { authMode: 'Key' } },
    })
    .catch((e) => e);
  expect(error).toBeInstanceOf(ServiceError);
  expect(error.message).toBe(
    'Azure ML: create online endpoint ep-slow did not finish within 0 s; it may still be running in Azure',
  );
});

test('a provisioning failure ends the operation Failed: the error says what failed and why', async () => {
  emulator.inject({
    method: 'PUT',
    path: '/onlineEndpoints/ep-bad',
    provisioningFailure: 'quota exceeded for Standard_DS3_v2',
  });
  const error = await client
    .lro('PUT', `${ws}/onlineEndpoints/ep-bad`, {
      what: 'create online endpoint ep-bad',
      body: { location: 'westeurope', identity: { type: 'SystemAssigned' }, properties: { authMode: 'Key' } },
    })
    .catch((e) => e);
  expect(error).toBeInstanceOf(ServiceError);
  expect(error.message).toBe(
    'Azure ML: create online endpoint ep-bad failed: ProvisioningFailed: quota exceeded for Standard_DS3_v2',
  );
  expect(
    (emulator.get(`${ws}/onlineEndpoints/ep-bad`)!.properties as { provisioningState: string }).provisioningState,
  ).toBe('Failed');
});

test('409 and a request the spec rejects: clear errors; the emulator records the invalid request', async () => {
  const conflict = await client
    .request('PUT', `${ws}/data/train/versions/v1`, { what: 'register data asset train:v1', body: dataVersion })
    .catch((e) => e);
  expect(conflict.message).toBe(
    'Azure ML: register data asset train:v1 failed: PUT 409: UserError: Data asset version v1 already exists',
  );
  // An injected 409 (another writer): not retried, said as is.
  emulator.inject({ method: 'PUT', path: '/data/other/versions/v1', status: 409, message: 'operation in progress' });
  const injectedAt = emulator.requests.length;
  const busy = await client
    .request('PUT', `${ws}/data/other/versions/v1`, { what: 'register data asset other:v1', body: dataVersion })
    .catch((e) => e);
  expect(busy.message).toBe('Azure ML: register data asset other:v1 failed: PUT 409: Conflict: operation in progress');
  expect(emulator.requests.length - injectedAt).toBe(1);
  const before = emulator.requests.length;
  const invalid = await client
    .request('PUT', `${ws}/data/train/versions/v2`, {
      what: 'register data asset train:v2',
      body: { properties: { dataType: 'uri_file' } },
    })
    .catch((e) => e);
  expect(invalid.message).toMatch(
    /^Azure ML: register data asset train:v2 failed: PUT 400: InvalidRequestContent: .*dataUri/,
  );
  expect(emulator.requests.slice(before).map((r) => r.requestIssues.map((i) => i.code))).toEqual([
    ['OBJECT_MISSING_REQUIRED_PROPERTY', 'OBJECT_MISSING_REQUIRED_PROPERTY'],
  ]);
  emulator.requests.splice(before); // the deliberate one: keep the other tests' assertion meaningful
});

test('a token for another audience is refused with 401, named as a sign-in problem', async () => {
  const { credential } = await createAzureCredential(
    { override: 'secret', ...TEST_CLIENT, authorityHost: emulator.entra.url },
    {},
  );
  const other = new ArmClient({
    endpoint: emulator.url,
    credential,
    scope: 'https://management.azure.com/.default',
    retryDelayMs: 10,
  });
  const error = await other.get(`${ws}/datastores`, { what: 'list datastores' }).catch((e) => e);
  expect(error).toBeInstanceOf(ServiceError);
  expect(error.message).toMatch(
    /^Azure ML: list datastores was refused \(401: InvalidAuthenticationToken: .*\): the token was not accepted/,
  );
});

test('room for later work: a command job is stored and canceled (202 + Location) by the generic handlers, spec-valid', async () => {
  const job = `${ws}/jobs/shard-0001`;
  const before = emulator.requests.length;
  const put = await client.request('PUT', job, {
    what: 'submit job shard-0001',
    body: {
      properties: {
        jobType: 'Command',
        command: 'llmops run-shard --shard 1',
        environmentId: `${ws}/environments/llmops-cli/versions/1`,
        resources: { instanceCount: 1, instanceType: 'Standard_E4ds_v4' },
      },
    },
  });
  expect(put.status).toBe(201);
  const cancel = await client.lro('POST', `${job}/cancel`, { what: 'cancel job shard-0001' });
  expect([200, 204]).toContain(cancel.status);
  expect(emulator.requests.slice(before).map((r) => `${r.method} ${r.operationId ?? 'operation'} ${r.status}`)).toEqual(
    ['PUT Jobs_CreateOrUpdate 201', 'POST Jobs_Cancel 202', 'GET operation 202', 'GET operation 204'],
  );
  expect(emulator.specViolations()).toEqual([]);
});

test('a rejected client secret: exit 3, "Azure sign-in failed" with Entra\'s own message, the secret not in it', async () => {
  const { credential } = await createAzureCredential(
    { override: 'secret', ...TEST_CLIENT, clientSecret: 'wrong-secret-value', authorityHost: emulator.entra.url },
    {},
  );
  const refused = new ArmClient({ endpoint: emulator.url, credential, retryDelayMs: 10 });
  const error = await refused.get(`${ws}/datastores`, { what: 'list datastores' }).catch((e) => e);
  expect(error).toBeInstanceOf(ServiceError);
  expect(error.message).toMatch(
    /^Azure sign-in failed \(token for https:\/\/127\.0\.0\.1:\d+\/\.default\): .*AADSTS7000215/,
  );
  expect(error.message).not.toContain('wrong-secret-value');
});

test('the emulator checks its own answers: a response the spec rejects is recorded as a violation', async () => {
  emulator.handle('DataContainers_Get', () => ({
    status: 200,
    body: { properties: { dataType: 'uri_file', isArchived: 'yes' } },
  }));
  const before = emulator.requests.length;
  await client.get(`${ws}/data/train`, { what: 'read data container train' });
  const [recorded] = emulator.requests.slice(before);
  expect(recorded.requestIssues).toEqual([]);
  expect(recorded.responseIssues.map((i) => `${i.code} ${i.paths.join()}`)).toEqual([
    'INVALID_TYPE /properties/isArchived',
  ]);
  emulator.requests.splice(before); // deliberate: keep the other tests' assertion meaningful
});
