/**
 * A rollout killed midway (SIGKILL of the CLI at a random emulator event: provisioning, a traffic write, a
 * mirror write) leaves its state file in progress; the next `deploy` or `deploy --rollback` sees it and puts back
 * exactly the traffic and mirror that were live before it, then (deploy) rolls out again. The bundled CLI runs
 * as a child process against the ARM emulator, Azurite and real `flow serve` processes, as in CI.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { runCli } from '../support/azure/cli.js';
import { EndpointsEmulator, type EndpointEvent } from '../support/azure/endpoints.js';

const CONTAINER = 'azureml-blobstore-resume';
const LLM_KEY = 'sk-resume-key-0042';
const EP = 'chat-app-dev';

let azurite: Azurite;
let arm: ArmEmulator;
let endpoints: EndpointsEmulator;
let model: ModelServerHandle;
let dir: string;

beforeAll(async () => {
  model = await startModelServer({ rules: 'examples/chat_app/model-rules.yaml' });
  azurite = await Azurite.start();
  const blob = await import('@azure/storage-blob');
  await new blob.BlobServiceClient(azurite.directUrl, new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY))
    .getContainerClient(CONTAINER)
    .create();
  arm = await ArmEmulator.start({
    datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: CONTAINER },
  });
  endpoints = await EndpointsEmulator.attach(arm, {
    blobEndpoint: azurite.directUrl,
    command: [process.execPath, path.resolve('dist/cli.js')],
    connections: { aoai: { api_key: LLM_KEY, api_base: model.url } },
  });
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-resume-'));
  cpSync('examples/chat_app', dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  appendFileSync(
    path.join(dir, 'experiment.yaml'),
    `\n${stringify({ azure: { ...arm.azureSettings(), blob_endpoint: azurite.url } })}`,
  );
  // All the way to 100 % through 10 and 50, with a mirror stage first: many points to be killed at.
  const configFile = path.join(dir, 'configs/deployment_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  Object.assign(config.azure_managed_endpoint[0], {
    CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION: '100',
    MIRROR_TRAFFIC_PERCENT: '20',
  });
  delete config.azure_managed_endpoint[0].PRIOR_DEPLOYMENT_TRAFFIC_ALLOCATION;
  writeFileSync(configFile, JSON.stringify(config, null, 2));
}, 120_000);

afterAll(async () => {
  await endpoints?.stop();
  await arm?.stop();
  await azurite?.stop();
  await model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ AOAI_API_BASE: model.url, AOAI_API_KEY: LLM_KEY, ...arm.childEnv() });
const args = (...extra: string[]) => [
  'deploy',
  '--target',
  'azure-managed',
  '--config',
  'experiment.yaml',
  '--env',
  'dev',
  '--location',
  'westeurope',
  '--tests',
  'smoke-tests.yaml',
  '--probe-requests',
  '4',
  ...extra,
];

/** Runs deploy and SIGKILLs it at the `n`-th emulator event of `kind` on its endpoint; resolves when it is gone. */
function deployKilledAt(kind: EndpointEvent['kind'], n: number): Promise<{ killed: boolean; at?: EndpointEvent }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.resolve('dist/cli.js'), ...args()], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CI: 'true', ...env() },
      stdio: 'ignore',
    });
    let seen = 0;
    let at: EndpointEvent | undefined;
    endpoints.onEvent = (e) => {
      if (e.endpoint !== EP || e.kind !== kind || ++seen !== n) return;
      at = e;
      child.kill('SIGKILL');
    };
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      endpoints.onEvent = undefined;
      resolve({ killed: signal === 'SIGKILL', at });
    });
  });
}

function changeFlow(release: number): void {
  const flowPy = path.join(dir, 'flows/chat/flow.py');
  writeFileSync(flowPy, `${readFileSync(flowPy, 'utf8')}\n# release ${release}\n`);
}

const mirror = (name: string) => endpoints.mirror(name);

test('killed at random points, the next deploy or --rollback restores the prior traffic and mirror exactly', async () => {
  const first = await runCli(args(), { cwd: dir, env: env() });
  expect(first.stderr).not.toMatch(/error/i);
  expect(first.status).toBe(0);
  // Seeded: the kill points differ from run to run of the seed, and a failure names its seed.
  const seed = Number(process.env.KILL_SEED ?? Date.now() % 100_000);
  let random = seed;
  const next = () => ((random = (random * 48271) % 2147483647) % 1000) / 1000;
  // While provisioning (Creating, Succeeded), then at a random endpoint write (the mirror, 10, 50 or 100 %),
  // twice: the write is applied and the CLI dies before it hears back.
  const plan: [EndpointEvent['kind'], number][] = [
    ['deployment-state', 1 + Math.floor(next() * 2)],
    ['endpoint-put', 1],
    ['endpoint-put', 2 + Math.floor(next() * 3)],
    ['endpoint-put', 1 + Math.floor(next() * 4)],
  ];
  for (const [round, [kind, n]] of plan.entries()) {
    const prior = endpoints.traffic(EP);
    const priorMirror = mirror(EP);
    changeFlow(round);
    const killed = await deployKilledAt(kind, n);
    const where = `seed ${seed}, round ${round}, killed at ${kind} #${n}: ${JSON.stringify(killed.at?.detail)}`;
    expect([where, killed.killed]).toEqual([where, true]);
    // Either way the traffic always adds up to 100 and reaches Succeeded deployments only.
    const live = endpoints.traffic(EP);
    expect([where, Object.values(live).reduce((s, w) => s + w, 0)]).toEqual([where, 100]);
    const useRollback = next() < 0.5;
    const after = await runCli(useRollback ? args('--rollback') : args(), { cwd: dir, env: env() });
    expect([where, after.status, after.stderr.match(/error.*$/im)?.[0]]).toEqual([where, 0, undefined]);
    if (killed.killed && killed.at) {
      // The killed rollout's prior map came back exactly before anything else happened.
      expect([where, after.stderr]).toEqual([where, expect.stringContaining('was killed midway')]);
    }
    if (useRollback) {
      if (killed.killed) {
        expect([where, endpoints.traffic(EP)]).toEqual([where, prior]);
        expect([where, mirror(EP)]).toEqual([where, priorMirror]);
      }
    } else {
      // Deployed again after restoring: the new flow takes all the traffic, no mirror left.
      expect([where, Object.values(endpoints.traffic(EP))]).toEqual([where, [100]]);
      expect([where, mirror(EP)]).toEqual([where, {}]);
    }
  }
  expect(endpoints.creations).toHaveLength(1);
  expect(arm.specViolations()).toEqual([]);
}, 600_000);
