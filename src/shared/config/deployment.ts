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
  return config;
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
}

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
  };
}

/** One `kubernetes` entry (any cluster, Gateway API), typed; defaults filled in. */
export interface KubernetesEntry {
  index: number;
  file: string;
  name: string;
  namespace: string;
  gateway: { name: string; namespace: string; sectionName?: string };
  host?: string;
  url?: string;
  image?: string;
  replicas: number;
  containerPort: number;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  /** CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION: the new colour's final share; default 100. */
  currentTraffic: number;
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
    replicas: num('REPLICAS', 1),
    containerPort: num('CONTAINER_PORT', 8080),
    resources: {
      requests: quantities('CPU_REQUEST', 'MEMORY_REQUEST'),
      limits: quantities('CPU_LIMIT', 'MEMORY_LIMIT'),
    },
    currentTraffic: num('CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION', 100),
    rolloutTimeoutSeconds: num('ROLLOUT_TIMEOUT_SECONDS', 300),
    environmentVariables: Object.fromEntries(
      Object.entries((e.ENVIRONMENT_VARIABLES ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    ),
    testFile: str('TEST_FILE_PATH'),
  };
}
