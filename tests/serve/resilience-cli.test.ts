/**
 * `llmops flow serve` takes the cache, shedding and fallback settings from flags or from the environment a
 * deployment sets (LLMOPS_SERVE_*): bad values exit 2 naming the variable; good ones reach the running server.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { startModelServer } from '../../src/model-server/index.js';
import { degradeFromEnv, serveCacheFromEnv } from '../../src/shared/serve/index.js';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { FIX, post } from './helpers.js';

const cli = path.resolve('dist/cli.js');

function problem(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map(formatProblem).join('\n');
    throw e;
  }
  return '';
}

test('settings from the environment: defaults, and each bad value named', () => {
  expect(serveCacheFromEnv({})).toBeUndefined();
  expect(serveCacheFromEnv({ LLMOPS_SERVE_CACHE: 'memory', LLMOPS_SERVE_CACHE_TTL: '30' })).toEqual({
    ttlSeconds: 30,
    maxEntries: undefined,
    maxBytes: undefined,
    redisUrl: undefined,
  });
  expect(
    serveCacheFromEnv({ LLMOPS_SERVE_CACHE: 'redis', LLMOPS_SERVE_CACHE_REDIS_URL: 'redis://cache:6379' })?.redisUrl,
  ).toBe('redis://cache:6379');
  expect(problem(() => serveCacheFromEnv({ LLMOPS_SERVE_CACHE: 'disk' }))).toBe(
    'LLMOPS_SERVE_CACHE: found "disk", expected memory, redis or off',
  );
  expect(problem(() => serveCacheFromEnv({ LLMOPS_SERVE_CACHE: 'redis' }))).toMatch(
    /^LLMOPS_SERVE_CACHE_REDIS_URL: is not set/,
  );
  expect(problem(() => serveCacheFromEnv({ LLMOPS_SERVE_CACHE: 'on', LLMOPS_SERVE_CACHE_TTL: '-1' }))).toBe(
    'LLMOPS_SERVE_CACHE_TTL: found "-1", expected a number above 0',
  );
  expect(degradeFromEnv({ LLMOPS_SERVE_MAX_IN_FLIGHT: '64', LLMOPS_SERVE_FALLBACK: '{"answer":"later"}' })).toEqual({
    fallback: { answer: 'later' },
    maxInFlight: 64,
    retryAfterSeconds: undefined,
  });
  expect(problem(() => degradeFromEnv({ LLMOPS_SERVE_MAX_IN_FLIGHT: '2.5' }))).toBe(
    'LLMOPS_SERVE_MAX_IN_FLIGHT: found "2.5", expected a whole number above 0',
  );
  expect(problem(() => degradeFromEnv({ LLMOPS_SERVE_FALLBACK: '["x"]' }))).toBe(
    "LLMOPS_SERVE_FALLBACK: expected a JSON object of the flow's outputs",
  );
});

test('flow serve with a bad setting exits 2 before listening', () => {
  const r = spawnSync(process.execPath, [cli, 'flow', 'serve', `${FIX}/echo`, '--port', '0', '--cache', 'disk'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('LLMOPS_SERVE_CACHE: error: found "disk", expected memory, redis or off');
});

test('flow serve --cache memory --fallback: the second request is a hit; an unreachable model gets the fallback', async () => {
  const model = await startModelServer();
  const env = { ...process.env, CONN_API_KEY: 'k' };
  const child = spawn(
    process.execPath,
    [cli, 'flow', 'serve', `${FIX}/chat`, '--port', '0', '--cache', 'memory', '--fallback', '{"answer":"later"}'],
    {
      env: { ...env, AZURE_OPENAI_ENDPOINT: model.url, AZURE_OPENAI_API_KEY: 'k' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /"msg":"listening","url":"([^"]+)"/.exec(err);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`flow serve exited ${code}: ${err}`)));
    });
    const body = JSON.stringify({ question: 'cached?' });
    const headers = { 'content-type': 'application/json' };
    expect((await post(`${url}/score`, body, headers)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    const again = await fetch(`${url}/score`, { method: 'POST', body, headers });
    expect(again.headers.get('x-llmops-cache')).toBe('hit');
    expect(model.stats().byEndpoint.chat).toBe(1);
    await model.close();
    const fallback = await post(`${url}/score`, JSON.stringify({ question: 'model gone' }), headers);
    expect(fallback.status).toBe(200);
    expect(fallback.json()).toEqual({ answer: 'later', llmops_degraded: 'models' });
  } finally {
    child.kill('SIGTERM');
    await model.close().catch(() => undefined);
  }
});
