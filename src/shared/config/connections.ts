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
          problems.push({
            ...locate(source, path),
            message: `connections[${index}].${path.slice(2).join('.')}: environment variable ${envName} is ${resolved === '' ? 'empty' : 'not set'} (needed for the placeholder \${${variable}}); set it in your CI secrets or in .env at the repository root`,
          });
          return;
        }
        secret = true; // anything read from the environment may be a secret: mask it
      }
      if (resolved === null || resolved === undefined) return;
      const badUrl = modelConnection && ENDPOINT_URL_FIELDS.has(key) ? endpointUrlProblem(resolved, variable === undefined) : undefined;
      if (badUrl) problems.push({ ...locate(source, path), message: `connections[${index}].${path.slice(2).join('.')}: ${badUrl}${variable !== undefined ? ` (from ${connectionVariable(name, variable)})` : ''}` });
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
        resolve(key, v, ['connections', index, key], secretFieldNames.has(key) || /key|secret|password|token/i.test(key));
      }
    }
    out.push({ name, type, value, secretKeys });
  });
  return out;
}
