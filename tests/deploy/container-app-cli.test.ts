/**
 * `llmops deploy --target container-app` on the web_classification example, as CI runs it: the bundled CLI in a
 * child process signing in through the loopback Entra endpoint, the ARM emulator with Microsoft.App
 * (spec-validated), the serving image a real build context (`llmops flow build-context`) run by the emulator
 * as its start.sh does, requests reaching the emulated ingress through LLMOPS_CONTAINER_APPS_CONNECT_TO. The
 * example's own smoke tests are the checks. Bad config (exit 2), first deploy, dry run, a changed variant
 * rolled out, smoke-test of the app and of one revision alone, rollback.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { runCli } from '../support/azure/cli.js';
import { APP_DOMAIN, APP_SPEC, ContainerAppsEmulator } from '../support/azure/container-apps.js';

const LLM_KEY = 'sk-web-classification-aca-0077';
const KV = 'https://kv-webcls.vault.azure.net/secrets';
const IMAGE = (v: string) => `crllmops.azurecr.io/web-classification:${v}`;

let arm: ArmEmulator;
let aca: ContainerAppsEmulator;
let model: ModelServerHandle;
let dir: string;

beforeAll(async () => {
  model = await startModelServer({ rules: 'examples/web_classification/model-rules.yaml' });
  arm = await ArmEmulator.start({
    datastore: { accountName: 'unused', accountKey: 'dW51c2Vk', containerName: 'unused' },
    specs: [APP_SPEC],
    certificateNames: [`*.${APP_DOMAIN}`],
    lroPolls: 1,
  });
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-webcls-aca-'));
  cpSync('examples/web_classification', dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  appendFileSync(path.join(dir, 'experiment.yaml'), `\n${stringify({ azure: arm.azureSettings() })}`);
  const configFile = path.join(dir, 'configs/deployment_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  config.container_app_endpoint = [
    {
      ENV_NAME: 'dev',
      TEST_FILE_PATH: 'sample-request.json',
      CONTAINER_APP_NAME: 'web-classification-dev',
      ENVIRONMENT_NAME: 'cae-llmops',
      REGISTRY_SERVER: 'crllmops.azurecr.io',
      CPU: 0.5,
      MEMORY: '1Gi',
      MIN_REPLICAS: 1,
      MAX_REPLICAS: 3,
      ENVIRONMENT_VARIABLES: { EXAMPLE_ENV: 'dev' },
      SECRETS: { 'aoai-key': `${KV}/aoai-key`, 'aoai-base': `${KV}/aoai-base` },
      SECRET_ENVIRONMENT_VARIABLES: { AOAI_API_KEY: 'aoai-key', AOAI_API_BASE: 'aoai-base' },
    },
  ];
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  // The two images: the example's flow with each summarizing variant, built as CI would before deploying.
  const images = new Map<string, string>();
  for (const v of ['variant_0', 'variant_1']) {
    const out = path.join(dir, 'build', v);
    const r = await runCli(
      [
        'flow',
        'build-context',
        '--config',
        'experiment.yaml',
        '--variant',
        `\${summarize_text_content.${v}}`,
        '--output',
        out,
      ],
      { cwd: dir, env: { AOAI_API_BASE: model.url, AOAI_API_KEY: LLM_KEY } },
    );
    expect([r.status, r.stderr]).toEqual([0, expect.any(String)]);
    images.set(IMAGE(v), out);
  }
  aca = await ContainerAppsEmulator.attach(arm, {
    images,
    keyVaultSecrets: { [`${KV}/aoai-key`]: LLM_KEY, [`${KV}/aoai-base`]: model.url },
  });
}, 180_000);

afterAll(async () => {
  await aca?.stop();
  await arm?.stop();
  await model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function env(): Record<string, string> {
  return { AOAI_API_BASE: model.url, AOAI_API_KEY: LLM_KEY, ...arm.childEnv(), ...aca.clientEnv() };
}

async function cli(step: string, ...extra: string[]) {
  const r = await runCli([step, '--config', 'experiment.yaml', '--env', 'dev', '--target', 'container-app', ...extra], {
    cwd: dir,
    env: env(),
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

test('bad entry: exit 2 with file, line and column before anything is called', async () => {
  const configFile = path.join(dir, 'configs/deployment_config.json');
  const good = readFileSync(configFile, 'utf8');
  try {
    writeFileSync(configFile, good.replace('"MAX_REPLICAS": 3', '"MAX_REPLICAS": 0'));
    const r = await cli('deploy', '--image', IMAGE('variant_0'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/deployment_config\.json:\d+:\d+: .*MAX_REPLICAS/);
    writeFileSync(
      configFile,
      good.replace('"SECRET_ENVIRONMENT_VARIABLES": {', '"SECRET_ENVIRONMENT_VARIABLES": {\n        "OTHER": "nope",'),
    );
    const r2 = await cli('deploy', '--image', IMAGE('variant_0'));
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/deployment_config\.json:\d+:\d+: .*secret "nope" is not in SECRETS/);
    expect(arm.requests.filter((q) => q.path.includes('Microsoft.App'))).toEqual([]);
  } finally {
    writeFileSync(configFile, good);
  }
}, 60_000);

test('first deploy, dry run, a changed variant rolled out in stages, smoke-test of the app and of a revision, rollback', async () => {
  const app = 'web-classification-dev';
  const first = await cli('deploy', '--image', IMAGE('variant_0'), '--tests', 'smoke-tests.yaml');
  expect([first.status, first.stderr.split('\n').filter((l) => /error/i.test(l))]).toEqual([0, []]);
  const rev0 = first.outputs['deployment-name'];
  expect(first.outputs).toMatchObject({
    endpoint: `https://${app}.${APP_DOMAIN}`,
    traffic: JSON.stringify({ [rev0]: 100 }),
    deployments: '[]',
  });
  expect(aca.traffic(app)).toEqual({ [rev0]: 100 });

  const dry = await cli('deploy', '--image', IMAGE('variant_1'), '--dry-run');
  expect(dry.status).toBe(0);
  expect(dry.stderr).toContain(`${rev0} 90%`);
  expect(dry.stderr).toContain('on any failure: traffic back to');
  expect(aca.traffic(app)).toEqual({ [rev0]: 100 });

  const second = await cli(
    'deploy',
    '--image',
    IMAGE('variant_1'),
    '--tests',
    'smoke-tests.yaml',
    '--traffic-steps',
    '20',
  );
  expect(second.status).toBe(0);
  const rev1 = second.outputs['deployment-name'];
  expect(rev1).not.toBe(rev0);
  expect(second.outputs.traffic).toBe(JSON.stringify({ [rev1]: 100 }));
  expect(aca.labels(app)).toEqual({ green: rev0, blue: rev1 });

  // smoke-test: the app, then the old revision alone through its own URL.
  const smoke = await cli('smoke-test', '--tests', 'smoke-tests.yaml');
  expect([smoke.status, smoke.outputs.passed]).toEqual([0, 'true']);
  const alone = await cli('smoke-test', '--tests', 'smoke-tests.yaml', '--deployment', rev0);
  expect([alone.status, alone.outputs.passed, alone.outputs.endpoint]).toEqual([
    0,
    'true',
    `https://${rev0}.${APP_DOMAIN}/score`,
  ]);
  expect(alone.stderr).toContain(`${rev0} receives no traffic now`);

  const back = await cli('deploy', '--rollback');
  expect(back.status).toBe(0);
  expect(back.outputs.traffic).toBe(JSON.stringify({ [rev0]: 100 }));
  expect(aca.traffic(app)).toEqual({ [rev0]: 100 });

  // variant_1 again, its revision now failing its smoke tests: a gate (exit 1), the weights left as they were.
  aca.ingressFaults.push({ image: IMAGE('variant_1'), status: 500 });
  const gated = await cli('deploy', '--image', IMAGE('variant_1'), '--tests', 'smoke-tests.yaml');
  aca.ingressFaults.length = 0;
  expect(gated.status).toBe(1);
  expect(gated.stderr).toContain(`rollout of ${rev1} to ${app}: rolled-back`);
  expect(aca.traffic(app)).toEqual({ [rev0]: 100 });

  expect(aca.creations).toHaveLength(1);
  expect(arm.specViolations()).toEqual([]);
  const all = [first, dry, second, smoke, alone, back, gated].map((r) => r.stdout + r.stderr).join('\n');
  expect(all).not.toContain(LLM_KEY);
  expect(arm.requests.map((r) => JSON.stringify(r.body ?? '')).join('\n')).not.toContain(LLM_KEY);
}, 300_000);
