/**
 * Azure sign-in for every host, in one documented order:
 *
 * 1. workload identity federation (`wif`): on Azure DevOps the `azureSubscription` service
 *    connection through `AzurePipelinesCredential`; on GitHub `ClientAssertionCredential`
 *    whose callback asks the runner for a fresh OIDC token on every refresh (the token lives
 *    about 10 minutes, so a one-shot `az login --federated-token` breaks long runs);
 *    anywhere else `WorkloadIdentityCredential` when AZURE_FEDERATED_TOKEN_FILE is set;
 * 2. a service principal secret (`secret`): AZURE_CLIENT_SECRET (or the connection's key);
 * 3. managed identity (`msi`): when the platform says so (IDENTITY_ENDPOINT, MSI_ENDPOINT, a
 *    managed-identity service connection);
 * 4. the Azure CLI's signed-in account (`cli`), e.g. after `azure/login` or `az login`.
 *
 * `LLMOPS_AZURE_AUTH` (or the `azure-auth` input) forces one method. The choice is a pure
 * function of the environment (`chooseAzureAuth`); @azure/identity is loaded only when a
 * credential is actually built, so steps that never touch Azure start fast.
 * @module
 */
import type { TokenCredential } from '@azure/identity';
import { ConfigError } from '../errors.js';

export type AzureAuthMethod = 'wif' | 'secret' | 'msi' | 'cli';
export type CredentialKind =
  | 'AzurePipelinesCredential'
  | 'ClientAssertionCredential'
  | 'WorkloadIdentityCredential'
  | 'ClientSecretCredential'
  | 'ManagedIdentityCredential'
  | 'AzureCliCredential';

/** What a host knows about signing in. Everything is optional; the environment fills gaps. */
export interface AzureAuthSource {
  /** `auto` or a forced method (input `azure-auth`); LLMOPS_AZURE_AUTH applies when absent. */
  override?: string;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** GitHub: fetch a new OIDC token for `api://AzureADTokenExchange`. Called on every token refresh. */
  getFederatedToken?: () => Promise<string>;
  /** Azure DevOps: a workload-identity-federation service connection. */
  azurePipelines?: { serviceConnectionId: string; systemAccessToken: string };
  /** Azure DevOps: the service connection uses a managed identity. */
  managedIdentity?: boolean;
  /** Authority host override (sovereign clouds; tests point it at loopback). */
  authorityHost?: string;
}

export interface AzureAuthChoice {
  method: AzureAuthMethod;
  kind: CredentialKind;
  /** One line for the log: which method and why (never a secret). */
  reason: string;
}

const METHODS: readonly AzureAuthMethod[] = ['wif', 'secret', 'msi', 'cli'];

interface Resolved extends AzureAuthSource {
  federatedTokenFile?: string;
  platformIdentity: boolean;
}

function resolve(source: AzureAuthSource, env: NodeJS.ProcessEnv): Resolved {
  return {
    ...source,
    override: source.override && source.override !== 'auto' ? source.override : env.LLMOPS_AZURE_AUTH || undefined,
    tenantId: source.tenantId || env.AZURE_TENANT_ID || undefined,
    clientId: source.clientId || env.AZURE_CLIENT_ID || undefined,
    clientSecret: source.clientSecret || env.AZURE_CLIENT_SECRET || undefined,
    federatedTokenFile: env.AZURE_FEDERATED_TOKEN_FILE || undefined,
    platformIdentity: Boolean(source.managedIdentity || env.IDENTITY_ENDPOINT || env.MSI_ENDPOINT),
  };
}

/** The `wif` credential this environment supports, if any. */
function federated(r: Resolved): AzureAuthChoice | undefined {
  if (r.azurePipelines)
    return {
      method: 'wif',
      kind: 'AzurePipelinesCredential',
      reason: 'workload identity federation through the Azure DevOps service connection',
    };
  if (r.getFederatedToken && r.tenantId && r.clientId)
    return {
      method: 'wif',
      kind: 'ClientAssertionCredential',
      reason: 'workload identity federation with the GitHub OIDC token (requested again on every refresh)',
    };
  if (r.federatedTokenFile && r.tenantId && r.clientId)
    return {
      method: 'wif',
      kind: 'WorkloadIdentityCredential',
      reason: 'workload identity federation with AZURE_FEDERATED_TOKEN_FILE',
    };
  return undefined;
}

