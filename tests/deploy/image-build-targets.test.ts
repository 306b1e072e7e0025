/**
 * `deploy --target kubernetes` and `--target container-app` with no image and REGISTRY_NAME in the entry: the
 * bundled CLI in a child process builds the flow's serving image by an ACR build task (the ACR emulator unpacks
 * the uploaded context and records the image), and the deployed version runs that very image (pods / a revision
 * served by real `flow serve` processes, the example's smoke tests passing through the router). A dry run says
 * what it would build and builds nothing; a second deploy of the same flow finds the image and builds nothing.
 * Without image and registry: exit 2 naming both options.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { ACR_SPEC, AcrEmulator } from '../support/azure/acr.js';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { runCli } from '../support/azure/cli.js';
import { APP_DOMAIN, APP_SPEC, ContainerAppsEmulator } from '../support/azure/container-apps.js';
import { KubeCluster } from '../support/kubernetes/cluster.js';

const LLM_KEY = 'sk-acr-build-targets-0016';
const KV = 'https://kv-acrbuild.vault.azure.net/secrets';
const IMAGE = /^crllmops\.azurecr\.io\/llmops\/web_classification-dev:[0-9a-f]{16}$/;

let arm: ArmEmulator;
let acr: AcrEmulator;
let aca: ContainerAppsEmulator;
let cluster: KubeCluster;
let model: ModelServerHandle;
let dir: string;
const images = new Map<string, string>();
const configFile = () => path.join(dir, 'configs/deployment_config.json');

beforeAll(async () => {
  model = await startModelServer({ rules: 'examples/web_classification/model-rules.yaml' });
  arm = await ArmEmulator.start({
    datastore: { accountName: 'unused', accountKey: 'dW51c2Vk', containerName: 'unused' },
    specs: [APP_SPEC, ACR_SPEC],
    certificateNames: [`*.${APP_DOMAIN}`],
    lroPolls: 1,
  });
  acr = await AcrEmulator.attach(arm, images);
  aca = await ContainerAppsEmulator.attach(arm, {
    images,
    keyVaultSecrets: { [`${KV}/aoai-key`]: LLM_KEY, [`${KV}/aoai-base`]: model.url },
  });
  cluster = await KubeCluster.start({ images, env: { PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` } });
  cluster.createGateway('infra', 'public');
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-acr-targets-'));
  cpSync('examples/web_classification', dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  appendFileSync(path.join(dir, 'experiment.yaml'), `\n${stringify({ azure: arm.azureSettings() })}`);
  const config = JSON.parse(readFileSync(configFile(), 'utf8')) as Record<string, unknown>;
  config.kubernetes = [
    {
      ENV_NAME: 'dev',
      NAME: 'web-classification',
      NAMESPACE: 'flows',
      GATEWAY_NAME: 'public',
      GATEWAY_NAMESPACE: 'infra',
      REGISTRY_NAME: 'crllmops',
      ROLLOUT_TIMEOUT_SECONDS: 60,
    },
  ];
  config.container_app_endpoint = [
    {
      ENV_NAME: 'dev',
      CONTAINER_APP_NAME: 'web-classification-dev',
      ENVIRONMENT_NAME: 'cae-llmops',
      REGISTRY_NAME: 'crllmops',
      SECRETS: { 'aoai-key': `${KV}/aoai-key`, 'aoai-base': `${KV}/aoai-base` },
      SECRET_ENVIRONMENT_VARIABLES: { AOAI_API_KEY: 'aoai-key', AOAI_API_BASE: 'aoai-base' },
    },
  ];
  writeFileSync(configFile(), JSON.stringify(config, null, 2));
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await aca?.stop();
  await acr?.stop();
  await arm?.stop();
  await model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cli(target: string, ...extra: string[]) {
  const r = await runCli(
    [
      'deploy',
      '--target',
      target,
      '--config',
      'experiment.yaml',
      '--env',
      'dev',
      '--kubeconfig',
      cluster.kubeconfig,
      ...extra,
    ],
    {
      cwd: dir,
      env: {
        AOAI_API_BASE: model.url,
        AOAI_API_KEY: LLM_KEY,
        LLMOPS_ACR_POLL_MS: '50',
        ...arm.childEnv(),
        ...aca.clientEnv(),
      },
    },
  );
  const outputs = Object.fromEntries(
    r.stdout
      .split('\n')
      .map((l) => /^([a-z-]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  return { ...r, outputs };
}

test('kubernetes: dry run builds nothing, deploy builds and serves the image, a second deploy builds nothing', async () => {
  const dry = await cli('kubernetes', '--dry-run');
  expect([dry.status, dry.stderr]).toEqual([0, expect.stringMatching(/dry run: would build crllmops\.azurecr\.io\//)]);
  expect([acr.runs.length, acr.uploads.size]).toEqual([0, 0]);

  const first = await cli('kubernetes', '--tests', 'smoke-tests.yaml');
  expect([first.status, first.stderr]).toEqual([0, expect.any(String)]);
  expect(acr.runs.map((r) => r.status)).toEqual(['Succeeded']);
  const image = acr.runs[0].imageNames[0];
  expect(`crllmops.azurecr.io/${image}`).toMatch(IMAGE);
  const spec = cluster.get('Deployment', 'flows', first.outputs['deployment-name'])!.spec as {
    template: { spec: { containers: { image: string }[] } };
  };
  expect(spec.template.spec.containers[0].image).toBe(`crllmops.azurecr.io/${image}`);
  expect(JSON.parse(first.outputs.traffic)).toEqual({ [first.outputs['deployment-name']]: 100 });

  const again = await cli('kubernetes', '--tests', 'smoke-tests.yaml');
  expect(again.status).toBe(0);
  expect(again.stderr).toContain('not built again');
  expect(acr.runs).toHaveLength(1);
}, 180_000);

test('container-app: the revision runs the image built from the build context, built once', async () => {
  const runs = acr.runs.length;
  const first = await cli('container-app', '--tests', 'smoke-tests.yaml');
  expect([first.status, first.stderr.split('\n').filter((l) => /error/i.test(l))]).toEqual([0, []]);
  // Same flow, same context hash: the image the kubernetes deploy built is found, not built again.
  expect(acr.runs).toHaveLength(runs);
  const revision = first.outputs['deployment-name'];
  expect(JSON.parse(first.outputs.traffic)).toEqual({ [revision]: 100 });
  const app = aca.app('web-classification-dev')!.properties as {
    template: { containers: { image: string }[] };
    configuration: { registries: unknown[] };
  };
  expect(app.template.containers[0].image).toMatch(IMAGE);
  expect(app.configuration.registries).toEqual([{ server: 'crllmops.azurecr.io', identity: 'system' }]);

  // A changed flow is a new image: built once, then found.
  const flowPy = path.join(dir, 'flows/experiment/prepare_examples.py');
  writeFileSync(flowPy, `${readFileSync(flowPy, 'utf8')}\n# release 2\n`);
  const second = await cli('container-app', '--tests', 'smoke-tests.yaml');
  expect([second.status, second.stderr.split('\n').filter((l) => /error/i.test(l))]).toEqual([0, []]);
  expect(acr.runs).toHaveLength(runs + 1);
  expect(second.outputs['deployment-name']).not.toBe(revision);
  const same = await cli('container-app', '--tests', 'smoke-tests.yaml');
  expect([same.status, same.stderr]).toEqual([0, expect.stringContaining('not built again')]);
  expect(acr.runs).toHaveLength(runs + 1);
}, 240_000);

test('neither image nor registry: exit 2 naming both options', async () => {
  const good = readFileSync(configFile(), 'utf8');
  const uploads = acr.uploads.size;
  try {
    writeFileSync(configFile(), good.replace(/\s*"REGISTRY_NAME": "crllmops",/g, ''));
    const r = await cli('kubernetes');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /no image and no registry to build one; expected IMAGE in the entry or --image .*REGISTRY_NAME/,
    );
    const c = await cli('container-app');
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/no image and no registry to build one; .*IMAGE in the entry.*REGISTRY_NAME/);
    // A registry's resource group without its name, and a name ACR does not allow: file, line and column.
    writeFileSync(configFile(), good.replace('"REGISTRY_NAME": "crllmops",', '"REGISTRY_RG_NAME": "rg-acr",'));
    const rg = await cli('kubernetes');
    expect(rg.status).toBe(2);
    expect(rg.stderr).toMatch(
      /deployment_config\.json:\d+:\d+: error: kubernetes\[0\]\.REGISTRY_RG_NAME: found it without REGISTRY_NAME/,
    );
    writeFileSync(configFile(), good.replace(/"REGISTRY_NAME": "crllmops"/g, '"REGISTRY_NAME": "cr-llmops"'));
    const bad = await cli('container-app');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/deployment_config\.json:\d+:\d+: .*REGISTRY_NAME.*5-50 letters or digits/);
    expect(acr.uploads.size).toBe(uploads);
  } finally {
    writeFileSync(configFile(), good);
  }
}, 60_000);
