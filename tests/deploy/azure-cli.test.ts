/**
 * `llmops deploy --target azure-managed` on the chat_app example, as CI runs it: the bundled CLI in a child
 * process signing in through the loopback Entra endpoint, the ARM emulator (spec-validated) with online
 * endpoints, Azurite as the datastore, and the deployed flow really served (`llmops flow serve` on what was
 * registered) behind the emulated scoring URI. The example's own smoke tests are the checks. First deploy,
 * a changed flow rolled out A/B with the config's CURRENT/PRIOR shares, dry run, rollback.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { runCli } from '../support/azure/cli.js';
import { EndpointsEmulator } from '../support/azure/endpoints.js';

const CONTAINER = 'azureml-blobstore-chat';
const LLM_KEY = 'sk-chat-app-key-0042';

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
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-chat-azure-'));
  cpSync('examples/chat_app', dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  appendFileSync(
    path.join(dir, 'experiment.yaml'),
    `\n${stringify({ azure: { ...arm.azureSettings(), blob_endpoint: azurite.url } })}`,
  );
}, 120_000);

afterAll(async () => {
  await endpoints?.stop();
  await arm?.stop();
  await azurite?.stop();
  await model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function deploy(...extra: string[]) {
  const r = await runCli(
    [
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
      ...extra,
    ],
    { cwd: dir, env: { AOAI_API_BASE: model.url, AOAI_API_KEY: LLM_KEY, ...arm.childEnv() } },
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

function expectNoSecret(text: string): void {
  for (const s of [LLM_KEY, ...[...endpoints.keys.values()].flatMap((k) => [k.primaryKey, k.secondaryKey])])
    expect(text).not.toContain(s);
}

test('first deploy takes all the traffic; a changed flow gets CURRENT 10% beside the prior 90%; dry run; rollback', async () => {
  const first = await deploy();
  expect(first.stderr).not.toMatch(/error/i);
  expect(first.status).toBe(0);
  expect(first.outputs).toMatchObject({
    endpoint: `${endpoints.scoringUrl}/chat-app-dev/score`,
    'deployment-name': 'green',
    traffic: '{"green":100}',
  });
  // Served by the CLI the uploaded build context carries (the image's app/dist/cli.js), not the repository's.
  expect(endpoints.servedFrom.at(-1)).toMatch(/[\\/]context[\\/]app[\\/]dist[\\/]cli\.js$/);
  // The example's smoke tests ran against green alone (header) before it had traffic, and passed.
  expect(endpoints.scored.filter((s) => s.header && s.deployment === 'green').length).toBeGreaterThanOrEqual(4);
  const deployment = arm.get(`${arm.workspaceId()}/onlineEndpoints/chat-app-dev/deployments/green`)!;
  expect(deployment.properties).toMatchObject({
    endpointComputeType: 'Managed',
    instanceType: 'Standard_F4s_v2',
    description: 'Chat app deployment',
    environmentVariables: expect.objectContaining({
      EXAMPLE_ENV: 'dev',
      LLMOPS_EXAMPLE: 'chat_app',
      // The connection's secrets travel as references the endpoint's identity resolves, never as values.
      AOAI_API_KEY: '${{azureml://connections/aoai/credentials/api_key}}',
    }),
  });

  // Unchanged: nothing new.
  const same = await deploy();
  expect(same.status).toBe(0);
  expect(same.stderr).toContain('nothing to deploy');

  // A changed flow: blue is the new deployment; the config's CURRENT 10% goes to it, green keeps 90%.
  const flowPy = path.join(dir, 'flows/chat/flow.py');
  writeFileSync(flowPy, `${readFileSync(flowPy, 'utf8')}\n# release 2\n`);
  const dry = await deploy('--dry-run');
  expect(dry.status).toBe(0);
  expect(dry.stderr).toContain('traffic blue 10%, green 90%, then checks');
  expect(endpoints.traffic('chat-app-dev')).toEqual({ green: 100 });
  const second = await deploy();
  expect(second.status).toBe(0);
  expect(second.outputs).toMatchObject({ 'deployment-name': 'blue', traffic: '{"blue":10,"green":90}' });
  expect(endpoints.traffic('chat-app-dev')).toEqual({ blue: 10, green: 90 });

  const back = await deploy('--rollback');
  expect(back.status).toBe(0);
  expect(back.outputs.traffic).toBe('{"green":100}');
  expect(endpoints.traffic('chat-app-dev')).toEqual({ green: 100 });

  // smoke-test against Azure: the key from listKeys, one deployment alone through the header.
  const before = endpoints.scored.length;
  const smoke = await runCli(
    [
      'smoke-test',
      '--target',
      'azure-managed',
      '--config',
      'experiment.yaml',
      '--env',
      'dev',
      '--tests',
      'smoke-tests.yaml',
      '--deployment',
      'blue',
    ],
    { cwd: dir, env: { AOAI_API_BASE: model.url, AOAI_API_KEY: LLM_KEY, ...arm.childEnv() } },
  );
  expect(smoke.stderr).toContain('blue receives no traffic now');
  expect(smoke.status).toBe(0);
  expect(smoke.stdout).toContain('passed=true');
  const scored = endpoints.scored.slice(before);
  expect(scored.length).toBeGreaterThanOrEqual(4);
  expect(scored.every((s) => s.deployment === 'blue' && s.header)).toBe(true);
  expectNoSecret(smoke.stdout + smoke.stderr);

  expect(endpoints.creations).toHaveLength(1);
  expect(arm.specViolations()).toEqual([]);
  for (const r of [first, same, dry, second, back]) expectNoSecret(r.stdout + r.stderr);
  expectNoSecret(arm.requests.map((r) => JSON.stringify(r.body ?? '')).join('\n'));
}, 300_000);
