/** smoke-test against an endpoint that is gone: an outside failure (exit 3), not invalid input (exit 2). */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { ConfigError, exitCodeOf, ServiceError } from '../../src/shared/errors.js';
import { deploymentName, writeState } from '../../src/shared/deploy/state.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { smokeTestStep } from '../../src/shared/steps/smoke-test.js';
import { baseEnv, makeUseCase } from '../helpers/use-case-dir.js';

const uc = makeUseCase({ 'sample-request.json': '{"question": "hello"}\n' });
const config = path.join(uc.dir, 'experiment.yaml');
const stateDir = path.join(uc.dir, '.llmops');
const saved = { ...process.env };
beforeAll(() => Object.assign(process.env, baseEnv));
afterAll(() => {
  uc.cleanup();
  for (const k of Object.keys(baseEnv)) if (saved[k] === undefined) delete process.env[k];
});

const run = (inputs: Partial<Parameters<typeof smokeTestStep.run>[0]>) =>
  smokeTestStep
    .run({ config, stateDir, junitFile: path.join(uc.dir, 'smoke.xml'), ...inputs }, new MemoryHost())
    .catch((e: unknown) => e);

test('no deployment recorded and no endpoint: invalid input, exit 2', async () => {
  const e = await run({});
  expect(e).toBeInstanceOf(ConfigError);
  expect(exitCodeOf(e)).toBe(2);
});

test('a recorded local deployment whose server died: exit 3 naming the deployment, at once', async () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.pid'], { stdio: 'ignore' }).pid!;
  const useCase = loadUseCase({ configPath: config, host: new MemoryHost() });
  const dep = deploymentName(useCase.name, useCase.envName);
  const instance = {
    slot: 'blue' as const,
    pid: dead,
    port: 1,
    url: 'http://127.0.0.1:1',
    flow: 'f',
    variant: {},
    startedAt: new Date().toISOString(),
    logFile: 'x.log',
  };
  writeState(stateDir, { name: dep, target: 'local', live: instance, updatedAt: new Date().toISOString() });
  const started = performance.now();
  const e = await run({});
  expect(performance.now() - started).toBeLessThan(2000);
  expect(e).toBeInstanceOf(ServiceError);
  expect(exitCodeOf(e)).toBe(3);
  expect((e as Error).message).toBe(
    `smoke test: local deployment ${dep} is recorded at http://127.0.0.1:1 (${path.join(stateDir, 'deploy', `${dep}.json`)}), but its server (pid ${dead}) is not running; deploy again or pass --endpoint`,
  );
});

test('an endpoint that refuses connections past the warm-up: exit 3', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const started = performance.now();
  const e = await run({ endpoint: `http://127.0.0.1:${port}`, warmupSeconds: 1 });
  expect(performance.now() - started).toBeLessThan(4000);
  expect(exitCodeOf(e)).toBe(3);
  expect((e as Error).message).toMatch(/did not answer within 1 s \(last: ECONNREFUSED\)/);
});
