/**
 * AUTOSCALE on `deploy --target webapp`, against the ARM emulator with the App Service, ACR and Microsoft.Insights
 * autoscale specs (every request and response validated): the plan's Azure Monitor autoscale setting is put once
 * the slot answers and before any traffic moves; a rollout that does not promote puts back the setting the plan
 * had before it; the dry run shows it and writes nothing.
 */
import path from 'node:path';
import type { WebSiteManagementClient } from '@azure/arm-appservice';
import { webAppEntry } from '../../src/shared/config/deployment.js';
import { deployToWebApp, rollbackWebApp, type WebAppDeployOptions } from '../../src/shared/deploy/webapp-deploy.js';
import { startWebApp, type WebAppFixture } from '../helpers/deploy-targets.js';
import type { ArmEmulator } from '../support/azure/arm-emulator.js';
import { AutoscaleEmulator, INSIGHTS_SPEC } from '../support/azure/autoscale.js';

const RG = 'rg-web';
const APP = 'scale-app';
const AUTOSCALE = { MIN_INSTANCES: 1, MAX_INSTANCES: 5, CPU_PERCENT: 75, REQUESTS_PER_MINUTE: 900 };

let f: WebAppFixture;
let arm: ArmEmulator;
let autoscale: AutoscaleEmulator;
let client: WebSiteManagementClient;

beforeAll(async () => {
  f = await startWebApp({
    llmKey: 'sk-test-key-webscale-0001',
    site: { resourceGroup: RG, name: APP, plan: 'plan-scale' },
    specs: [INSIGHTS_SPEC],
  });
  ({ arm, client } = f);
  autoscale = AutoscaleEmulator.attach(arm);
}, 120_000);

afterAll(() => f?.stop());

function options(variant: string, block: object, extra: Partial<WebAppDeployOptions> = {}): WebAppDeployOptions {
  const useCase = f.useCase();
  const e = webAppEntry(
    {
      webapp_endpoint: [
        {
          ENV_NAME: 'dev',
          REGISTRY_NAME: 'acrllmops',
          REGISTRY_RG_NAME: 'rg-acr',
          APP_PLAN_NAME: 'plan-scale',
          WEB_APP_NAME: APP,
          WEB_APP_RG_NAME: RG,
          KEY_VAULT_NAME: 'kv-llmops',
          CONNECTION_NAMES: ['aoai'],
          AUTOSCALE: block,
        },
      ],
    },
    undefined,
    'configs/deployment_config.json',
  );
  return {
    client,
    monitor: { resourceManager: arm.url, credential: f.credential },
    subscriptionId: arm.workspaces[0].subscriptionId,
    resourceManager: 'https://management.azure.com',
    entry: e,
    name: 'scale',
    flow: useCase.flow.model,
    variants: [`\${chat.${variant}}`],
    connections: useCase.connections,
    envYaml: useCase.environmentVariables,
    secrets: useCase.secrets,
    ensureImage: f.ensureImage(e),
    smoke: f.smoke(),
    steps: [50],
    warmupTimeoutMs: 20_000,
    stateDir: f.stateDir,
    log: f.log,
    ...extra,
  };
}

const planId = () =>
  `/subscriptions/${arm.workspaces[0].subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/serverfarms/plan-scale`;
const maximum = () =>
  (autoscale.forTarget(planId())?.properties.profiles as { capacity: { maximum: string } }[] | undefined)?.[0].capacity
    .maximum;

test('first deploy puts the plan autoscale setting before any traffic moves; spec-valid', async () => {
  const r = await deployToWebApp(options('v0', AUTOSCALE));
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(arm.specViolations()).toEqual([]);
  const s = autoscale.forTarget(planId())!;
  expect(s.name).toBe('plan-scale-autoscale');
  const rules = (s.properties.profiles as { rules: { metricTrigger: Record<string, unknown> }[] }[])[0].rules;
  expect(
    rules.map((x) => `${x.metricTrigger.metricName} ${x.metricTrigger.operator} ${x.metricTrigger.threshold}`),
  ).toEqual([
    'CpuPercentage GreaterThan 75',
    'CpuPercentage LessThan 37.5',
    'Requests GreaterThan 900',
    'Requests LessThan 450',
  ]);
  expect(rules[2].metricTrigger.metricResourceUri).toMatch(/\/Microsoft\.Web\/sites\/scale-app$/);
  const settingAt = arm.requests.findIndex((x) => x.operationId === 'AutoscaleSettings_CreateOrUpdate');
  const swapAt = arm.requests.findIndex((x) => x.operationId === 'WebApps_SwapSlotWithProduction');
  expect(settingAt).toBeGreaterThanOrEqual(0);
  expect(settingAt).toBeLessThan(swapAt);
  expect(r.summary).toContain('Plan plan-scale: autoscale 1..5 instances');
}, 180_000);

