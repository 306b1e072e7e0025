/**
 * The serving image without a Docker daemon: the build context as a tar.gz that the system's `tar` reads back
 * byte for byte (long paths, modes), then ensureImage against the ARM emulator with ACR build tasks: upload,
 * scheduleRun, the run followed Queued → Running → Succeeded, the image recorded; the same context again is
 * not built; a failing build names the run and quotes its log; another registry builds again.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArmClient } from '../../src/shared/azure/arm-client.js';
import { createAzureCredential } from '../../src/shared/azure/credentials.js';
import { folderHash } from '../../src/shared/deploy/azure-assets.js';
import { ACR_TASKS_API_VERSION, ensureImage, registryLoginServer, tarGz } from '../../src/shared/deploy/image-build.js';
import { ServiceError } from '../../src/shared/errors.js';
import { ACR_SPEC, AcrEmulator } from '../support/azure/acr.js';
import { ArmEmulator, TEST_CLIENT } from '../support/azure/arm-emulator.js';

let arm: ArmEmulator;
let acr: AcrEmulator;
let client: ArmClient;
const images = new Map<string, string>();
const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-image-build-'));

function context(extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(work, 'ctx-'));
  const files: Record<string, string> = {
    Dockerfile: 'FROM node:24-bookworm-slim\nCOPY app/ /app/\nCOPY flow/ /flow/\nCOPY start.sh /start.sh\n',
    'start.sh': '#!/bin/sh\nexec node /app/dist/cli.js flow serve /flow\n',
    'app/dist/cli.js': 'console.log("cli")\n',
    'flow/flow.dag.yaml': 'inputs: {}\noutputs: {}\nnodes: []\n',
    ...extra,
  };
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text, { mode: f.endsWith('.sh') ? 0o755 : 0o644 });
  }
  return dir;
}

beforeAll(async () => {
  arm = await ArmEmulator.start({
    datastore: { accountName: 'unused', accountKey: 'dW51c2Vk', containerName: 'unused' },
    specs: [ACR_SPEC],
  });
  acr = await AcrEmulator.attach(arm, images);
  const { credential } = await createAzureCredential(
    { override: 'secret', ...TEST_CLIENT, authorityHost: arm.entra.url },
    {},
  );
  client = new ArmClient({
    endpoint: arm.url,
    credential,
    apiVersion: ACR_TASKS_API_VERSION,
    retryDelayMs: 5,
    pollIntervalMs: 10,
  });
}, 120_000);

afterAll(async () => {
  await acr?.stop();
  await arm?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('tarGz: the system tar reads back every file, long paths and the executable bit, the same bytes every time', () => {
  const long = `flow/${'deep/'.repeat(25)}prompt.jinja2`;
  const dir = context({ [long]: 'hello {{x}}\n' });
  const out = mkdtempSync(path.join(work, 'out-'));
  const archive = path.join(work, 'a.tar.gz');
  writeFileSync(archive, tarGz(dir));
  execFileSync('tar', ['-xzf', archive, '-C', out]);
  expect(folderHash(out)).toBe(folderHash(dir));
  expect(readFileSync(path.join(out, long), 'utf8')).toBe('hello {{x}}\n');
  expect(statSync(path.join(out, 'start.sh')).mode & 0o111).not.toBe(0);
  expect(tarGz(dir).equals(tarGz(dir))).toBe(true);
});

test('ensureImage: built by an ACR run, then found and not built again; a failing build quotes its log', async () => {
  const dir = context();
  const hash = folderHash(dir);
  const registry = { subscriptionId: arm.workspaces[0].subscriptionId, resourceGroup: 'rg-acr', name: 'AcrLlmops' };
  const logs: string[] = [];
  const first = await ensureImage({
    client,
    registry,
    repository: 'llmops/demo-dev',
    contextDir: dir,
    contextHash: hash,
    pollMs: 5,
    log: (l) => logs.push(l),
  });
  expect(first).toEqual({
    image: `acrllmops.azurecr.io/llmops/demo-dev:${hash.slice(0, 16)}`,
    built: true,
    runId: 'ca1',
  });
  expect(logs.filter((l) => l.startsWith('ACR run ca1:'))).toEqual([
    'ACR run ca1: Queued',
    'ACR run ca1: Running',
    'ACR run ca1: Succeeded',
  ]);
  expect(folderHash(images.get(first.image)!)).toBe(hash);

  const again = await ensureImage({
    client,
    registry,
    repository: 'llmops/demo-dev',
    contextDir: dir,
    contextHash: hash,
  });
  expect(again).toEqual({ image: first.image, built: false, runId: 'ca1' });
  expect(acr.runs).toHaveLength(1);
  // A dry run asks only whether the image exists.
  const changed = context({ 'flow/extra.txt': 'x' });
  const writes = arm.requests.filter((r) => r.method !== 'GET').length;
  const dry = await ensureImage({
    client,
    registry,
    repository: 'llmops/demo-dev',
    contextDir: changed,
    contextHash: folderHash(changed),
    dryRun: true,
  });
  expect(dry.built).toBe(false);
  expect(arm.requests.filter((r) => r.method !== 'GET').length).toBe(writes);

  // A context whose Dockerfile copies what is not there: the run fails, its log says why.
  const broken = context({ Dockerfile: 'FROM node:24-bookworm-slim\nCOPY requirements.txt /tmp/\n' });
  const failure = await ensureImage({
    client,
    registry,
    repository: 'llmops/demo-dev',
    contextDir: broken,
    contextHash: folderHash(broken),
    pollMs: 5,
  }).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(ServiceError);
  expect((failure as Error).message).toMatch(/run ca2 building .* ended Failed/);
  expect((failure as Error).message).toContain('COPY failed: file not found in build context');
  expect(acr.runs.map((r) => r.status)).toEqual(['Succeeded', 'Failed']);
  expect(arm.requests.filter((r) => r.status === 401)).toEqual([]);
  // Every ACR request and answer met the vendored build/runs spec.
  expect(arm.requests.filter((r) => r.path.includes('Microsoft.ContainerRegistry') && !r.operationId)).toEqual([]);
  expect(arm.specViolations()).toEqual([]);
}, 120_000);

test('registryLoginServer: the cloud picks the suffix; an explicit login server wins', () => {
  const r = { subscriptionId: 's', resourceGroup: 'g', name: 'MyReg' };
  expect(registryLoginServer(r)).toBe('myreg.azurecr.io');
  expect(registryLoginServer(r, 'https://management.chinacloudapi.cn')).toBe('myreg.azurecr.cn');
  expect(registryLoginServer(r, 'https://management.usgovcloudapi.net')).toBe('myreg.azurecr.us');
  expect(registryLoginServer({ ...r, loginServer: 'reg.example.com' })).toBe('reg.example.com');
});
