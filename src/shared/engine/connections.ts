/**
 * Where the engine's connections come from (promptflow-formats.md §3): Prompt Flow connection YAML files
 * (`--connections <file-or-folder>`, §3.1, with `${env:VAR}` resolved), the environment
 * (`AzureOpenAIConnection.from_env()` / `OpenAIConnection.from_env()`), or experiment.yaml (config/connections.ts).
 * All end up in the runtime shape `Connection` (§3.2).
 * @module
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  environmentConnection,
  poolEndpointsOf,
  pooledConnection,
  type Connection,
  type ConnectionValue,
  type PoolEndpoint,
} from '../config/connections.js';
import { ConfigError, type Problem } from '../errors.js';
import { locate, readSource } from '../source.js';
import { ENDPOINT_URL_FIELDS, endpointUrlProblem } from '../llm/endpoint-url.js';
import type { RuntimeConnection } from './python-worker/index.js';

const CLASS_OF: Record<string, string> = {
  azure_open_ai: 'AzureOpenAIConnection',
  open_ai: 'OpenAIConnection',
  serverless: 'ServerlessConnection',
  custom: 'CustomConnection',
  serp: 'SerpConnection',
  cognitive_search: 'CognitiveSearchConnection',
  azure_content_safety: 'AzureContentSafetyConnection',
  form_recognizer: 'FormRecognizerConnection',
  azure_ai_services: 'AzureAIServicesConnection',
  qdrant: 'QdrantConnection',
  weaviate: 'WeaviateConnection',
};
const DEFAULTS: Record<string, Record<string, string>> = {
  AzureOpenAIConnection: { api_type: 'azure', api_version: '2024-02-01' },
  CognitiveSearchConnection: { api_version: '2023-11-01' },
};
const META_KEYS = new Set(['$schema', 'name', 'type', 'module', 'configs', 'secrets', 'endpoints']);

/** Reads one connection YAML file (§3.1). `${env:VAR}` values are read from `env`; a missing variable is a ConfigError. */
export function loadConnectionFile(file: string, env: Record<string, string | undefined> = process.env): Connection {
  const source = readSource(resolve(file), file);
  const raw = source.value as Record<string, unknown> | null;
  const problems: Problem[] = [];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw ConfigError.at({ file }, 'expected a connection mapping with name and type');
  if (typeof raw.name !== 'string' || raw.name === '')
    problems.push({ ...locate(source, ['name']), message: 'expected a connection name (text)' });
  if (typeof raw.type !== 'string' || !(raw.type in CLASS_OF)) {
    problems.push({
      ...locate(source, ['type']),
      message: `found ${JSON.stringify(raw.type)}, expected one of ${Object.keys(CLASS_OF).join(', ')}`,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const type = CLASS_OF[raw.type as string];
  const value: Record<string, ConnectionValue> = { ...DEFAULTS[type] };
  const secretKeys: string[] = [];
  let into = value;
  const put = (key: string, v: unknown, path: (string | number)[], secret: boolean) => {
    if (v === null || v === undefined) return;
    let resolved: unknown = v;
    if (typeof v === 'string') {
      const m = /^\$\{env:([^}]+)\}$/.exec(v.trim());
      if (m) {
        resolved = env[m[1]];
        if (resolved === undefined) {
          problems.push({
            ...locate(source, path),
            message: `environment variable ${m[1]} is not set (needed for \${env:${m[1]}})`,
          });
          return;
        }
      }
    }
    const badUrl =
      /OpenAI|Serverless/.test(type) && ENDPOINT_URL_FIELDS.has(key)
        ? endpointUrlProblem(resolved, resolved === v)
        : undefined;
    if (badUrl) problems.push({ ...locate(source, path), message: `${key}: ${badUrl}` });
    into[key] = typeof resolved === 'object' ? JSON.stringify(resolved) : (resolved as ConnectionValue);
    if (secret && !secretKeys.includes(key)) secretKeys.push(key);
  };
  for (const [k, v] of Object.entries(raw)) if (!META_KEYS.has(k)) put(k, v, [k], k === 'api_key');
  for (const group of ['configs', 'secrets'] as const) {
    const g = raw[group];
    if (g && typeof g === 'object') for (const [k, v] of Object.entries(g)) put(k, v, [group, k], group === 'secrets');
  }
  let endpoints: PoolEndpoint[] | undefined;
  if (raw.endpoints !== undefined && /OpenAI|Serverless/.test(type))
    endpoints = poolEndpointsOf(
      raw.endpoints,
      type,
      (path) => locate(source, path),
      ['endpoints'],
      (target, k, v, path) => {
        into = target;
        put(k, v, path, k === 'api_key');
        into = value;
      },
      problems,
    );
  if (problems.length > 0) throw new ConfigError(problems);
  if (endpoints) return pooledConnection(raw.name as string, type, value, secretKeys, endpoints);
  return { name: raw.name as string, type, value, secretKeys };
}

/** A connection file, or every `*.yml`/`*.yaml` file of a folder (not recursive). */
export function loadConnections(path: string, env: Record<string, string | undefined> = process.env): Connection[] {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw ConfigError.at({ file: path }, 'no such connection file or folder');
  }
  const files = stats.isDirectory()
    ? readdirSync(path)
        .filter((f) => /\.ya?ml$/i.test(f))
        .sort()
        .map((f) => join(path, f))
    : [path];
  return files.map((f) => loadConnectionFile(f, env));
}

/** `AzureOpenAIConnection.from_env()` / `OpenAIConnection.from_env()`: undefined when the variables are not set. */
export function connectionFromEnv(
  env: Record<string, string | undefined> = process.env,
  name = 'from_env',
): Connection | undefined {
  return environmentConnection((variable) => env[variable], name);
}

/** The §3.2 form the Python worker takes. */
export function toRuntimeConnection(c: Connection): RuntimeConnection {
  return { type: c.type, module: 'promptflow.connections', value: { ...c.value }, secret_keys: [...c.secretKeys] };
}

/** Connections by name (a list, or already a map). */
export function connectionMap(
  list: readonly Connection[] | Record<string, Connection> | undefined,
): Record<string, Connection> {
  if (!list) return {};
  if (!Array.isArray(list)) return { ...(list as Record<string, Connection>) };
  const out: Record<string, Connection> = {};
  for (const c of list as Connection[]) out[c.name] = c;
  return out;
}
