/**
 * Connections of experiment.yaml (seed template §2.2) with their `${x}` placeholders resolved
 * from `<CONNECTION>_<X>`. Every resolved or secret value is collected for masking.
 */
import type { Problem } from '../errors.js';
import { ENDPOINT_URL_FIELDS, endpointUrlProblem } from '../llm/endpoint-url.js';
import { locate, type PathSegment, type SourceFile } from '../source.js';
import { connectionVariable, type Environment, placeholderName } from './environment.js';
import { closest } from './schema-check.js';

export type ConnectionValue = string | number | boolean;

/** A connection as the engine uses it (Prompt Flow's runtime shape, promptflow-formats.md §3.2). */
export interface Connection {
  name: string;
  /** Class name, e.g. AzureOpenAIConnection. */
  type: string;
  /** Configs and secrets flattened. */
  value: Record<string, ConnectionValue>;
  secretKeys: string[];
  /**
   * A model pool: the endpoints/deployments that answer for this connection (llm/pool.ts). Absent for a
   * connection with one endpoint. `value` then holds the first endpoint's values (what Python code receives).
   */
  endpoints?: PoolEndpoint[];
}

/** One endpoint of a pooled connection: its own type, URL and secret, its share and its rank. */
export interface PoolEndpoint {
  type: string;
  value: Record<string, ConnectionValue>;
  /** Share of traffic among endpoints of the same priority (> 0). Default 1. */
  weight: number;
  /** Lower is tried first; higher ones serve while all lower ones are out. Default 1. */
  priority: number;
  /**
   * Field → the environment variable its `${...}` placeholder reads (names only, never values): where a cloud job
   * puts the values of the endpoint's own workspace connection (azure/jobs-connections.ts).
   */
  variables?: Record<string, string>;
}

/**
 * A pooled connection: each endpoint takes the connection's own fields (api_version, …) unless it sets them, and
 * the connection's `value` is its most preferred endpoint's (what Python code that reads the connection sees).
 */
export function pooledConnection(
  name: string,
  type: string,
  shared: Record<string, ConnectionValue>,
  secretKeys: string[],
  endpoints: PoolEndpoint[],
): Connection {
  const full = endpoints.map((e) => ({ ...e, value: { ...shared, ...e.value } }));
  const first = full.reduce((a, b) => (b.priority < a.priority ? b : a));
  return { name, type, value: { ...first.value }, secretKeys, endpoints: full };
}

/** The secret values of connections (every endpoint's of a pool too): what must never be written out. */
export function connectionSecrets(connections: Iterable<Connection>): string[] {
  const out = new Set<string>();
  for (const c of connections)
    for (const value of [c.value, ...(c.endpoints ?? []).map((e) => e.value)])
      for (const key of c.secretKeys) if (value[key] !== undefined && value[key] !== '') out.add(String(value[key]));
  return [...out];
}

const MODEL_CONNECTION_TYPES = new Set(['AzureOpenAIConnection', 'OpenAIConnection', 'ServerlessConnection']);
/** The connection-file spellings of those types. */
const TYPE_ALIASES: Record<string, string> = {
  azure_open_ai: 'AzureOpenAIConnection',
  open_ai: 'OpenAIConnection',
  serverless: 'ServerlessConnection',
};

/**
 * Checks and builds a connection's `endpoints` list. `field` resolves one value (placeholders, URL checks,
 * secrets) into the map it is given; problems are reported at the entry's own line.
 */
