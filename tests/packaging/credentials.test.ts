/** Azure sign-in: the credential chosen for each environment shape, and the override. No network. */
import { chooseAzureAuth, createAzureCredential } from '../../src/shared/azure/credentials.js';
import { ConfigError } from '../../src/shared/errors.js';

const ids = { AZURE_TENANT_ID: 'tenant-1', AZURE_CLIENT_ID: 'client-1' };
const oidc = async () => 'github-oidc-token';

test.each([
  [
    'Azure DevOps WIF service connection',
    { azurePipelines: { serviceConnectionId: 'sc', systemAccessToken: 't' }, tenantId: 't', clientId: 'c' },
    {},
    'AzurePipelinesCredential',
  ],
  ['GitHub OIDC available', { getFederatedToken: oidc }, ids, 'ClientAssertionCredential'],
  [
    'GitHub OIDC wins over a secret',
    { getFederatedToken: oidc },
    { ...ids, AZURE_CLIENT_SECRET: 's' },
    'ClientAssertionCredential',
  ],
  [
    'Kubernetes / Jenkins token file',
    {},
    { ...ids, AZURE_FEDERATED_TOKEN_FILE: '/var/run/token' },
    'WorkloadIdentityCredential',
  ],
  ['service principal secret', {}, { ...ids, AZURE_CLIENT_SECRET: 's' }, 'ClientSecretCredential'],
  [
    'GitHub without id-token permission falls to the secret',
    {},
    { ...ids, AZURE_CLIENT_SECRET: 's' },
    'ClientSecretCredential',
  ],
  ['App Service managed identity', {}, { IDENTITY_ENDPOINT: 'http://169.254.169.254' }, 'ManagedIdentityCredential'],
  ['ADO managed-identity connection', { managedIdentity: true }, {}, 'ManagedIdentityCredential'],
  ['nothing configured: the Azure CLI', {}, {}, 'AzureCliCredential'],
  [
    'OIDC without a client id is not enough',
    { getFederatedToken: oidc },
    { AZURE_TENANT_ID: 't' },
    'AzureCliCredential',
  ],
] as const)('%s → %s', (_label, source, env, kind) => {
  expect(chooseAzureAuth(source, env).kind).toBe(kind);
});

test('LLMOPS_AZURE_AUTH or the azure-auth input forces a method; auto follows the order', () => {
  const env = { ...ids, AZURE_CLIENT_SECRET: 's' };
  expect(chooseAzureAuth({ getFederatedToken: oidc }, { ...env, LLMOPS_AZURE_AUTH: 'cli' }).kind).toBe(
    'AzureCliCredential',
  );
  expect(chooseAzureAuth({ override: 'secret', getFederatedToken: oidc }, env).kind).toBe('ClientSecretCredential');
  expect(chooseAzureAuth({ override: 'auto', getFederatedToken: oidc }, env).kind).toBe('ClientAssertionCredential');
  expect(chooseAzureAuth({ override: 'msi' }, {}).kind).toBe('ManagedIdentityCredential');
});

test('a forced method that cannot work, or an unknown one, is an input error naming what is missing', () => {
  expect(() => chooseAzureAuth({ override: 'wif' }, {})).toThrow(/"wif" needs a federated token/);
  expect(() => chooseAzureAuth({}, { LLMOPS_AZURE_AUTH: 'secret', ...ids })).toThrow(/AZURE_CLIENT_SECRET/);
  const err = (() => {
    try {
      chooseAzureAuth({ override: 'password' }, {});
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toContain('found "password", expected one of: auto, wif, secret, msi, cli');
});

test('the GitHub credential asks for a fresh OIDC token on every token request (no one-shot assertion)', async () => {
  let calls = 0;
  const { credential, choice } = await createAzureCredential(
    { tenantId: 'tenant-1', clientId: 'client-1', getFederatedToken: async () => `assertion-${++calls}` },
    {},
  );
  expect(choice.kind).toBe('ClientAssertionCredential');
  expect(credential.constructor.name).toBe('ClientAssertionCredential');
  // The credential keeps the callback, not a token: nothing is requested before getToken.
  expect(calls).toBe(0);
});
