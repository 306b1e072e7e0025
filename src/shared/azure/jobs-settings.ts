/**
 * The `azure:` settings of cloud execution: the CLI image the jobs run, how many lines a shard gets, the
 * compute, and which workspace connection backs each of the experiment's connections. Problems are named at
 * their file:line:column (exit 2) before anything is submitted.
 * @module
 */
import type { UseCase } from '../config/types.js';
import { ConfigError, type Problem } from '../errors.js';

export interface CloudSettings {
  /** Image reference of our CLI (built from docker/cli.Dockerfile), run by every job. */
  image: string;
  /** Lines of the plan per shard (one job each); default 1000. */
  linesPerShard: number;
  /** Most shards of one plan; default 64. */
  maxShards: number;
  /** Lines in flight in each job; undefined: the experiment's concurrency divided among the shards. */
  concurrencyPerShard?: number;
  /** Compute cluster or Kubernetes compute; undefined: serverless. */
  compute?: string;
  instanceType?: string;
  /**
   * Experiment connection → workspace connection name (default: the same name, unless keyVaultSecrets is set);
   * a model pool (`endpoints:`) → one workspace connection per endpoint, in the endpoints' order.
   */
  connections: Record<string, string | string[]>;
  /** True when `azure.connections` was given. */
  connectionsMapped: boolean;
  /** Placeholder variable → Key Vault secret URI, read by the job with its identity. */
  keyVaultSecrets: Record<string, string>;
}

export function cloudSettings(
  useCase: Pick<UseCase, 'azure' | 'locationOf' | 'variable' | 'connections'>,
): CloudSettings {
  const raw = (useCase.azure ?? {}) as Record<string, unknown>;
  const problems: Problem[] = [];
  const at = (key: string) => useCase.locationOf(key ? ['azure', key] : ['azure']);
  const text = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined || v === null || v === '') return undefined;
    const s = String(v);
    const placeholder = /^\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(s.trim());
    if (!placeholder) return s;
    const resolved = useCase.variable(placeholder[1]);
    if (resolved === undefined)
      problems.push({
        ...at(key),
        message: `azure.${key}: environment variable ${placeholder[1]} is not set (needed for ${s})`,
      });
    return resolved;
  };
  const whole = (key: string, fallback: number): number => {
    const s = text(key);
    if (s === undefined) return fallback;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1)
      problems.push({ ...at(key), message: `azure.${key}: found ${JSON.stringify(s)}, expected a whole number >= 1` });
    return n;
  };
  const image = text('image');
  if (!image)
    problems.push({
      ...at(''),
      message:
        'azure.image: missing, expected the image reference of the llmops CLI (built from docker/cli.Dockerfile and pushed to a registry the workspace can pull from) that cloud jobs run',
    });
  const connections: Record<string, string | string[]> = {};
  const mapped = raw.connections;
  if (mapped !== undefined && mapped !== null) {
    if (typeof mapped !== 'object' || Array.isArray(mapped))
      problems.push({
        ...at('connections'),
        message: 'azure.connections: expected a mapping of connection name → workspace connection name',
      });
    else
      for (const [name, target] of Object.entries(mapped as Record<string, unknown>)) {
        if (!useCase.connections.some((c) => c.name === name))
          problems.push({
            ...useCase.locationOf(['azure', 'connections', name]),
            message: `azure.connections.${name}: not a connection of the experiment, expected one of ${useCase.connections.map((c) => c.name).join(', ') || '(none)'}`,
          });
        const pool = useCase.connections.find((c) => c.name === name)?.endpoints;
        if (Array.isArray(target)) {
          if (!pool || target.length !== pool.length || target.some((t) => typeof t !== 'string' || !t))
            problems.push({
              ...useCase.locationOf(['azure', 'connections', name]),
              message: pool
                ? `azure.connections.${name}: found a list of ${target.length}, expected one workspace connection name per endpoint of the pool (${pool.length}, in order)`
                : `azure.connections.${name}: found a list, expected one workspace connection name (${name} is not a model pool)`,
            });
          connections[name] = target.map(String);
        } else connections[name] = String(target);
      }
  }
  const keyVaultSecrets: Record<string, string> = {};
  const kv = raw.key_vault_secrets;
  if (kv !== undefined && kv !== null) {
    if (typeof kv !== 'object' || Array.isArray(kv))
      problems.push({
        ...at('key_vault_secrets'),
        message: 'azure.key_vault_secrets: expected a mapping of variable name → https://<vault>/secrets/<name>',
      });
    else
      for (const [variable, uri] of Object.entries(kv as Record<string, unknown>)) {
        const text = String(uri);
        let ok = false;
        try {
          const u = new URL(text);
          ok = u.protocol === 'https:' && /^\/secrets\/[^/]+(\/[^/]+)?\/?$/.test(u.pathname);
        } catch {
          ok = false;
        }
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable) || !ok)
          problems.push({
            ...useCase.locationOf(['azure', 'key_vault_secrets', variable]),
            message: `azure.key_vault_secrets.${variable}: found ${JSON.stringify(text)}, expected a variable name mapped to https://<vault>.vault.azure.net/secrets/<name>[/<version>]`,
          });
        keyVaultSecrets[variable] = text;
      }
  }
  const settings: CloudSettings = {
    image: image ?? '',
    linesPerShard: whole('lines_per_shard', 1000),
    maxShards: whole('max_shards', 64),
    concurrencyPerShard: text('concurrency_per_shard') === undefined ? undefined : whole('concurrency_per_shard', 1),
    compute: text('compute'),
    instanceType: text('instance_type'),
    connections,
    connectionsMapped: mapped !== undefined && mapped !== null,
    keyVaultSecrets,
  };
  if (problems.length) throw new ConfigError(problems);
  return settings;
}
