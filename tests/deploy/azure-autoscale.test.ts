/**
 * AUTOSCALE on an Azure ML managed online endpoint, against the ARM emulator with the vendored Microsoft.Insights
 * autoscale spec (every request and response validated) and real `llmops flow serve` deployments: the dry run
 * shows the setting and writes nothing; a deploy puts one Azure Monitor autoscale setting on the new deployment
 * (CPU and requests per minute, bounds, cooldowns) after it is provisioned and before any traffic; a refused
 * setting fails the provisioning and the traffic stays where it was; an unchanged flow with a changed AUTOSCALE
 * only puts the setting again.
 */
import path from 'node:path';
import type { MlWorkspace } from '../../src/shared/azure/workspace.js';
import { azureEndpointEntry } from '../../src/shared/config/deployment.js';
import { deployToAzure, rollbackAzure, type AzureDeployOptions } from '../../src/shared/deploy/azure-deploy.js';
import { startAzureMl, type AzureMlFixture } from '../helpers/deploy-targets.js';
import type { ArmEmulator } from '../support/azure/arm-emulator.js';
import { AutoscaleEmulator, INSIGHTS_SPEC } from '../support/azure/autoscale.js';
import type { EndpointsEmulator } from '../support/azure/endpoints.js';

const ENDPOINT = 'scale-ep';
const AUTOSCALE = {
  MIN_INSTANCES: 2,
  MAX_INSTANCES: 8,
  CPU_PERCENT: 70,
  REQUESTS_PER_MINUTE: 600,
  SCALE_OUT_COOLDOWN_SECONDS: 120,
  SCALE_IN_COOLDOWN_SECONDS: 900,
};

let f: AzureMlFixture;
let arm: ArmEmulator;
let endpoints: EndpointsEmulator;
let autoscale: AutoscaleEmulator;
let ws: MlWorkspace;

beforeAll(async () => {
  f = await startAzureMl({
    llmKey: 'sk-test-key-autoscale-0001',
    container: 'azureml-blobstore-autoscale',
    arm: { lroPolls: 1, specs: [INSIGHTS_SPEC] },
  });
  ({ arm, endpoints, ws } = f);
  autoscale = AutoscaleEmulator.attach(arm);
}, 120_000);

afterAll(() => f?.stop());

function options(
  variant: string,
  extra: Partial<AzureDeployOptions> = {},
  block: object = AUTOSCALE,
): AzureDeployOptions {
  const useCase = f.useCase();
  const entry = azureEndpointEntry(
    {
      azure_managed_endpoint: [
        {
          ENV_NAME: 'dev',
          ENDPOINT_NAME: ENDPOINT,
          CURRENT_DEPLOYMENT_NAME: 'blue',
          DEPLOYMENT_VM_SIZE: 'Standard_F4s_v2',
          AUTOSCALE: block,
        },
      ],
    },
    'azure_managed_endpoint',
    undefined,
    'configs/deployment_config.json',
  );
  return {
    ws,
    target: 'azure-managed',
    entry,
    name: 'scale',
    flow: useCase.flow.model,
    variants: [`\${chat.${variant}}`],
    connections: useCase.connections,
    envYaml: useCase.environmentVariables,
    secrets: useCase.secrets,
    smoke: f.smoke(),
    steps: [50],
    keep: 2,
    location: 'westeurope',
    stateDir: f.stateDir,
    mask: () => undefined,
    log: f.log,
    ...extra,
  };
}

const deploymentId = (d: string) => `${arm.workspaceId()}/onlineEndpoints/${ENDPOINT}/deployments/${d}`;

test('dry run shows the autoscale setting and writes nothing', async () => {
  const dry = await deployToAzure(options('v0', { dryRun: true }));
  expect(dry.planText).toContain(
    'blue: autoscale 2..8 instances: CPU > 70%, > 600 requests/min per instance (scale-out cooldown 120 s, scale-in cooldown 900 s) (Azure Monitor autoscale setting scale-ep-blue-autoscale',
  );
  expect(arm.requests.filter((r) => r.method !== 'GET')).toEqual([]);
});

