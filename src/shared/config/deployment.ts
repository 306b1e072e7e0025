/**
 * configs/deployment_config.json and configs/dataops_config.json (seed template §3, §5):
 * schema plus the rules a schema cannot say (traffic adding up to 100, files that must exist).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Problem } from '../errors.js';
import { locate, type SourceFile } from '../source.js';
import { checkSchema } from './schema-check.js';

export const deploymentTargets = [
  'azure_managed_endpoint',
  'kubernetes_endpoint',
  'webapp_endpoint',
  'kubernetes',
] as const;

export function checkDeployment(
  source: SourceFile,
  baseDir: string,
  problems: Problem[],
  display: (p: string) => string,
): Record<string, unknown[]> | undefined {
  const schemaProblems = checkSchema('deployment_config', source.value, () => source);
  problems.push(...schemaProblems);
  if (schemaProblems.length > 0) return undefined;
  const config = source.value as Record<string, Record<string, unknown>[]>;
  for (const target of deploymentTargets) {
    (config[target] ?? []).forEach((entry, i) => {
      const where = `${target}[${i}]`;
      const current = entry.CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION;
      // The template ships "" for a first deployment: no prior deployment, not a 0% one.
      const prior =
        entry.PRIOR_DEPLOYMENT_TRAFFIC_ALLOCATION === '' ? undefined : entry.PRIOR_DEPLOYMENT_TRAFFIC_ALLOCATION;
      if (current !== undefined && prior !== undefined && Number(current) + Number(prior) !== 100) {
        problems.push({
          ...locate(source, [target, i, 'PRIOR_DEPLOYMENT_TRAFFIC_ALLOCATION']),
          message: `${where}: CURRENT (${current}) + PRIOR (${prior}) traffic adds up to ${Number(current) + Number(prior)}, expected 100`,
        });
      }
      if (prior !== undefined && Number(prior) > 0 && !entry.PRIOR_DEPLOYMENT_NAME) {
        problems.push({
          ...locate(source, [target, i, 'PRIOR_DEPLOYMENT_TRAFFIC_ALLOCATION']),
          message: `${where}: PRIOR traffic is ${prior}% but PRIOR_DEPLOYMENT_NAME is missing, expected the deployment that keeps that traffic`,
        });
      }
      if (entry.PRIOR_DEPLOYMENT_NAME && entry.PRIOR_DEPLOYMENT_NAME === entry.CURRENT_DEPLOYMENT_NAME) {
        problems.push({
          ...locate(source, [target, i, 'PRIOR_DEPLOYMENT_NAME']),
          message: `${where}.PRIOR_DEPLOYMENT_NAME: "${entry.PRIOR_DEPLOYMENT_NAME}" is also the current deployment, expected another deployment (or remove it)`,
        });
      }
      const testFile = entry.TEST_FILE_PATH;
      if (typeof testFile === 'string' && !existsSync(path.resolve(baseDir, testFile))) {
        problems.push({
          ...locate(source, [target, i, 'TEST_FILE_PATH']),
          message: `${where}.TEST_FILE_PATH: file not found: ${display(path.resolve(baseDir, testFile))}`,
        });
      }
    });
  }
  checkContainerApps(source, config, problems);
  checkBuildRegistry(source, config, problems);
  return config;
}

/** A registry's resource group alone builds nothing: the targets that build an image need its name too. */
function checkBuildRegistry(
  source: SourceFile,
  config: Record<string, Record<string, unknown>[]>,
  problems: Problem[],
) {
  for (const target of ['kubernetes', 'container_app_endpoint'])
    (config[target] ?? []).forEach((e, i) => {
      if (e.REGISTRY_RG_NAME !== undefined && !e.REGISTRY_NAME)
        problems.push({
          ...locate(source, [target, i, 'REGISTRY_RG_NAME']),
          message: `${target}[${i}].REGISTRY_RG_NAME: found it without REGISTRY_NAME; expected REGISTRY_NAME (the Azure Container Registry that builds the image) beside it, or no REGISTRY_RG_NAME`,
        });
    });
}

