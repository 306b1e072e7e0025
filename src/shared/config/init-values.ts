/**
 * `init:` of a flow in experiment.yaml: the constructor arguments of a flex class flow. A value of the
 * exact form `${x}` is read from the environment the way the seed template reads a class flow's
 * init values — `<PARENT>_<KEY>` for a nested key (`model_config.api_key` → MODEL_CONFIG_API_KEY),
 * `<KEY>` at the top — else from the variable `x` itself (as environment/env.yaml does);
 * `${env:VAR}` reads VAR. Resolved values are secrets (masked); an unset variable is an error.
 */
import type { Problem } from '../errors.js';
import { locate, type PathSegment, type SourceFile } from '../source.js';
import type { Environment } from './environment.js';

const envReference = /^\$\{env:([^{}]+)\}$/;
const placeholder = /^\$\{([^{}:]+)\}$/;

export function resolveInit(
  init: Record<string, unknown>,
  source: SourceFile,
  at: PathSegment[],
  env: Environment,
  problems: Problem[],
  secrets: Set<string>,
): Record<string, unknown> {
  const resolveValue = (value: unknown, keys: string[]): unknown => {
    if (Array.isArray(value)) return value.map((v, i) => resolveValue(v, [...keys, String(i)]));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, resolveValue(v, [...keys, k])]),
      );
    }
    if (typeof value !== 'string') return value;
    const candidates = variablesFor(value.trim(), keys);
    if (!candidates) return value;
    for (const name of candidates) {
      const found = env.get(name);
      if (found !== undefined && found !== '') {
        secrets.add(found);
        return found;
      }
    }
    const where: PathSegment[] = [...at, ...keys.map((k) => (/^\d+$/.test(k) ? Number(k) : k))];
    problems.push({
      ...locate(source, where),
      message: `${[...at, ...keys].join('.')}: ${candidates.length > 1 ? `none of the environment variables ${candidates.join(', ')} is set` : `environment variable ${candidates[0]} is not set`} (needed for the placeholder ${value.trim()}); set it in your CI secrets or in .env at the repository root`,
    });
    return value;
  };
  return resolveValue(init, []) as Record<string, unknown>;
}

/** The variables a placeholder may be read from, in order; undefined for a plain value. */
function variablesFor(text: string, keys: string[]): string[] | undefined {
  const env = envReference.exec(text);
  if (env) return [env[1].trim()];
  const m = placeholder.exec(text);
  if (!m) return undefined;
  const byPosition = keys
    .filter((k) => !/^\d+$/.test(k))
    .join('_')
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, '_');
  const own = m[1].trim();
  return [...new Set([byPosition, own].filter(Boolean))];
}