/** Which credential to build, following the documented order or the override. Pure: no network. */
export function chooseAzureAuth(source: AzureAuthSource = {}, env: NodeJS.ProcessEnv = process.env): AzureAuthChoice {
  const r = resolve(source, env);
  if (r.override) {
    if (!METHODS.includes(r.override as AzureAuthMethod)) {
      throw ConfigError.at(
        { file: 'LLMOPS_AZURE_AUTH / input "azure-auth"' },
        `found ${JSON.stringify(r.override)}, expected one of: auto, ${METHODS.join(', ')}`,
      );
    }
    return forced(r.override as AzureAuthMethod, r);
  }
  const wif = federated(r);
  if (wif) return wif;
  if (r.clientSecret && r.tenantId && r.clientId)
    return {
      method: 'secret',
      kind: 'ClientSecretCredential',
      reason: 'service principal secret (AZURE_CLIENT_SECRET)',
    };
  if (r.platformIdentity)
    return { method: 'msi', kind: 'ManagedIdentityCredential', reason: 'managed identity of this machine' };
  return {
    method: 'cli',
    kind: 'AzureCliCredential',
    reason: 'the Azure CLI signed-in account (no federation, secret or managed identity found)',
  };
}

function forced(method: AzureAuthMethod, r: Resolved): AzureAuthChoice {
  const missing = (what: string) =>
    ConfigError.at({ file: 'LLMOPS_AZURE_AUTH / input "azure-auth"' }, `"${method}" needs ${what}`);
  switch (method) {
    case 'wif': {
      const wif = federated(r);
      if (!wif)
        throw missing(
          'a federated token: an Azure DevOps WIF service connection, the GitHub OIDC token (permissions: id-token: write) or AZURE_FEDERATED_TOKEN_FILE, plus AZURE_TENANT_ID and AZURE_CLIENT_ID',
        );
      return wif;
    }
    case 'secret':
      if (!(r.clientSecret && r.tenantId && r.clientId))
        throw missing('AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET');
      return { method, kind: 'ClientSecretCredential', reason: 'service principal secret (forced)' };
    case 'msi':
      return { method, kind: 'ManagedIdentityCredential', reason: 'managed identity (forced)' };
    case 'cli':
      return { method, kind: 'AzureCliCredential', reason: 'the Azure CLI signed-in account (forced)' };
  }
}

/** Build the chosen credential. Tokens are requested lazily, on the first `getToken`. */
export async function createAzureCredential(
  source: AzureAuthSource = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ credential: TokenCredential; choice: AzureAuthChoice }> {
  const choice = chooseAzureAuth(source, env);
  const r = resolve(source, env);
  const id = await import('@azure/identity');
  const options = r.authorityHost ? { authorityHost: r.authorityHost, disableInstanceDiscovery: true } : {};
  const tenant = r.tenantId ?? '';
  const client = r.clientId ?? '';
  let credential: TokenCredential;
  switch (choice.kind) {
    case 'AzurePipelinesCredential':
      credential = new id.AzurePipelinesCredential(
        tenant,
        client,
        r.azurePipelines!.serviceConnectionId,
        r.azurePipelines!.systemAccessToken,
        options,
      );
      break;
    case 'ClientAssertionCredential':
      credential = new id.ClientAssertionCredential(tenant, client, r.getFederatedToken!, options);
      break;
    case 'WorkloadIdentityCredential':
      credential = new id.WorkloadIdentityCredential({
        ...options,
        tenantId: tenant,
        clientId: client,
        tokenFilePath: r.federatedTokenFile,
      });
      break;
    case 'ClientSecretCredential':
      credential = new id.ClientSecretCredential(tenant, client, r.clientSecret!, options);
      break;
    case 'ManagedIdentityCredential':
      credential = r.clientId
        ? new id.ManagedIdentityCredential({ clientId: r.clientId })
        : new id.ManagedIdentityCredential();
      break;
    case 'AzureCliCredential':
      credential = new id.AzureCliCredential(r.tenantId ? { tenantId: r.tenantId } : {});
      break;
  }
  return { credential, choice };
}