test('dry run shows the plan autoscale and writes nothing', async () => {
  const before = arm.requests.filter((x) => x.method !== 'GET' && !x.path.endsWith('/list')).length;
  const dry = await deployToWebApp(options('v1', { ...AUTOSCALE, MAX_INSTANCES: 9 }, { dryRun: true }));
  expect(dry.planText).toContain(
    'plan plan-scale: autoscale 1..9 instances: CPU > 75%, > 900 requests/min per instance',
  );
  expect(arm.requests.filter((x) => x.method !== 'GET' && !x.path.endsWith('/list')).length).toBe(before);
  expect(maximum()).toBe('5');
}, 60_000);

test('a rollout that does not promote puts the plan autoscale setting back as it was', async () => {
  arm.inject({ operationId: 'WebApps_SwapSlotWithProduction', status: 500, times: 8 });
  const r = await deployToWebApp(options('v1', { ...AUTOSCALE, MAX_INSTANCES: 9 }));
  expect(r.rollout?.outcome).toBe('rolled-back');
  const puts = arm.requests.filter((x) => x.operationId === 'AutoscaleSettings_CreateOrUpdate');
  // Applied with 9, then put back with 5.
  expect(
    puts
      .map(
        (x) =>
          (x.body as { properties: { profiles: { capacity: { maximum: string } }[] } }).properties.profiles[0].capacity
            .maximum,
      )
      .slice(-2),
  ).toEqual(['9', '5']);
  expect(maximum()).toBe('5');
  expect(r.summary).toContain('autoscale setting put back as it was');
  expect(arm.specViolations()).toEqual([]);
}, 180_000);

test('deploy --rollback puts the plan autoscale setting back with the routing, and a second one forward again', async () => {
  arm.faults.splice(0); // what the failed rollout above left of its injected errors
  const r = await deployToWebApp(options('v1', { ...AUTOSCALE, MAX_INSTANCES: 9 }));
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(maximum()).toBe('9');
  const o = options('v1', AUTOSCALE);
  const rollback = () =>
    rollbackWebApp({
      client,
      subscriptionId: o.subscriptionId,
      entry: o.entry,
      name: o.name,
      stateDir: o.stateDir,
      log: f.log,
      monitor: o.monitor,
    });
  const back = await rollback();
  expect(maximum()).toBe('5');
  expect(back.summary).toContain('Plan: autoscale setting plan-scale-autoscale put back as it was.');
  await rollback();
  expect(maximum()).toBe('9');
  expect(arm.specViolations()).toEqual([]);
}, 240_000);

test("deploy --rollback after an unchanged image with a new AUTOSCALE puts the plan's earlier setting back", async () => {
  // The test above left the rollout of v1 promoted with MAX_INSTANCES 9 on the plan; the same image with 11.
  await deployToWebApp(options('v1', { ...AUTOSCALE, MAX_INSTANCES: 9 }));
  const r = await deployToWebApp(options('v1', { ...AUTOSCALE, MAX_INSTANCES: 11 }));
  expect(r.unchanged).toBe(true);
  expect(maximum()).toBe('11');
  const o = options('v1', AUTOSCALE);
  const rollback = () =>
    rollbackWebApp({
      client,
      subscriptionId: o.subscriptionId,
      entry: o.entry,
      name: o.name,
      stateDir: o.stateDir,
      log: f.log,
      monitor: o.monitor,
    });
  const routing = (await client.webApps.get(RG, APP)).siteConfig?.experiments?.rampUpRules ?? [];
  const back = await rollback();
  expect(maximum()).toBe('9');
  expect(back.live).toEqual(r.live);
  expect((await client.webApps.get(RG, APP)).siteConfig?.experiments?.rampUpRules ?? []).toEqual(routing);
  expect(back.summary).toContain('Plan: autoscale setting plan-scale-autoscale put back as it was.');
  // The same setting put again (a re-run of the pipeline) is no change: the record stays the one above.
  const { readFileSync } = await import('node:fs');
  const file = path.join(o.stateDir, 'deploy', 'scale-webapp.json');
  const recorded = readFileSync(file, 'utf8');
  expect((await deployToWebApp(options('v1', { ...AUTOSCALE, MAX_INSTANCES: 9 }))).unchanged).toBe(true);
  expect(readFileSync(file, 'utf8')).toBe(recorded);
  expect(arm.specViolations()).toEqual([]);
}, 240_000);
