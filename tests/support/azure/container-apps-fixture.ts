/**
 * An end-to-end case of `deploy --target container-app` for the packaged action and task: a copy of the
 * web_classification example with a `container_app_endpoint` entry and an `azure:` block pointing at the ARM
 * emulator (Microsoft.App, spec-validated), its serving image a real build context, and the environment a CI
 * job would have (service principal, the emulator's CA, the ingress address).
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ArmEmulator } from './arm-emulator.js';
import { APP_DOMAIN, APP_SPEC, ContainerAppsEmulator } from './container-apps.js';

export const CASE_IMAGE = 'crllmops.azurecr.io/web-classification:e2e';
export const CASE_APP = 'web-classification-e2e';

export interface ContainerAppsCase {
  arm: ArmEmulator;
  aca: ContainerAppsEmulator;
  /** The use case's experiment.yaml (a copy of the example). */
  config: string;
  /** Environment of the job: Azure sign-in, CA certificate, ingress address, the flow's connection. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** `modelUrl`: the local model server the deployed flow calls (its key and base come from Key Vault). */
export async function startContainerAppsCase(modelUrl: string, llmKey: string): Promise<ContainerAppsCase> {
  const arm = await ArmEmulator.start({
    datastore: { accountName: 'unused', accountKey: 'dW51c2Vk', containerName: 'unused' },
    specs: [APP_SPEC],
    certificateNames: [`*.${APP_DOMAIN}`],
    lroPolls: 1,
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-aca-case-'));
  cpSync('examples/web_classification', dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  appendFileSync(path.join(dir, 'experiment.yaml'), `\n${stringify({ azure: arm.azureSettings() })}`);
  const configFile = path.join(dir, 'configs/deployment_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  const kv = 'https://kv-e2e.vault.azure.net/secrets';
  config.container_app_endpoint = [
    {
      ENV_NAME: 'dev',
      TEST_FILE_PATH: 'sample-request.json',
      CONTAINER_APP_NAME: CASE_APP,
      ENVIRONMENT_NAME: 'cae-llmops',
      IMAGE: CASE_IMAGE,
      SECRETS: { 'aoai-key': `${kv}/aoai-key`, 'aoai-base': `${kv}/aoai-base` },
      SECRET_ENVIRONMENT_VARIABLES: { AOAI_API_KEY: 'aoai-key', AOAI_API_BASE: 'aoai-base' },
    },
  ];
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const context = path.join(dir, 'build', 'image');
  execFileSync(
    process.execPath,
    [
      path.resolve('dist/cli.js'),
      'flow',
      'build-context',
      '--config',
      'experiment.yaml',
      '--variant',
      '${summarize_text_content.variant_1}',
      '--output',
      context,
    ],
    {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, AOAI_API_BASE: modelUrl, AOAI_API_KEY: llmKey },
      stdio: 'pipe',
    },
  );
  const aca = await ContainerAppsEmulator.attach(arm, {
    images: new Map([[CASE_IMAGE, context]]),
    keyVaultSecrets: { [`${kv}/aoai-key`]: llmKey, [`${kv}/aoai-base`]: modelUrl },
  });
  return {
    arm,
    aca,
    config: path.join(dir, 'experiment.yaml'),
    env: { ...arm.childEnv(), ...aca.clientEnv() },
    async stop() {
      await aca.stop();
      await arm.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The same case in a child process (tsx), for a test whose runner blocks the test's own process. */
export async function startContainerAppsCaseInChild(
  modelUrl: string,
  llmKey: string,
): Promise<Pick<ContainerAppsCase, 'config' | 'env' | 'stop'>> {
  const child = spawn(
    path.resolve('node_modules/.bin/tsx'),
    [path.resolve('tests/support/azure/container-apps-server.ts'), modelUrl, llmKey],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = await new Promise<{ config: string; env: Record<string, string> }>((resolve, reject) => {
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      text += chunk;
      const line = text.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as { config: string; env: Record<string, string> });
    });
    child.once('exit', (code) => reject(new Error(`container apps case exited with ${code}`)));
  });
  return {
    ...ready,
    stop: () =>
      new Promise((resolve) =>
        child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM')),
      ),
  };
}