/** What the schema cannot say about `container_app_endpoint` entries. */
function checkContainerApps(
  source: SourceFile,
  config: Record<string, Record<string, unknown>[]>,
  problems: Problem[],
) {
  (config.container_app_endpoint ?? []).forEach((e, i) => {
    const where = `container_app_endpoint[${i}]`;
    const at = (key: string) => locate(source, ['container_app_endpoint', i, ...(key ? [key] : [])]);
    if (!e.ENVIRONMENT_ID && !e.ENVIRONMENT_NAME)
      problems.push({
        ...at(''),
        message: `${where}: found neither ENVIRONMENT_ID nor ENVIRONMENT_NAME; expected the managed environment the app runs in`,
      });
    if (e.ENVIRONMENT_ID && e.ENVIRONMENT_NAME)
      problems.push({
        ...at('ENVIRONMENT_NAME'),
        message: `${where}: found both ENVIRONMENT_ID and ENVIRONMENT_NAME; expected one of them`,
      });
    if (e.MIN_REPLICAS !== undefined && e.MAX_REPLICAS !== undefined && Number(e.MIN_REPLICAS) > Number(e.MAX_REPLICAS))
      problems.push({
        ...at('MAX_REPLICAS'),
        message: `${where}.MAX_REPLICAS: ${String(e.MAX_REPLICAS)} is below MIN_REPLICAS ${String(e.MIN_REPLICAS)}; expected at least MIN_REPLICAS`,
      });
    const secrets = (e.SECRETS ?? {}) as Record<string, string>;
    for (const [name, ref] of Object.entries((e.SECRET_ENVIRONMENT_VARIABLES ?? {}) as Record<string, string>))
      if (!(ref in secrets))
        problems.push({
          ...locate(source, ['container_app_endpoint', i, 'SECRET_ENVIRONMENT_VARIABLES', name]),
          message: `${where}.SECRET_ENVIRONMENT_VARIABLES.${name}: secret "${ref}" is not in SECRETS; expected one of: ${Object.keys(secrets).join(', ') || 'none (add it to SECRETS with its Key Vault URL)'}`,
        });
    for (const name of Object.keys((e.ENVIRONMENT_VARIABLES ?? {}) as object))
      if (name in ((e.SECRET_ENVIRONMENT_VARIABLES ?? {}) as object))
        problems.push({
          ...locate(source, ['container_app_endpoint', i, 'ENVIRONMENT_VARIABLES', name]),
          message: `${where}.ENVIRONMENT_VARIABLES.${name}: also set in SECRET_ENVIRONMENT_VARIABLES; expected it in one of them`,
        });
  });
}

export function checkDataops(
  source: SourceFile,
  repositoryRoot: string,
  problems: Problem[],
): Record<string, unknown> | undefined {
  const schemaProblems = checkSchema('dataops_config', source.value, () => source);
  problems.push(...schemaProblems);
  if (schemaProblems.length > 0) return undefined;
  const config = source.value as Record<string, Record<string, unknown>>;
  const codeDir = config.PATH?.DATA_PIPELINE_CODE_DIR;
  if (typeof codeDir === 'string' && !existsSync(path.resolve(repositoryRoot, codeDir))) {
    problems.push({
      ...locate(source, ['PATH', 'DATA_PIPELINE_CODE_DIR']),
      message: `PATH.DATA_PIPELINE_CODE_DIR: folder not found: ${codeDir} (relative to the repository root)`,
    });
  }
  return config;
}

/** PROMOTE_WHEN, PROMOTE_LOG, PROMOTE_MARGIN, PROMOTE_MIN_REQUESTS of an entry: the promotion gate's settings. */
export interface PromoteSettings {
  when?: 'better' | 'not-worse';
  log?: string;
  margin?: string;
  minRequests?: number;
}

