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

/** Experiment connection name → workspace connection name, from `azure.connections` and the experiment's connections. */
export function connectionMap(names: string[], configured: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, configured[n] ?? n]));
}

/**
 * Reads every mapped workspace connection (POST connections/{name}/listsecrets) and returns the variables its
 * values fill: `<CONN>_API_KEY`/`_KEY` from the key, `<CONN>_API_BASE`/`_ENDPOINT` from the target, and each
 * metadata entry as `<CONN>_<ENTRY>`. Every value is told to `mask`.
 */
export async function workspaceConnectionVariables(
  ws: MlWorkspace,
  map: Record<string, string>,
  mask: (secret: string) => void,
): Promise<Record<string, string>> {
  const vars: Record<string, string> = {};
  for (const [connection, wsName] of Object.entries(map)) {
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
    const prefix = connection.toUpperCase().replace(/[^A-Z0-9]/g, '_');
    const key = p.credentials?.key ?? Object.values(p.credentials?.keys ?? {})[0];
    if (key) {
      mask(key);
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