export function poolEndpointsOf(
  raw: unknown,
  connectionType: string,
  at: (path: PathSegment[]) => { file: string; line?: number; column?: number },
  base: PathSegment[],
  field: (into: Record<string, ConnectionValue>, key: string, v: unknown, path: PathSegment[]) => void,
  problems: Problem[],
): PoolEndpoint[] | undefined {
  const label = base
    .map(String)
    .join('.')
    .replace(/\.(\d+)\./g, '[$1].');
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.push({
      ...at(base),
      message: `${label}: expected a list of one or more endpoints (mappings with api_base/base_url, api_key, weight, priority)`,
    });
    return undefined;
  }
  const out: PoolEndpoint[] = [];
  raw.forEach((item, i) => {
    const path = [...base, i];
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      problems.push({ ...at(path), message: `${label}[${i}]: expected a mapping, found ${JSON.stringify(item)}` });
      return;
    }
    const entry = item as Record<string, unknown>;
    const given = entry.connection_type ?? entry.type ?? connectionType;
    const type = typeof given === 'string' ? (TYPE_ALIASES[given] ?? given) : given;
    if (typeof type !== 'string' || !MODEL_CONNECTION_TYPES.has(type)) {
      problems.push({
        ...at([...path, entry.connection_type !== undefined ? 'connection_type' : 'type']),
        message: `${label}[${i}]: found connection type ${JSON.stringify(given)}, expected one of ${[...MODEL_CONNECTION_TYPES].join(', ')}`,
      });
      return;
    }
    let weight = 1;
    let priority = 1;
    const value: Record<string, ConnectionValue> = {};
    for (const [key, v] of Object.entries(entry)) {
      if (key === 'connection_type' || key === 'type') continue;
      if (key === 'weight') {
        if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
          problems.push({
            ...at([...path, key]),
            message: `${label}[${i}].weight: found ${JSON.stringify(v)}, expected a number above 0`,
          });
        else weight = v;
      } else if (key === 'priority') {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
          problems.push({
            ...at([...path, key]),
            message: `${label}[${i}].priority: found ${JSON.stringify(v)}, expected a whole number 0 or more (lower is tried first)`,
          });
        else priority = v;
      } else if (v !== null && typeof v === 'object') {
        problems.push({
          ...at([...path, key]),
          message: `${label}[${i}].${key}: found a ${Array.isArray(v) ? 'list' : 'mapping'}, expected a text value`,
        });
      } else field(value, key, v, [...path, key]);
    }
    out.push({ type, value, weight, priority });
  });
  return out;
}

const secretFieldNames = new Set(['api_key', 'key', 'secret', 'password', 'token', 'connection_string']);

/** Fields of Prompt Flow's connection classes: a key one or two letters away from one of them is a typo. */
const connectionFields = [
  'api_key',
  'api_base',
  'api_type',
  'api_version',
  'auth_mode',
  'base_url',
  'organization',
  'endpoint',
  'resource_id',
  'configs',
  'secrets',
  'endpoints',
];

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
    let into = value;
    // Of each pool endpoint (by its value map): field → the variable its placeholder reads.
    const endpointVariables = new Map<Record<string, ConnectionValue>, Record<string, string>>();
    const resolve = (key: string, v: unknown, path: PathSegment[], secret: boolean) => {
      const variable = placeholderName(v);
      let resolved: ConnectionValue | undefined = v as ConnectionValue;
      if (variable !== undefined) {
        const envName = connectionVariable(name, variable);
        if (into !== value) endpointVariables.set(into, { ...endpointVariables.get(into), [key]: envName });
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
      into[key] = resolved;
      if (secret) {
        if (!secretKeys.includes(key)) secretKeys.push(key);
        secrets.add(String(resolved));
      }
    };
    let endpoints: PoolEndpoint[] | undefined;
    for (const [key, v] of Object.entries(entry)) {
      if (key === 'name' || key === 'connection_type') continue;
      if (key === 'endpoints' && modelConnection) {
        endpoints = poolEndpointsOf(
          v,
          type,
          (path) => locate(source, path),
          ['connections', index, 'endpoints'],
          (target, k, inner, path) => {
            into = target;
            resolve(k, inner, path, secretFieldNames.has(k) || /key|secret|password|token/i.test(k));
            into = value;
          },
          problems,
        );
        for (const e of endpoints ?? []) {
          const variables = endpointVariables.get(e.value);
          if (variables) e.variables = variables;
        }
        continue;
      }
      const typo =
        connectionFields.includes(key) || secretFieldNames.has(key) ? undefined : closest(key, connectionFields);
      if (typo) {
        // The template passes every key to the connection class, which refuses an unknown one.
        problems.push({
          ...locate(source, ['connections', index, key], 'key'),
          message: `connections[${index}].${key}: unknown key for ${type}; did you mean "${typo}"?`,
        });
        continue;
      }
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
    if (endpoints && endpoints.length > 0) out.push(pooledConnection(name, type, value, secretKeys, endpoints));
    else out.push({ name, type, value, secretKeys });
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
