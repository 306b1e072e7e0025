/**
 * Connections of experiment.yaml (seed template §2.2) with their `${x}` placeholders resolved
 * from `<CONNECTION>_<X>`. Every resolved or secret value is collected for masking.
 */
import type { Problem } from '../errors.js';
import { ENDPOINT_URL_FIELDS, endpointUrlProblem } from '../llm/endpoint-url.js';
import { locate, type PathSegment, type SourceFile } from '../source.js';
import { connectionVariable, type Environment, placeholderName } from './environment.js';

export type ConnectionValue = string | number | boolean;

/** A connection as the engine uses it (Prompt Flow's runtime shape, promptflow-formats.md §3.2). */
export interface Connection {
  name: string;
  /** Class name, e.g. AzureOpenAIConnection. */
  type: string;
  /** Configs and secrets flattened. */
  value: Record<string, ConnectionValue>;
  secretKeys: string[];
}

const secretFieldNames = new Set(['api_key', 'key', 'secret', 'password', 'token', 'connection_string']);

export function resolveConnections(
  raw: unknown[],
  source: SourceFile,
  env: Environment,
  problems: Problem[],
  secrets: Set<string>,
): Connection[] {
  const out: Connection[] = [];
  raw.forEach((item, index) => {
    const entry = item as Record<string, unknown>;
    const name = String(entry.name);
    const type = String(entry.connection_type);
    const modelConnection = /openai|open_ai|serverless/i.test(type);
    const value: Record<string, ConnectionValue> = {};
    const secretKeys: string[] = [];
    const resolve = (key: string, v: unknown, path: PathSegment[], secret: boolean) => {
      const variable = placeholderName(v);
      let resolved: ConnectionValue | undefined = v as ConnectionValue;
      if (variable !== undefined) {
        const envName = connectionVariable(name, variable);
        resolved = env.get(envName);
        if (resolved === undefined || resolved === '') {
          if (env.unset?.(envName)) return;
          problems.push({
            ...locate(source, path),
            message: `connections[${index}].${path.slice(2).join('.')}: environment variable ${envName} is ${resolved === '' ? 'empty' : 'not set'} (needed for the placeholder \${${variable}}); set it in your CI secrets or in .env at the repository root`,
          });
          return;
        }
        secret = true; // anything read from the environment may be a secret: mask it
      }
      if (resolved === null || resolved === undefined) return;
      const badUrl =
        modelConnection && ENDPOINT_URL_FIELDS.has(key)
          ? endpointUrlProblem(resolved, variable === undefined)
          : undefined;
      if (badUrl)
        problems.push({
          ...locate(source, path),
          message: `connections[${index}].${path.slice(2).join('.')}: ${badUrl}${variable !== undefined ? ` (from ${connectionVariable(name, variable)})` : ''}`,
        });
      value[key] = resolved;
      if (secret) {
        secretKeys.push(key);
        secrets.add(String(resolved));
      }
    };
    for (const [key, v] of Object.entries(entry)) {
      if (key === 'name' || key === 'connection_type') continue;
      const nested = v !== null && typeof v === 'object' && !Array.isArray(v);
      if (nested && (key.includes('configs') || key.includes('secrets'))) {
        for (const [k, inner] of Object.entries(v as Record<string, unknown>)) {
          resolve(k, inner, ['connections', index, key, k], key.includes('secrets'));
        }
      } else {
        resolve(
          key,
          v,
          ['connections', index, key],
          secretFieldNames.has(key) || /key|secret|password|token/i.test(key),
        );
      }
    }
    out.push({ name, type, value, secretKeys });
  });
  return out;
}

/** The variables the environment fallback reads, in the order it tries them (said when none is set; never their values). */
export const fallbackVariables = {
  azure: ['AZURE_OPENAI_ENDPOINT', 'AZURE_OPENAI_API_KEY'],
  openai: ['OPENAI_API_KEY'],
} as const;

/**
 * `AzureOpenAIConnection.from_env()` / `OpenAIConnection.from_env()`: the connection a flow's name stands
 * for when the experiment does not define it. Undefined when the variables are not set.
 */
export function environmentConnection(
  get: (variable: string) => string | undefined,
  name: string,
): Connection | undefined {
  const endpoint = get('AZURE_OPENAI_ENDPOINT');
  const azureKey = get('AZURE_OPENAI_API_KEY');
  if (endpoint && azureKey) {
    return {
      name,
      type: 'AzureOpenAIConnection',
      value: {
        api_base: endpoint,
        api_key: azureKey,
        api_type: 'azure',
        api_version: get('OPENAI_API_VERSION') ?? '2024-02-01',
      },
      secretKeys: ['api_key'],
    };
  }
  const openaiKey = get('OPENAI_API_KEY');
  if (openaiKey) {
    const value: Record<string, ConnectionValue> = { api_key: openaiKey };
    const baseUrl = get('OPENAI_BASE_URL');
    const organization = get('OPENAI_ORG_ID');
    if (baseUrl) value.base_url = baseUrl;
    if (organization) value.organization = organization;
    return { name, type: 'OpenAIConnection', value, secretKeys: ['api_key'] };
  }
  return undefined;
}

/**
 * The one way a connection name becomes a connection, at load and at run time alike: the
 * experiment's own connection of that name, else the environment's (environmentConnection).
 */
export function resolveConnectionName(
  name: string,
  defined: readonly Connection[],
  get: (variable: string) => string | undefined,
): Connection | undefined {
  return defined.find((c) => c.name === name) ?? environmentConnection(get, name);
}

export function describeFallback(): string {
  return `${fallbackVariables.azure.join(' and ')}, or ${fallbackVariables.openai.join('')}`;
}
