/**
 * The serving resilience settings from the environment, so a deployment opts in through its environment
 * variables (deployment_config.json) the same way on every target: the response cache (`LLMOPS_SERVE_CACHE`),
 * load shedding (`LLMOPS_SERVE_MAX_IN_FLIGHT`) and the fallback answer (`LLMOPS_SERVE_FALLBACK`). Bad values are
 * ConfigErrors naming the variable.
 * @module
 */
import { ConfigError } from '../errors.js';
import type { ServeCacheOptions } from './cache.js';
import type { DegradeOptions } from './degrade.js';

function positive(env: Record<string, string | undefined>, name: string, whole: boolean): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (whole && !Number.isInteger(n)))
    throw ConfigError.at(
      { file: name },
      `found ${JSON.stringify(text)}, expected a ${whole ? 'whole ' : ''}number above 0`,
    );
  return n;
}

/**
 * `LLMOPS_SERVE_CACHE`: `memory` (or `on`/`true`/`1`) or `redis` (with `LLMOPS_SERVE_CACHE_REDIS_URL`); unset,
 * empty or `off`: no cache. `LLMOPS_SERVE_CACHE_TTL` (seconds, default 300), `LLMOPS_SERVE_CACHE_MAX_ENTRIES`,
 * `LLMOPS_SERVE_CACHE_MAX_BYTES`.
 */
export function serveCacheFromEnv(
  env: Record<string, string | undefined> = process.env,
): ServeCacheOptions | undefined {
  const mode = (env.LLMOPS_SERVE_CACHE ?? '').trim().toLowerCase();
  if (mode === '' || mode === 'off' || mode === 'false' || mode === '0') return undefined;
  const redisUrl = env.LLMOPS_SERVE_CACHE_REDIS_URL?.trim() || undefined;
  if (!['memory', 'redis', 'on', 'true', '1'].includes(mode))
    throw ConfigError.at(
      { file: 'LLMOPS_SERVE_CACHE' },
      `found ${JSON.stringify(env.LLMOPS_SERVE_CACHE)}, expected memory, redis or off`,
    );
  if (mode === 'redis' && !redisUrl)
    throw ConfigError.at(
      { file: 'LLMOPS_SERVE_CACHE_REDIS_URL' },
      'is not set; LLMOPS_SERVE_CACHE=redis needs the redis:// or rediss:// URL of the shared store',
    );
  if (redisUrl && !/^rediss?:\/\/[^\s]+$/.test(redisUrl))
    throw ConfigError.at({ file: 'LLMOPS_SERVE_CACHE_REDIS_URL' }, 'expected a redis:// or rediss:// URL');
  return {
    ttlSeconds: positive(env, 'LLMOPS_SERVE_CACHE_TTL', false),
    maxEntries: positive(env, 'LLMOPS_SERVE_CACHE_MAX_ENTRIES', true),
    maxBytes: positive(env, 'LLMOPS_SERVE_CACHE_MAX_BYTES', true),
    redisUrl: mode === 'memory' ? undefined : redisUrl,
  };
}

/**
 * `LLMOPS_SERVE_MAX_IN_FLIGHT` (503 beyond), `LLMOPS_SERVE_RETRY_AFTER` (seconds, default 1) and
 * `LLMOPS_SERVE_FALLBACK` (a JSON object of outputs answered when the models cannot answer).
 */
export function degradeFromEnv(env: Record<string, string | undefined> = process.env): DegradeOptions {
  let fallback: Record<string, unknown> | undefined;
  const text = env.LLMOPS_SERVE_FALLBACK?.trim();
  if (text) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw ConfigError.at(
        { file: 'LLMOPS_SERVE_FALLBACK' },
        `found invalid JSON (${(e as Error).message}), expected a JSON object of the flow's outputs`,
      );
    }
    if (!v || typeof v !== 'object' || Array.isArray(v))
      throw ConfigError.at({ file: 'LLMOPS_SERVE_FALLBACK' }, "expected a JSON object of the flow's outputs");
    fallback = v as Record<string, unknown>;
  }
  return {
    fallback,
    maxInFlight: positive(env, 'LLMOPS_SERVE_MAX_IN_FLIGHT', true),
    retryAfterSeconds: positive(env, 'LLMOPS_SERVE_RETRY_AFTER', true),
  };
}

/**
 * The answers given instead of the flow's (the fallback, the guards' refusal output) must use the flow's own
 * output names: a misspelt one would send clients an answer without the field they read. Flows that declare
 * no outputs (flex flows typed by their code) are not checked.
 */
export function checkStandInOutputs(
  outputs: readonly string[],
  fallback: Record<string, unknown> | undefined,
  refusalOutput: string | undefined,
): void {
  if (outputs.length === 0) return;
  const expected = `expected outputs of the flow: ${outputs.join(', ')}`;
  const unknown = Object.keys(fallback ?? {}).filter((k) => !outputs.includes(k));
  if (unknown.length)
    throw ConfigError.at({ file: 'LLMOPS_SERVE_FALLBACK' }, `found ${unknown.join(', ')}, ${expected}`);
  if (refusalOutput !== undefined && !outputs.includes(refusalOutput))
    throw ConfigError.at({ file: 'guards' }, `refusal_output: found ${JSON.stringify(refusalOutput)}, ${expected}`);
}
