/**
 * `llmops deploy --target webapp` on the web_classification example, as CI runs it: the bundled CLI in a child
 * process signing in through the loopback Entra endpoint, the ARM emulator (Microsoft.Web spec-validated), the
 * image built by the ACR emulator from the uploaded build context, and the App Service emulator running it for
 * real behind production's and the slot's hostnames. The example's own smoke tests are the checks. First
 * deploy, unchanged, a changed flow with a dry run then staged, smoke-test of production and the slot, a
 * build that fails (its log tail in the error, exit 3), rollback.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { ACR_SPEC, AcrEmulator } from '../support/azure/acr.js';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { runCli } from '../support/azure/cli.js';
import { WEB_SPEC, WebAppsEmulator } from '../support/azure/webapps.js';

const LLM_KEY = 'sk-web-app-key-0042';
const APP = 'web-classification-dev';

let arm: ArmEmulator;
let web: WebAppsEmulator;
let acr: AcrEmulator;
let model: ModelServerHandle;
let dir: string;
const images = new Map<string, string>();

beforeAll(async () => {
  model = await startModelServer({ rules: 'examples/web_classification/model-rules.yaml' });
  arm = await ArmEmulator.start({
    datastore: { accountName: 'unused', accountKey: 'dW51c2Vk', containerName: 'unused' },
    specs: [WEB_SPEC, ACR_SPEC],
  });
  web = WebAppsEmulator.attach(arm, { images, keyVault: { 'AOAI-API-KEY': LLM_KEY, 'AOAI-API-BASE': model.url } });
  acr = await AcrEmulator.attach(arm, images);
  await web.createSite('llmops-rg', APP, 'llmops-plan');
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-webapp-cli-'));
  cpSync('examples/web_classification', dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  appendFileSync(path.join(dir, 'experiment.yaml'), `\n${stringify({ azure: arm.azureSettings() })}`);
  const configFile = path.join(dir, 'configs/deployment_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { webapp_endpoint: Record<string, unknown>[] };
  config.webapp_endpoint[0].KEY_VAULT_NAME = 'kv-web-classification';
  writeFileSync(configFile, JSON.stringify(config, null, 2));
}, 120_000);

afterAll(async () => {
  await web?.stop();
  await acr?.stop();
  await arm?.stop();
  await model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cli(step: string, ...extra: string[]) {
  const r = await runCli([step, '--target', 'webapp', '--config', 'experiment.yaml', '--env', 'dev', ...extra], {
    cwd: dir,
    env: { AOAI_API_BASE: model.url, AOAI_API_KEY: LLM_KEY, LLMOPS_WEBAPP_WARMUP_SECONDS: '30', ...arm.childEnv() },
  });
  const outputs = Object.fromEntries(
    r.stdout
      .split('\n')
      .map((l) => /^([a-z-]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  return { ...r, outputs };
}

test('first deploy, unchanged, dry run + staged change, smoke-test, a failing build, rollback', async () => {
  const first = await cli('deploy', '--tests', 'smoke-tests.yaml');
  expect(first.stderr).not.toMatch(/error/i);
  expect(first.status).toBe(0);
  const v0 = first.outputs['deployment-name'];
  expect(v0).toMatch(/^llmopsregistry\.azurecr\.io\/llmops\/web_classification-dev:[0-9a-f]{16}$/);
  expect(first.outputs).toMatchObject({
    endpoint: `https://${web.hostOf(APP)}/score`,
    traffic: JSON.stringify({ [v0]: 100 }),
  });
  expect(web.imageOf(APP)).toBe(v0);
  expect(acr.runs.map((r) => r.status)).toEqual(['Succeeded']);

  const same = await cli('deploy', '--tests', 'smoke-tests.yaml');
  expect(same.status).toBe(0);
  expect(same.stderr).toContain('nothing to deploy');
  expect(acr.runs).toHaveLength(1);

  // A changed flow: the dry run changes nothing, then 10% → 50% → swap.
  const flowPy = path.join(dir, 'flows/experiment/prepare_examples.py');
  writeFileSync(flowPy, `${readFileSync(flowPy, 'utf8')}\n# release 2\n`);
  const dry = await cli('deploy', '--dry-run');
  expect(dry.status).toBe(0);
  // The stage lists the traffic map in its own order (images are named by content hash): each share is checked.
  const next = /^image (\S+) \(build context/m.exec(dry.stderr)?.[1];
  expect(dry.stderr).toMatch(/traffic \S+ \d+%, \S+ \d+%, then checks/);
  expect(dry.stderr).toContain(`${next} 10%`);
  expect(dry.stderr).toContain(`${v0} 90%`);
  expect(web.imageOf(APP)).toBe(v0);
  const second = await cli('deploy', '--tests', 'smoke-tests.yaml');
  expect(second.status).toBe(0);
  const v1 = second.outputs['deployment-name'];
  expect(v1).not.toBe(v0);
  expect(second.outputs.traffic).toBe(JSON.stringify({ [v1]: 100 }));
  expect(web.imageOf(APP)).toBe(v1);
  expect(web.imageOf(APP, 'staging')).toBe(v0);

  // smoke-test of production, and of the slot alone (the prior image).
  const smoke = await cli('smoke-test', '--tests', 'smoke-tests.yaml');
  expect(smoke.status).toBe(0);
  expect(smoke.stdout).toContain('passed=true');
  const slot = await cli('smoke-test', '--tests', 'smoke-tests.yaml', '--deployment', 'staging');
  expect(slot.status).toBe(0);
  expect(slot.stdout).toContain(`endpoint=https://${web.hostOf(APP, 'staging')}/score`);

  // A build that fails: exit 3, the build log's tail in the error, production untouched.
  writeFileSync(flowPy, `${readFileSync(flowPy, 'utf8')}\n# release 3\n`);
  acr.failNextBuild = 'ERROR: Could not find a version that satisfies the requirement promptflow-tools==0.0.0';
  const broken = await cli('deploy', '--tests', 'smoke-tests.yaml');
  expect(broken.status).toBe(3);
  expect(broken.stderr).toContain('Could not find a version that satisfies the requirement');
  expect(web.imageOf(APP)).toBe(v1);

  const back = await cli('deploy', '--rollback');
  expect(back.status).toBe(0);
  expect(back.outputs.traffic).toBe(JSON.stringify({ [v0]: 100 }));
  expect(web.imageOf(APP)).toBe(v0);

  expect(arm.specViolations()).toEqual([]);
  for (const r of [first, same, dry, second, smoke, slot, broken, back])
    expect(r.stdout + r.stderr).not.toContain(LLM_KEY);
  expect(arm.requests.map((r) => JSON.stringify(r.body ?? '')).join('\n')).not.toContain(LLM_KEY);
}, 400_000);
