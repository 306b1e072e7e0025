/**
 * Connections inside a cloud job: the job definition names, for each connection of the experiment, the
 * Azure ML workspace connection that holds its values (`azure.connections`, default the same name); the
 * job reads that connection's secrets with its own identity and sets, in its own process only, the
 * variables the experiment's `${...}` placeholders read (`<CONNECTION>_<FIELD>`). No key is ever part of
 * the job definition.
 * @module
 */
import { ServiceError } from '../errors.js';
import type { MlWorkspace } from './workspace.js';

/** Variable of a job's definition naming the workspace connection of each experiment connection (JSON). */
export const WORKSPACE_CONNECTIONS_VARIABLE = 'LLMOPS_WORKSPACE_CONNECTIONS';

interface WorkspaceConnection {
  properties?: {
    authType?: string;
    category?: string;
    target?: string;
    credentials?: { key?: string; keys?: Record<string, string> };
    metadata?: Record<string, string>;
  };
}

/**
 * Experiment connection name → workspace connection name (a pool: one per endpoint), from `azure.connections` and
 * the experiment's connections.
 */
export function connectionMap(
  names: string[],
  configured: Record<string, string | string[]> = {},
): Record<string, string | string[]> {
  return Object.fromEntries(names.map((n) => [n, configured[n] ?? n]));
}

/** Where one endpoint of a pool reads each field: field → the variable its placeholder names (config/connections.ts). */
export type EndpointVariables = Record<string, string>;

/**
 * Reads every mapped workspace connection (POST connections/{name}/listsecrets) and returns the variables its
 * values fill: `<CONN>_API_KEY`/`_KEY` from the key, `<CONN>_API_BASE`/`_ENDPOINT` from the target, and each
 * metadata entry as `<CONN>_<ENTRY>`. Every value is told to `mask`.
 */
export async function workspaceConnectionVariables(
  ws: MlWorkspace,
  map: Record<string, string | string[]>,
  mask: (secret: string) => void,
  pools: Record<string, EndpointVariables[]> = {},
): Promise<Record<string, string>> {
  const vars: Record<string, string> = {};
  for (const [connection, mapped] of Object.entries(map)) {
    if (Array.isArray(mapped)) {
      const endpoints = pools[connection];
      if (!endpoints || endpoints.length !== mapped.length)
        throw new ServiceError(
          `Azure ML: connection ${connection}: ${mapped.length} workspace connections named for ${endpoints?.length ?? 0} pool endpoints; expected one per endpoint`,
        );
      for (let i = 0; i < mapped.length; i++)
        Object.assign(vars, endpointVariables(await readConnection(ws, connection, mapped[i], mask), endpoints[i]));
      continue;
    }
    const p = await readConnection(ws, connection, mapped, mask);
    const prefix = connection.toUpperCase().replace(/[^A-Z0-9]/g, '_');
    const key = p.credentials?.key ?? Object.values(p.credentials?.keys ?? {})[0];
    if (key) {
      vars[`${prefix}_API_KEY`] = key;
      vars[`${prefix}_KEY`] = key;
    }
    if (p.target) {
      vars[`${prefix}_API_BASE`] = p.target;
      vars[`${prefix}_ENDPOINT`] = p.target;
    }
    for (const [k, v] of Object.entries(p.metadata ?? {}))
      vars[`${prefix}_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = v;
  }
  return vars;
}

/**
 * One pool endpoint's values from its workspace connection, under the variables its own placeholders name: the key
 * fills `api_key`/`key`, the target `api_base`/`base_url`/`endpoint`, each metadata entry the field of its name.
 */
function endpointVariables(
  p: NonNullable<WorkspaceConnection['properties']>,
  fields: EndpointVariables,
): Record<string, string> {
  const key = p.credentials?.key ?? Object.values(p.credentials?.keys ?? {})[0];
  const values: Record<string, string | undefined> = {
    ...Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    api_key: key,
    key,
    api_base: p.target,
    base_url: p.target,
    endpoint: p.target,
  };
  const vars: Record<string, string> = {};
  for (const [field, variable] of Object.entries(fields)) {
    const v = values[field.toLowerCase()];
    if (v !== undefined) vars[variable] = v;
  }
  return vars;
}

/** A workspace connection's properties, its secrets included (listsecrets); every secret is told to `mask`. */
async function readConnection(
  ws: MlWorkspace,
  connection: string,
  wsName: string,
  mask: (secret: string) => void,
): Promise<NonNullable<WorkspaceConnection['properties']>> {
  const r = await ws.client.request<WorkspaceConnection>(
    'POST',
    `${ws.id}/connections/${encodeURIComponent(wsName)}/listsecrets`,
    {
      what: `read workspace connection "${wsName}" (for connection ${connection})`,
      role: 'Azure Machine Learning Workspace Connection Secrets Reader on the workspace (for the job identity)',
      accept: [404],
    },
  );
  if (r.status === 404)
    throw new ServiceError(
      `Azure ML: connection ${connection}: workspace connection "${wsName}" not found in workspace ${ws.settings.workspace}; create it or map the connection in azure.connections`,
      404,
    );
  const p = r.body.properties ?? {};
  for (const key of [p.credentials?.key, ...Object.values(p.credentials?.keys ?? {})]) if (key) mask(key);
  return p;
}

/** Variable of a job's definition naming the Key Vault secret of each placeholder variable (JSON). */
export const KEY_VAULT_SECRETS_VARIABLE = 'LLMOPS_KEY_VAULT_SECRETS';

/** Token audience of Key Vault in each cloud (the vault's own host name is not the audience). */
const KEY_VAULT_AUDIENCE: Record<string, string> = {
  AzurePublicCloud: 'https://vault.azure.net',
  AzureChinaCloud: 'https://vault.azure.cn',
  AzureUSGovernment: 'https://vault.usgovcloudapi.net',
};

/**
 * Reads each referenced Key Vault secret (`https://<vault>/secrets/<name>[/<version>]`) with the job's
 * credential and returns variable → value; every value is told to `mask`.
 */
export async function keyVaultVariables(
  ws: MlWorkspace,
  references: Record<string, string>,
  mask: (secret: string) => void,
): Promise<Record<string, string>> {
  const { ArmClient } = await import('./arm-client.js');
  const audience = KEY_VAULT_AUDIENCE[ws.settings.cloud] ?? KEY_VAULT_AUDIENCE.AzurePublicCloud;
  const vars: Record<string, string> = {};
  const clients = new Map<string, InstanceType<typeof ArmClient>>();
  for (const [variable, uri] of Object.entries(references)) {
    const u = new URL(uri);
    let client = clients.get(u.origin);
    if (!client) {
      client = new ArmClient({
        endpoint: u.origin,
        credential: ws.credential,
        scope: `${audience}/.default`,
        apiVersion: '7.5',
        role: 'Key Vault Secrets User on the vault (for the job identity)',
      });
      clients.set(u.origin, client);
    }
    const r = await client.get<{ value?: string }>(u.pathname, {
      what: `read Key Vault secret ${uri} (for ${variable})`,
    });
    if (typeof r.body?.value !== 'string')
      throw new ServiceError(`Key Vault: secret ${uri} (for ${variable}) has no value`);
    mask(r.body.value);
    vars[variable] = r.body.value;
  }
  return vars;
}
