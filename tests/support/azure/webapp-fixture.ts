/**
 * What an end-to-end run of `deploy --target webapp` needs, started in the test process: the ARM emulator
 * (Microsoft.Web spec-validated) with the App Service and ACR emulators, the web_classification example
 * copied with an `azure:` block pointing at them and its webapp_endpoint given a Key Vault, and the web app
 * created as infrastructure code would. `env` is what the child process (action, task, CLI) needs to sign
 * in and trust the loopback certificate.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ACR_SPEC, AcrEmulator } from './acr.js';
import { ArmEmulator } from './arm-emulator.js';
import { WEB_SPEC, WebAppsEmulator } from './webapps.js';

export const WEBAPP_NAME = 'web-classification-dev';

export interface WebAppFixture {
  arm: ArmEmulator;
  web: WebAppsEmulator;
  acr: AcrEmulator;
  /** experiment.yaml of the copied example (absolute). */
  config: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startWebAppFixture(model: { url: string }, llmKey: string): Promise<WebAppFixture> {
  const images = new Map<string, string>();
  const arm = await ArmEmulator.start({
    datastore: { accountName: 'unused', accountKey: 'dW51c2Vk', containerName: 'unused' },
    specs: [WEB_SPEC, ACR_SPEC],
  });
  const web = WebAppsEmulator.attach(arm, { images, keyVault: { 'AOAI-API-KEY': llmKey, 'AOAI-API-BASE': model.url } });
  const acr = await AcrEmulator.attach(arm, images);
  await web.createSite('llmops-rg', WEBAPP_NAME, 'llmops-plan');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-webapp-e2e-'));
  cpSync('examples/web_classification', dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  appendFileSync(path.join(dir, 'experiment.yaml'), `\n${stringify({ azure: arm.azureSettings() })}`);
  const configFile = path.join(dir, 'configs/deployment_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { webapp_endpoint: Record<string, unknown>[] };
  config.webapp_endpoint[0].KEY_VAULT_NAME = 'kv-web-classification';
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return {
    arm,
    web,
    acr,
    config: path.join(dir, 'experiment.yaml'),
    env: { ...arm.childEnv(), LLMOPS_WEBAPP_WARMUP_SECONDS: '60' },
    stop: async () => {
      await web.stop();
      await acr.stop();
      await arm.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