test('deploy puts a spec-valid autoscale setting on the new deployment before it gets any traffic', async () => {
  const r = await deployToAzure(options('v0'));
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(arm.specViolations()).toEqual([]);
  const s = autoscale.forTarget(deploymentId('blue'))!;
  expect(s.name).toBe('scale-ep-blue-autoscale');
  expect(s.location).toBe('westeurope');
  const profile = (
    s.properties.profiles as {
      capacity: unknown;
      rules: { metricTrigger: Record<string, unknown>; scaleAction: Record<string, unknown> }[];
    }[]
  )[0];
  expect(profile.capacity).toEqual({ minimum: '2', maximum: '8', default: '2' });
  expect(
    profile.rules.map((x) => [
      x.metricTrigger.metricName,
      x.metricTrigger.operator,
      x.metricTrigger.threshold,
      x.scaleAction.direction,
      x.scaleAction.cooldown,
    ]),
  ).toEqual([
    ['CpuUtilizationPercentage', 'GreaterThan', 70, 'Increase', 'PT2M'],
    ['CpuUtilizationPercentage', 'LessThan', 35, 'Decrease', 'PT15M'],
    ['RequestsPerMinute', 'GreaterThan', 600, 'Increase', 'PT2M'],
    ['RequestsPerMinute', 'LessThan', 300, 'Decrease', 'PT15M'],
  ]);
  expect(profile.rules[2].metricTrigger).toMatchObject({
    metricResourceUri: `${arm.workspaceId()}/onlineEndpoints/${ENDPOINT}`,
    dimensions: [{ DimensionName: 'deployment', Operator: 'Equals', Values: ['blue'] }],
    dividePerInstance: true,
  });
  // Order: the deployment, then its autoscale setting, then the first traffic on it.
  const at = (f: (x: (typeof arm.requests)[number]) => boolean) => arm.requests.findIndex(f);
  const settingAt = at((x) => x.operationId === 'AutoscaleSettings_CreateOrUpdate');
  const deploymentAt = at((x) => x.operationId === 'OnlineDeployments_CreateOrUpdate');
  const trafficAt = arm.requests.findIndex(
    (x, i) =>
      i > deploymentAt &&
      x.method !== 'GET' &&
      x.operationId?.startsWith('OnlineEndpoints_') === true &&
      JSON.stringify(x.body ?? '').includes('"blue":'),
  );
  expect(deploymentAt).toBeGreaterThanOrEqual(0);
  expect(settingAt).toBeGreaterThan(deploymentAt);
  expect(trafficAt).toBeGreaterThan(settingAt);
  expect(r.summary).toContain('blue: autoscale 2..8 instances');
}, 120_000);

test('an unchanged flow with a new AUTOSCALE puts only the setting again', async () => {
  const before = arm.requests.length;
  const r = await deployToAzure(options('v0', {}, { ...AUTOSCALE, MAX_INSTANCES: 12 }));
  expect(r.unchanged).toBe(true);
  const writes = arm.requests.slice(before).filter((x) => x.method !== 'GET');
  expect(writes.map((x) => x.operationId)).toEqual(['AutoscaleSettings_CreateOrUpdate']);
  const profile = (
    autoscale.forTarget(deploymentId('blue'))!.properties.profiles as { capacity: { maximum: string } }[]
  )[0];
  expect(profile.capacity.maximum).toBe('12');
  expect(arm.specViolations()).toEqual([]);
}, 60_000);

test('deploy --rollback after an unchanged flow with a new AUTOSCALE puts the earlier setting back', async () => {
  const maximum = () =>
    (autoscale.forTarget(deploymentId('blue'))!.properties.profiles as { capacity: { maximum: string } }[])[0].capacity
      .maximum;
  const rollback = () =>
    rollbackAzure({
      ws,
      target: 'azure-managed',
      entry: options('v0').entry,
      name: 'scale',
      stateDir: options('v0').stateDir,
      log: f.log,
    });
  // The test above put MAX_INSTANCES 12 over the 8 of the first deploy, traffic untouched.
  expect(maximum()).toBe('12');
  const back = await rollback();
  expect(back.live).toEqual({ blue: 100 });
  expect(endpoints.traffic(ENDPOINT)).toEqual({ blue: 100 });
  expect(maximum()).toBe('8');
  expect(back.summary).toContain('Autoscale setting scale-ep-blue-autoscale put back as it was.');
  // A second rollback puts the new setting forward again.
  await rollback();
  expect(maximum()).toBe('12');
  await rollback();
  expect(maximum()).toBe('8');
  // The same setting put again (a re-run of the pipeline) is no change: the record stays the one above.
  const file = path.join(options('v0').stateDir, 'deploy', 'scale-azure-managed.json');
  const { readFileSync } = await import('node:fs');
  const recorded = readFileSync(file, 'utf8');
  const again = await deployToAzure(options('v0'));
  expect(again.unchanged).toBe(true);
  expect(readFileSync(file, 'utf8')).toBe(recorded);
  expect(arm.specViolations()).toEqual([]);
}, 60_000);

