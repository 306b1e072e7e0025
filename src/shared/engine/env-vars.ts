/**
 * A flow's `environment_variables` (promptflow-formats.md §1.1, §3.3): `${conn.key}` values resolved from the
 * connections, dict/list values encoded the way Python's `json.dumps` writes them (`", "` and `": "` separators,
 * non-ASCII escaped), others `str()`. They go into the Python workers' environment.
 * @module
 */
import type { Connection } from '../config/connections.js';
import { ConfigError } from '../errors.js';
import type { LoadedFlow } from '../flow/index.js';
import { pyJsonDumps, pyStr } from './template/index.js';

/**
 * `fallback` stands in for a connection name that is not defined, as it does for llm nodes (`flow test` with
 * only AZURE_OPENAI_* / OPENAI_* set in the environment).
 */
export function resolveEnvironmentVariables(
  flow: LoadedFlow,
  connections: Record<string, Connection>,
  overrides: Record<string, unknown> = {},
  fallback?: Connection,
): Record<string, string> {
  const declared = flow.kind === 'prompty' ? undefined : flow.environmentVariables;
  const merged: Record<string, unknown> = {
    ...(declared && typeof declared === 'object' ? declared : {}),
    ...overrides,
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'string') {
      const m = /^\$\{([^.}]+)\.([^}]+)\}$/.exec(v.trim());
      if (m && !m[1].startsWith('env:')) {
        const conn = connections[m[1]] ?? fallback;
        const value = conn?.value[m[2]];
        if (value === undefined)
          throw ConfigError.at(
            { file: flow.displayFile },
            `environment_variables.${k}: found ${v}, but connection ${JSON.stringify(m[1])} ${conn ? `has no key ${JSON.stringify(m[2])}` : 'is not defined'}`,
          );
        out[k] = String(value);
        continue;
      }
      out[k] = v;
    } else out[k] = typeof v === 'object' ? pyJsonDumps(v) : pyStr(v);
  }
  return out;
}