function promoteSettings(e: Record<string, unknown>): PromoteSettings | undefined {
  const str = (k: string) => (e[k] === undefined || e[k] === '' ? undefined : String(e[k]));
  const out: PromoteSettings = {};
  if (str('PROMOTE_WHEN')) out.when = str('PROMOTE_WHEN') as PromoteSettings['when'];
  if (str('PROMOTE_LOG')) out.log = str('PROMOTE_LOG');
  if (str('PROMOTE_MARGIN')) out.margin = str('PROMOTE_MARGIN');
  if (str('PROMOTE_MIN_REQUESTS')) out.minRequests = Number(e.PROMOTE_MIN_REQUESTS);
  return Object.keys(out).length ? out : undefined;
}

/** One `azure_managed_endpoint` / `kubernetes_endpoint` entry, typed (the schema has checked the shapes). */
export interface AzureEndpointEntry {
  array: 'azure_managed_endpoint' | 'kubernetes_endpoint';
  index: number;
  endpointName: string;
  endpointDescription?: string;
  deploymentDescription?: string;
  currentName: string;
  /** CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION; default 100. */
  currentTraffic: number;
  priorName?: string;
  priorTraffic?: number;
  vmSize?: string;
  instanceCount: number;
  environmentVariables: Record<string, string>;
  computeName?: string;
  cpu?: string;
  memory?: string;
  testFile?: string;
  /** MIRROR_TRAFFIC_PERCENT: a mirror stage before any live traffic (managed endpoints). */
  mirrorPercent?: number;
  /** MAX_ERROR_RATE / MAX_P95_LATENCY_MS: limits of the new deployment's figures at each stage. */
  maxErrorRate?: number;
  maxP95Ms?: number;
  /** APP_INSIGHTS_ENABLED. */
  appInsights?: boolean;
  /** AUTH_MODE of a new endpoint, as the API spells it. */
  authMode?: 'Key' | 'AMLToken' | 'AADToken';
  promote?: PromoteSettings;
}

/** AUTH_MODE as written in the template's configs (key, aml_token, aad_token) or as the API spells it. */
const AUTH_MODES: Record<string, 'Key' | 'AMLToken' | 'AADToken' | undefined> = {
  key: 'Key',
  amltoken: 'AMLToken',
  aadtoken: 'AADToken',
};

/**
 * The entry of `array` for the env (ENV_NAME); a missing one is a ConfigError naming the file and what exists.
 * Kubernetes entries must name their attached compute.
 */
