/**
 * The `azure:` settings of experiment.yaml (and its env overlay), resolved: `${VAR}` placeholders read
 * the way every step reads a variable, the cloud's endpoints filled in, every problem named at its
 * file:line:column (exit 2) before anything talks to Azure.
 * @module
 */
import type { UseCase } from '../config/types.js';
import { ConfigError, type Problem } from '../errors.js';
import { CLOUD_NAMES, CLOUDS, type CloudName } from './clouds.js';

export interface AzureSettings {
  subscriptionId: string;
  resourceGroup: string;
  workspace: string;
  cloud: CloudName;
  /** Resource Manager endpoint (the cloud's, or `resource_manager_endpoint`), without a trailing slash. */
  resourceManager: string;
  /** Entra authority host (the cloud's, or `authority_host`). */
  authorityHost: string;
  /** True when `authority_host` was given: the credential then skips Entra instance discovery. */
  customAuthority: boolean;
  storageSuffix: string;
  /** Datastore for uploads; undefined: the workspace's default datastore. */
  datastore?: string;
  /** Blob service URL of the datastore's account, overriding `https://<account>.blob.<suffix>`. */
  blobEndpoint?: string;
  compute?: string;
  instanceType?: string;
}

type Raw = Record<string, unknown>;

/** True when the use case has an `azure:` block that names a workspace (the steps then use Azure ML). */
export function hasAzureWorkspace(useCase: Pick<UseCase, 'azure'>): boolean {
  return Boolean(useCase.azure && Object.keys(useCase.azure).length > 0);
}

/**
 * Resolve the `azure:` block; `what` names the step that needs it, for the message when it is absent. Targets
 * outside Azure ML (Container Apps) pass `needsWorkspace: false`: subscription and resource group are enough.
 */
export function azureSettings(
  useCase: Pick<UseCase, 'azure' | 'locationOf' | 'variable'>,
  what: string,
  options: { needsWorkspace?: boolean } = {},
): AzureSettings {
  const raw = (useCase.azure ?? {}) as Raw;
  const problems: Problem[] = [];
  const at = (key: string) => useCase.locationOf(key ? ['azure', key] : ['azure']);
  const value = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined || v === null || v === '') return undefined;
    const text = String(v);
    const placeholder = /^\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(text.trim());
    if (!placeholder) return text;
    const resolved = useCase.variable(placeholder[1]);
    if (resolved === undefined)
      problems.push({
        ...at(key),
        message: `azure.${key}: environment variable ${placeholder[1]} is not set (needed for ${text}); set it in your CI variables or in .env at the repository root`,
      });
    return resolved;
  };
  const required = (key: string): string => {
    const v = value(key);
    if (v === undefined && raw[key] === undefined)
      problems.push({ ...at(''), message: `azure.${key}: missing, expected the Azure ML ${label[key]} (${what})` });
    return v ?? '';
  };
  const url = (key: string): string | undefined => {
    const v = value(key);
    if (v === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      problems.push({ ...at(key), message: `azure.${key}: found ${JSON.stringify(v)}, expected an https:// URL` });
      return undefined;
    }
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
    if (parsed.protocol !== 'https:' && !(key === 'blob_endpoint' && loopback))
      problems.push({
        ...at(key),
        message: `azure.${key}: found ${JSON.stringify(v)}, expected an https:// URL (tokens are never sent over plain http)`,
      });
    return v.replace(/\/+$/, '');
  };

  const subscriptionId = required('subscription_id');
  const resourceGroup = required('resource_group');
  const workspace = options.needsWorkspace === false ? (value('workspace') ?? '') : required('workspace');
  const cloudName = value('cloud') ?? 'AzurePublicCloud';
  if (!CLOUD_NAMES.includes(cloudName as CloudName))
    problems.push({
      ...at('cloud'),
      message: `azure.cloud: found ${JSON.stringify(cloudName)}, expected one of ${CLOUD_NAMES.join(', ')}`,
    });
  const cloud = CLOUDS[cloudName as CloudName] ?? CLOUDS.AzurePublicCloud;
  const resourceManager = url('resource_manager_endpoint');
  const authorityHost = url('authority_host');
  const blobEndpoint = url('blob_endpoint');
  if (problems.length) throw new ConfigError(problems);
  return {
    subscriptionId,
    resourceGroup,
    workspace,
    cloud: cloudName as CloudName,
    resourceManager: resourceManager ?? cloud.resourceManager,
    authorityHost: authorityHost ?? cloud.authorityHost,
    customAuthority: authorityHost !== undefined,
    storageSuffix: cloud.storageSuffix,
    datastore: value('datastore'),
    blobEndpoint,
    compute: value('compute'),
    instanceType: value('instance_type'),
  };
}

const label: Record<string, string> = {
  subscription_id: 'subscription id',
  resource_group: 'resource group',
  workspace: 'workspace name',
};