test('a refused autoscale setting fails the provisioning: traffic stays where it was', async () => {
  arm.inject({
    operationId: 'AutoscaleSettings_CreateOrUpdate',
    status: 400,
    code: 'InvalidRequest',
    message: 'refused',
  });
  const r = await deployToAzure(options('v1'));
  expect(r.rollout?.outcome).toBe('rolled-back');
  expect(r.rollout?.reason).toMatch(/autoscale setting scale-ep-green-autoscale/);
  expect(endpoints.traffic(ENDPOINT)).toEqual({ blue: 100 });
  expect(autoscale.forTarget(deploymentId('green'))).toBeUndefined();
}, 120_000);

test('a new deployment failing its checks after its setting was applied leaves no setting behind', async () => {
  const before = autoscale.forTarget(deploymentId('blue'));
  const r = await deployToAzure(
    options('v1', { checks: [() => Promise.resolve({ passed: false, detail: 'refused on purpose' })] }),
  );
  expect(r.rollout?.outcome).toBe('rolled-back');
  expect(r.rollout?.reason).toContain('autoscale setting scale-ep-green-autoscale removed');
  expect(endpoints.traffic(ENDPOINT)).toEqual({ blue: 100 });
  expect(autoscale.forTarget(deploymentId('green'))).toBeUndefined();
  expect(autoscale.forTarget(deploymentId('blue'))).toEqual(before);
  expect(arm.specViolations()).toEqual([]);
}, 120_000);

test('deploy --rollback puts the autoscale settings back with the traffic, and a second one forward again', async () => {
  const r = await deployToAzure(options('v1'));
  expect(r.rollout?.outcome).toBe('promoted');
  const green = autoscale.forTarget(deploymentId('green'));
  const blue = autoscale.forTarget(deploymentId('blue'));
  expect(green).toBeDefined();
  const back = await rollbackAzure({
    ws,
    target: 'azure-managed',
    entry: options('v1').entry,
    name: 'scale',
    stateDir: options('v1').stateDir,
    log: f.log,
  });
  expect(back.live).toEqual({ blue: 100 });
  expect(endpoints.traffic(ENDPOINT)).toEqual({ blue: 100 });
  expect(autoscale.forTarget(deploymentId('green'))).toBeUndefined();
  expect(autoscale.forTarget(deploymentId('blue'))).toEqual(blue);
  expect(back.summary).toContain('Autoscale setting scale-ep-green-autoscale removed.');
  const forward = await rollbackAzure({
    ws,
    target: 'azure-managed',
    entry: options('v1').entry,
    name: 'scale',
    stateDir: options('v1').stateDir,
    log: f.log,
  });
  expect(forward.live).toEqual({ green: 100 });
  expect(autoscale.forTarget(deploymentId('green'))?.properties.profiles).toEqual(green!.properties.profiles);
  expect(arm.specViolations()).toEqual([]);
}, 180_000);

test('the emulator holds autoscale settings to the spec: a profile without capacity is refused', async () => {
  const { insightsClient } = await import('../../src/shared/deploy/autoscale-monitor.js');
  const w = arm.workspaces[0];
  const id = `/subscriptions/${w.subscriptionId}/resourceGroups/${w.resourceGroup}/providers/Microsoft.Insights/autoscalesettings/bad`;
  await expect(
    insightsClient(ws).request('PUT', id, {
      what: 'put a bad setting',
      body: {
        location: 'westeurope',
        properties: { profiles: [{ name: 'p', rules: [] }], targetResourceUri: deploymentId('blue') },
      },
    }),
  ).rejects.toThrow(/capacity/);
  expect(autoscale.settings.has(id.toLowerCase())).toBe(false);
});