export function azureEndpointEntry(
  deployment: Record<string, unknown[]> | undefined,
  array: AzureEndpointEntry['array'],
  envName: string | undefined,
  file: string,
): AzureEndpointEntry {
  const entries = (deployment?.[array] ?? []) as Record<string, unknown>[];
  const index = entries.findIndex((e) => envName === undefined || e.ENV_NAME === envName);
  if (index < 0)
    throw ConfigError.at(
      { file },
      `found no ${array} entry for ENV_NAME ${envName ?? '(any)'}; expected one (entries: ${entries.map((e) => String(e.ENV_NAME)).join(', ') || 'none'})`,
    );
  const e = entries[index];
  const str = (k: string) => (e[k] === undefined || e[k] === '' ? undefined : String(e[k]));
  if (array === 'kubernetes_endpoint' && !str('COMPUTE_NAME'))
    throw ConfigError.at(
      { file },
      `${array}[${index}]: COMPUTE_NAME is missing; expected the Kubernetes compute attached to the workspace`,
    );
  return {
    array,
    index,
    endpointName: String(e.ENDPOINT_NAME),
    endpointDescription: str('ENDPOINT_DESC'),
    deploymentDescription: str('DEPLOYMENT_DESC'),
    currentName: String(e.CURRENT_DEPLOYMENT_NAME),
    currentTraffic: str('CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION')
      ? Number(e.CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION)
      : 100,
    priorName: str('PRIOR_DEPLOYMENT_NAME'),
    priorTraffic: str('PRIOR_DEPLOYMENT_TRAFFIC_ALLOCATION')
      ? Number(e.PRIOR_DEPLOYMENT_TRAFFIC_ALLOCATION)
      : undefined,
    vmSize: str('DEPLOYMENT_VM_SIZE'),
    instanceCount: str('DEPLOYMENT_INSTANCE_COUNT') ? Number(e.DEPLOYMENT_INSTANCE_COUNT) : 1,
    environmentVariables: Object.fromEntries(
      Object.entries((e.ENVIRONMENT_VARIABLES ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    ),
    computeName: str('COMPUTE_NAME'),
    cpu: str('CPU_ALLOCATION'),
    memory: str('MEMORY_ALLOCATION'),
    testFile: str('TEST_FILE_PATH'),
    mirrorPercent: str('MIRROR_TRAFFIC_PERCENT') ? Number(e.MIRROR_TRAFFIC_PERCENT) : undefined,
    maxErrorRate: str('MAX_ERROR_RATE') ? Number(e.MAX_ERROR_RATE) : undefined,
    maxP95Ms: str('MAX_P95_LATENCY_MS') ? Number(e.MAX_P95_LATENCY_MS) : undefined,
    appInsights: str('APP_INSIGHTS_ENABLED') ? String(e.APP_INSIGHTS_ENABLED) === 'true' : undefined,
    authMode:
      AUTH_MODES[
        String(e.AUTH_MODE ?? '')
          .toLowerCase()
          .replace(/_/g, '')
      ],
    promote: promoteSettings(e),
  };
}

/** One `webapp_endpoint` entry (App Service, Linux container), typed (the schema has checked the shapes). */
export interface WebAppEntry {
  /** The promotion gate's settings (PROMOTE_*). */
  promote?: PromoteSettings;
  index: number;
  webAppName: string;
  resourceGroup: string;
  /** Deployment slot the new image goes to first (SLOT_NAME, default staging). */
  slot: string;
  registryName: string;
  registryResourceGroup: string;
  appPlanName: string;
  sku?: string;
  /** Connections whose `<NAME>_API_KEY` the app reads (from Key Vault). */
  connectionNames: string[];
  image?: string;
  keyVaultName?: string;
  userManagedIdentity?: string;
  environmentVariables: Record<string, string>;
  testFile?: string;
}

/** The `webapp_endpoint` entry for the env (ENV_NAME); a missing one is a ConfigError naming the file. */
export function webAppEntry(
  deployment: Record<string, unknown[]> | undefined,
  envName: string | undefined,
  file: string,
): WebAppEntry {
  const entries = (deployment?.webapp_endpoint ?? []) as Record<string, unknown>[];
  const index = entries.findIndex((e) => envName === undefined || e.ENV_NAME === envName);
  if (index < 0)
    throw ConfigError.at(
      { file },
      `found no webapp_endpoint entry for ENV_NAME ${envName ?? '(any)'}; expected one (entries: ${entries.map((e) => String(e.ENV_NAME)).join(', ') || 'none'})`,
    );
  const e = entries[index];
  const str = (k: string) => (e[k] === undefined || e[k] === '' ? undefined : String(e[k]));
  const slot = str('SLOT_NAME') ?? 'staging';
  if (slot.toLowerCase() === 'production')
    throw ConfigError.at(
      { file },
      `webapp_endpoint[${index}].SLOT_NAME: found "production"; expected a deployment slot other than production (e.g. staging)`,
    );
  return {
    index,
    webAppName: String(e.WEB_APP_NAME),
    resourceGroup: String(e.WEB_APP_RG_NAME),
    slot,
    registryName: String(e.REGISTRY_NAME),
    registryResourceGroup: str('REGISTRY_RG_NAME') ?? String(e.WEB_APP_RG_NAME),
    appPlanName: String(e.APP_PLAN_NAME),
    sku: str('WEB_APP_SKU'),
    connectionNames: ((e.CONNECTION_NAMES ?? []) as unknown[]).map(String),
    image: str('IMAGE'),
    keyVaultName: str('KEY_VAULT_NAME'),
    userManagedIdentity: str('USER_MANAGED_ID'),
    environmentVariables: Object.fromEntries(
      Object.entries((e.ENVIRONMENT_VARIABLES ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    ),
    testFile: str('TEST_FILE_PATH'),
    promote: promoteSettings(e),
  };
}

/** One `container_app_endpoint` entry, typed (the schema and checkDeployment have checked the shapes). */
export interface ContainerAppEntry {
  /** The promotion gate's settings (PROMOTE_*). */
  promote?: PromoteSettings;
  index: number;
  appName: string;
  /** Undefined: the `azure:` block's resource group. */
  resourceGroup?: string;
  environmentId?: string;
  environmentName?: string;
  location?: string;
  image?: string;
  registryServer?: string;
  /** REGISTRY_NAME: the Azure Container Registry that builds the image when none is given. */
  registryName?: string;
  /** REGISTRY_RG_NAME; undefined: the app's resource group. */
  registryResourceGroup?: string;
  identity?: string;
  cpu: number;
  memory: string;
  minReplicas: number;
  maxReplicas: number;
  targetPort: number;
  currentTraffic: number;
  revisionSuffix: 'content-hash' | 'unique';
  keep?: number;
  environmentVariables: Record<string, string>;
  /** Container-app secret name → Key Vault secret URL. */
  secrets: Record<string, string>;
  /** Environment variable → container-app secret name. */
  secretEnvironmentVariables: Record<string, string>;
  testFile?: string;
}

/** The `container_app_endpoint` entry for the env (ENV_NAME); a missing one names the file and what exists. */
export function containerAppEntry(
  deployment: Record<string, unknown[]> | undefined,
  envName: string | undefined,
  file: string,
): ContainerAppEntry {
  const entries = (deployment?.container_app_endpoint ?? []) as Record<string, unknown>[];
  const index = entries.findIndex((e) => envName === undefined || e.ENV_NAME === envName);
  if (index < 0)
    throw ConfigError.at(
      { file },
      `found no container_app_endpoint entry for ENV_NAME ${envName ?? '(any)'}; expected one (entries: ${entries.map((e) => String(e.ENV_NAME)).join(', ') || 'none'})`,
    );
  const e = entries[index];
  const str = (k: string) => (e[k] === undefined || e[k] === '' ? undefined : String(e[k]));
  const num = (k: string, fallback: number) => (str(k) === undefined ? fallback : Number(e[k]));
  const record = (k: string) =>
    Object.fromEntries(Object.entries((e[k] ?? {}) as Record<string, unknown>).map(([n, v]) => [n, String(v)]));
  return {
    index,
    promote: promoteSettings(e),
    appName: String(e.CONTAINER_APP_NAME),
    resourceGroup: str('CONTAINER_APP_RG_NAME'),
    environmentId: str('ENVIRONMENT_ID'),
    environmentName: str('ENVIRONMENT_NAME'),
    location: str('LOCATION'),
    image: str('IMAGE'),
    registryServer: str('REGISTRY_SERVER'),
    registryName: str('REGISTRY_NAME'),
    registryResourceGroup: str('REGISTRY_RG_NAME') ?? str('CONTAINER_APP_RG_NAME'),
    identity: str('USER_MANAGED_ID'),
    cpu: num('CPU', 0.5),
    memory: str('MEMORY') ?? '1Gi',
    minReplicas: num('MIN_REPLICAS', 1),
    maxReplicas: num('MAX_REPLICAS', Math.max(3, num('MIN_REPLICAS', 1))),
    targetPort: num('TARGET_PORT', 8080),
    currentTraffic: num('CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION', 100),
    revisionSuffix: str('REVISION_SUFFIX') === 'unique' ? 'unique' : 'content-hash',
    keep: str('KEEP_REVISIONS') === undefined ? undefined : Number(e.KEEP_REVISIONS),
    environmentVariables: record('ENVIRONMENT_VARIABLES'),
    secrets: record('SECRETS'),
    secretEnvironmentVariables: record('SECRET_ENVIRONMENT_VARIABLES'),
    testFile: str('TEST_FILE_PATH'),
  };
}

/** One `kubernetes` entry (any cluster, Gateway API), typed; defaults filled in. */
export interface KubernetesEntry {
  /** The promotion gate's settings (PROMOTE_*). */
  promote?: PromoteSettings;
  index: number;
  file: string;
  name: string;
  namespace: string;
  gateway: { name: string; namespace: string; sectionName?: string };
  host?: string;
  url?: string;
  image?: string;
  /** REGISTRY_NAME: the Azure Container Registry that builds the image when none is given. */
  registryName?: string;
  /** REGISTRY_RG_NAME; undefined: the `azure:` block's resource group. */
  registryResourceGroup?: string;
  replicas: number;
  containerPort: number;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  /** CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION: the new colour's final share; default 100. */
  currentTraffic: number;
  /** MIRROR_TRAFFIC_PERCENT: a mirror stage (a RequestMirror filter) before any live traffic. */
  mirrorPercent?: number;
  rolloutTimeoutSeconds: number;
  environmentVariables: Record<string, string>;
  testFile?: string;
}

/** The `kubernetes` entry for the env (ENV_NAME); a missing one is a ConfigError naming the file and what exists. */
export function kubernetesEntry(
  deployment: Record<string, unknown[]> | undefined,
  envName: string | undefined,
  file: string,
): KubernetesEntry {
  const entries = (deployment?.kubernetes ?? []) as Record<string, unknown>[];
  const index = entries.findIndex((e) => envName === undefined || e.ENV_NAME === envName);
  if (index < 0)
    throw ConfigError.at(
      { file },
      `found no kubernetes entry for ENV_NAME ${envName ?? '(any)'}; expected one (entries: ${entries.map((e) => String(e.ENV_NAME)).join(', ') || 'none'})`,
    );
  const e = entries[index];
  const str = (k: string) => (e[k] === undefined || e[k] === '' ? undefined : String(e[k]));
  const num = (k: string, dflt: number) => (str(k) ? Number(e[k]) : dflt);
  const quantities = (cpu: string, memory: string) =>
    Object.fromEntries(
      [
        ['cpu', str(cpu)],
        ['memory', str(memory)],
      ].filter(([, v]) => v !== undefined) as [string, string][],
    );
  const namespace = String(e.NAMESPACE);
  return {
    index,
    promote: promoteSettings(e),
    file,
    name: String(e.NAME),
    namespace,
    gateway: {
      name: String(e.GATEWAY_NAME),
      namespace: str('GATEWAY_NAMESPACE') ?? namespace,
      sectionName: str('GATEWAY_SECTION_NAME'),
    },
    host: str('HOST'),
    url: str('URL')?.replace(/\/$/, ''),
    image: str('IMAGE'),
    registryName: str('REGISTRY_NAME'),
    registryResourceGroup: str('REGISTRY_RG_NAME'),
    replicas: num('REPLICAS', 1),
    containerPort: num('CONTAINER_PORT', 8080),
    resources: {
      requests: quantities('CPU_REQUEST', 'MEMORY_REQUEST'),
      limits: quantities('CPU_LIMIT', 'MEMORY_LIMIT'),
    },
    currentTraffic: num('CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION', 100),
    mirrorPercent: str('MIRROR_TRAFFIC_PERCENT') ? Number(e.MIRROR_TRAFFIC_PERCENT) : undefined,
    rolloutTimeoutSeconds: num('ROLLOUT_TIMEOUT_SECONDS', 300),
    environmentVariables: Object.fromEntries(
      Object.entries((e.ENVIRONMENT_VARIABLES ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    ),
    testFile: str('TEST_FILE_PATH'),
  };
}
