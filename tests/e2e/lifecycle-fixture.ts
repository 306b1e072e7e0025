/**
 * What a packaged step needs before it can run on its own in an end-to-end test: a local model
 * server answering with the example's rules, and a store holding the earlier steps' results
 * (made by the same core steps, in process). Deployments started here are stopped by `stopAll`.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { stopLocalDeployment } from '../../src/shared/deploy/index.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { startModelServer } from '../../src/model-server/index.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { deployStep } from '../../src/shared/steps/deploy.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';

export const exampleConfig = path.resolve('examples/web_classification/experiment.yaml');
/** The CLI the deploy step starts servers with. */
export const cliForServers = path.resolve('dist/cli.js');

const deployments: { stateDir: string; name: string }[] = [];

/**
 * The example's model server, in this process, or in a child process when the test runs the
 * step with a blocking call (MockTestRunner's runAsync uses spawnSync: a server in the test's
 * own process could not answer).
 */
export async function startExampleModel(
  options: { childProcess?: boolean } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const rules = 'examples/web_classification/model-rules.yaml';
  const server = options.childProcess ? await startChildModelServer(rules) : await startModelServer({ rules });
  process.env.AOAI_API_BASE = server.url;
  process.env.AOAI_API_KEY = 'local-e2e-key';
  process.env.LLMOPS_CLI = cliForServers;
  return server;
}

async function startChildModelServer(rules: string): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, [cliForServers, 'model-server', '--port', '0', '--rules', rules], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.once('data', (text: string) => resolve(text.trim().split('\n')[0]));
    child.once('exit', (code) => reject(new Error(`model server exited with ${code}`)));
  });
  return {
    url,
    close: () =>
      new Promise((resolve) =>
        child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM')),
      ),
  };
}

/** Run, in process, the steps that come before `step`, into `store`. */
export async function prepareStore(step: string, store: string): Promise<void> {
  const host = new MemoryHost();
  const common = { config: exampleConfig, store };
  if (['evaluate', 'report'].includes(step)) await bulkRunStep.run({ ...common, cacheMode: 'off' }, host);
  if (step === 'report') await evaluateStep.run({ ...common, cacheMode: 'off' }, host);
  if (step === 'smoke-test') {
    await deployStep.run({ config: exampleConfig, env: 'dev', target: 'local', stateDir: store }, host);
    deployments.push({ stateDir: store, name: 'web_classification-dev' });
  }
  if (step === 'deploy') deployments.push({ stateDir: store, name: 'web_classification-dev' });
}

export async function stopAll(): Promise<void> {
  for (const d of deployments) await stopLocalDeployment(d.stateDir, d.name).catch(() => undefined);
}

/**
 * The example copied into `store` with a parity block: its flow (the baseline) against the same flow folder as
 * the candidate, on its training data (10 lines: a margin of 0.3 is what no disagreement among 10 proves), so the
 * two sides agree. Returns the copy's experiment.yaml.
 */
export function parityUseCase(store: string): string {
  const dir = path.join(store, 'parity-use-case');
  mkdirSync(path.join(dir, '.git'), { recursive: true });
  cpSync(path.dirname(exampleConfig), dir, { recursive: true });
  const config = path.join(dir, 'experiment.yaml');
  appendFileSync(
    config,
    '\nparity:\n  candidate: flows/experiment\n  dataset: web_classification_train\n  outputs: [category]\n  margin: 0.3\n',
  );
  return config;
}
