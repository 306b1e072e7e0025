/**
 * AUTOSCALE on `deploy --target container-app`, against the ARM emulator with Microsoft.App 2026-07-01 (every
 * request and response validated) and real `llmops flow serve` revisions: the revision template carries the
 * replica bounds, an HTTP concurrency rule, a cpu rule and the scale-in cooldown; the dry run shows them.
 */
import type { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { containerAppEntry } from '../../src/shared/config/deployment.js';
import {
  deployToContainerApp,
  rollbackContainerApp,
  type ContainerAppDeployOptions,
} from '../../src/shared/deploy/container-app-deploy.js';
import { startContainerApps, type ContainerAppsFixture } from '../helpers/deploy-targets.js';
import type { ArmEmulator } from '../support/azure/arm-emulator.js';

const APP = 'scale-app';
const KV_URL = 'https://kv-llmops.vault.azure.net/secrets/aoai-key';
const KV_BASE = 'https://kv-llmops.vault.azure.net/secrets/aoai-base';
const IMAGE = 'crllmops.azurecr.io/demo:v0';

let f: ContainerAppsFixture;
let arm: ArmEmulator;
let client: ContainerAppsAPIClient;

beforeAll(async () => {
  f = await startContainerApps({
    llmKey: 'sk-test-key-aca-scale-0001',
    image: () => IMAGE,
    variants: ['v0'],
    keyVault: { key: KV_URL, base: KV_BASE },
  });
  ({ arm, client } = f);
}, 120_000);

afterAll(() => f?.stop());

function options(extra: Partial<ContainerAppDeployOptions> = {}): ContainerAppDeployOptions {
  const useCase = f.useCase();
  const entry = containerAppEntry(
    {
      container_app_endpoint: [
        {
          ENV_NAME: 'dev',
          CONTAINER_APP_NAME: APP,
          ENVIRONMENT_NAME: 'cae-llmops',
          REGISTRY_SERVER: 'crllmops.azurecr.io',
          AUTOSCALE: {
            MIN_INSTANCES: 0,
            MAX_INSTANCES: 7,
            CONCURRENT_REQUESTS: 20,
            CPU_PERCENT: 60,
            SCALE_IN_COOLDOWN_SECONDS: 120,
          },
          SECRETS: { 'aoai-key': KV_URL, 'aoai-base': KV_BASE },
          SECRET_ENVIRONMENT_VARIABLES: { AOAI_API_KEY: 'aoai-key', AOAI_API_BASE: 'aoai-base' },
        },
      ],
    },
    undefined,
    'configs/deployment_config.json',
  );
  return {
    client,
    subscriptionId: arm.workspaces[0].subscriptionId,
    resourceGroup: arm.workspaces[0].resourceGroup,
    entry,
    name: 'scale',
    connections: useCase.connections,
    envYaml: useCase.environmentVariables,
    secrets: useCase.secrets,
    image: IMAGE,
    smoke: f.smoke(),
    steps: [50],
    keep: 2,
    stateDir: f.stateDir,
    wait: { pollMs: 20, lroPollMs: 20, timeoutMs: 30_000 },
    fetch: f.appFetch,
    log: f.log,
    ...extra,
  };
}

test('dry run shows the revision scale and writes nothing', async () => {
  const dry = await deployToContainerApp(options({ dryRun: true }));
  expect(dry.planText).toContain(
    'autoscale 0..7 instances: CPU > 60%, > 20 concurrent requests per instance (scale-in cooldown 120 s) (template.scale)',
  );
  expect(arm.requests.filter((r) => r.method !== 'GET')).toEqual([]);
});

test('the revision template carries the scale rules, validated against the Container Apps spec', async () => {
  const r = await deployToContainerApp(options());
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(arm.specViolations()).toEqual([]);
  const app = await client.containerApps.get(arm.workspaces[0].resourceGroup, APP);
  expect(app.template?.scale).toEqual({
    minReplicas: 0,
    maxReplicas: 7,
    cooldownPeriod: 120,
    rules: [
      { name: 'http-concurrency', http: { metadata: { concurrentRequests: '20' } } },
      { name: 'cpu', custom: { type: 'cpu', metadata: { type: 'Utilization', value: '60' } } },
    ],
  });
  expect(r.summary).toContain('autoscale 0..7 instances');
}, 120_000);

test('a new revision failing its checks is deactivated: its scale rules run no replicas, traffic stays', async () => {
  const rg = arm.workspaces[0].resourceGroup;
  const before = (await client.containerApps.get(rg, APP)).configuration?.ingress?.traffic;
  const o = options({ checks: [() => Promise.resolve({ passed: false, detail: 'refused on purpose' })] });
  o.entry = { ...o.entry, autoscale: { ...o.entry.autoscale!, maxInstances: 9 } };
  const r = await deployToContainerApp(o);
  expect(r.rollout?.outcome).toBe('rolled-back');
  expect(r.rollout?.reason).toContain(`revision ${r.revision} deactivated`);
  const failed = await client.containerAppsRevisions.getRevision(rg, APP, r.revision!);
  expect(failed.active).toBe(false);
  const after = (await client.containerApps.get(rg, APP)).configuration?.ingress?.traffic;
  const weights = (t: typeof after) =>
    (t ?? []).filter((x) => (x.weight ?? 0) > 0).map((x) => [x.revisionName, x.weight]);
  expect(weights(after)).toEqual(weights(before));
  expect(arm.specViolations()).toEqual([]);
}, 120_000);

test('deploy --rollback gives traffic back to the prior revision with its own scale rules', async () => {
  const rg = arm.workspaces[0].resourceGroup;
  const o = options();
  o.entry = { ...o.entry, autoscale: { ...o.entry.autoscale!, maxInstances: 9 } };
  const r = await deployToContainerApp(o);
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  const prior = Object.keys(r.plan!.prior);
  expect(prior).toHaveLength(1);
  const back = await rollbackContainerApp({
    client,
    name: o.name,
    stateDir: o.stateDir,
    wait: o.wait,
    log: f.log,
  });
  expect(back.live).toEqual(r.plan!.prior);
  // Scale rules belong to each revision's template: the prior revision serves again with its own.
  const serving = await client.containerAppsRevisions.getRevision(rg, APP, prior[0]);
  expect(serving.active).toBe(true);
  expect(serving.template?.scale?.maxReplicas).toBe(7);
  expect((await client.containerAppsRevisions.getRevision(rg, APP, r.revision!)).template?.scale?.maxReplicas).toBe(9);
  expect(arm.specViolations()).toEqual([]);
}, 120_000);

test('deploy --rollback deactivates the revision the rollout made active (its scale rules run no replicas), and a second one activates it again', async () => {
  const rg = arm.workspaces[0].resourceGroup;
  const o = options();
  o.entry = { ...o.entry, autoscale: { ...o.entry.autoscale!, minInstances: 1, maxInstances: 5 } };
  const r = await deployToContainerApp(o);
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  const [prior] = Object.keys(r.plan!.prior);
  const active = async (revision: string) =>
    (await client.containerAppsRevisions.getRevision(rg, APP, revision)).active;
  // Before the deploy the new revision did not run; the prior one did.
  expect(await active(r.revision!)).toBe(true);
  const rollback = () => rollbackContainerApp({ client, name: o.name, stateDir: o.stateDir, wait: o.wait, log: f.log });
  const back = await rollback();
  expect(back.live).toEqual(r.plan!.prior);
  expect(await active(r.revision!)).toBe(false);
  expect(await active(prior)).toBe(true);
  expect(back.summary).toContain(`Revision ${r.revision} deactivated`);
  const forward = await rollback();
  expect(forward.live).toEqual(r.live);
  expect(await active(r.revision!)).toBe(true);
  await rollback();
  expect(await active(r.revision!)).toBe(false);
  expect(await active(prior)).toBe(true);
  expect(arm.specViolations()).toEqual([]);
}, 180_000);
