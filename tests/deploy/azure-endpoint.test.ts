/**
 * `deploy` to an Azure ML managed online endpoint against the ARM emulator (spec-validated), Azurite as the
 * datastore and real `llmops flow serve` processes behind the emulated scoring URI, started on what was
 * registered. First deploy, unchanged flow, dry run, staged A/B rollout with blue/green names, rollback; then a
 * property test over random failure points with the invariants checked after every emulator event.
 */
import fc from 'fast-check';
import type { MlWorkspace } from '../../src/shared/azure/workspace.js';
import { azureEndpointEntry } from '../../src/shared/config/deployment.js';
import { deployToAzure, rollbackAzure, type AzureDeployOptions } from '../../src/shared/deploy/azure-deploy.js';
import { sameTraffic, type TrafficMap } from '../../src/shared/deploy/rollout.js';
import { startAzureMl, type AzureMlFixture } from '../helpers/deploy-targets.js';
import type { ArmEmulator } from '../support/azure/arm-emulator.js';
import type { EndpointsEmulator, EndpointEvent } from '../support/azure/endpoints.js';

/** Telemetry settings in the deployment config reach the deployed container (off here: OTEL_SDK_DISABLED). */
const OTEL_VARS = {
  OTEL_SERVICE_NAME: 'demo-flow',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
  OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=dev',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-4000-8000-000000000001',
  OTEL_SDK_DISABLED: 'true',
};

const LLM_KEY = 'sk-test-key-0001';
const ENDPOINT = 'demo-ep';

let f: AzureMlFixture;
let arm: ArmEmulator;
let endpoints: EndpointsEmulator;
let ws: MlWorkspace;
let logs: string[];
const masked = new Set<string>();

beforeAll(async () => {
  f = await startAzureMl({
    llmKey: LLM_KEY,
    container: 'azureml-blobstore-endpoints',
    arm: { lroPolls: 2 },
    mask: (s) => masked.add(s),
  });
  ({ arm, endpoints, ws, logs } = f);
}, 120_000);

afterAll(() => f?.stop());

function options(
  variant: string,
  extra: Partial<AzureDeployOptions> = {},
  endpointName = ENDPOINT,
): AzureDeployOptions {
  const useCase = f.useCase();
  const entry = azureEndpointEntry(
    {
      azure_managed_endpoint: [
        {
          ENV_NAME: 'dev',
          ENDPOINT_NAME: endpointName,
          CURRENT_DEPLOYMENT_NAME: 'blue',
          DEPLOYMENT_VM_SIZE: 'Standard_F4s_v2',
          DEPLOYMENT_INSTANCE_COUNT: 1,
          ENVIRONMENT_VARIABLES: { LOG_LEVEL: 'info', ...OTEL_VARS },
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
    name: 'demo',
    flow: useCase.flow.model,
    variants: [`\${chat.${variant}}`],
    connections: useCase.connections,
    envYaml: useCase.environmentVariables,
    secrets: useCase.secrets,
    smoke: f.smoke(),
    steps: [10, 50],
    keep: 3,
    location: 'westeurope',
    stateDir: f.stateDir,
    mask: (s) => masked.add(s),
    log: f.log,
    ...extra,
  };
}

async function ask(): Promise<{ status: number; answer?: string }> {
  const key = endpoints.keys.get(`${arm.workspaceId()}/onlineEndpoints/${ENDPOINT}`.toLowerCase())!.primaryKey;
  const r = await fetch(`${endpoints.scoringUrl}/${ENDPOINT}/score`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: '{"question": "hello"}',
  });
  return { status: r.status, answer: ((await r.json()) as { answer?: string }).answer };
}

/** No secret (endpoint keys, the LLM key) in any request body sent to Azure, any log line or summary. */
function expectNoSecret(texts: string[]): void {
  const secrets = [LLM_KEY, ...[...endpoints.keys.values()].flatMap((k) => [k.primaryKey, k.secondaryKey])];
  const all = [...arm.requests.map((r) => JSON.stringify(r.body ?? '')), ...texts].join('\n');
  for (const s of secrets) expect(all).not.toContain(s);
}

test('first deploy, unchanged flow, dry run, staged A/B to the blue/green twin, rollback', async () => {
  const first = await deployToAzure(options('v0'));
  expect([first.rollout?.outcome, first.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(first.deployment).toBe('blue');
  expect(endpoints.traffic(ENDPOINT)).toEqual({ blue: 100 });
  expect(first.scoringUri).toBe(`${endpoints.scoringUrl}/${ENDPOINT}/score`);
  expect(await ask()).toEqual({ status: 200, answer: 'user: v0 hello' });
  // Smoke-tested alone (header) before any traffic: the first scoring requests named the deployment.
  expect(endpoints.scored[0]).toMatchObject({ deployment: 'blue', header: true, status: 200 });
  const deployment = arm.get(`${arm.workspaceId()}/onlineEndpoints/${ENDPOINT}/deployments/blue`)!;
  const vars = (deployment.properties as { environmentVariables: Record<string, string> }).environmentVariables;
  expect(vars).toMatchObject({
    AOAI_API_KEY: '${{azureml://connections/aoai/credentials/api_key}}',
    LOG_LEVEL: 'info',
    PROMPTFLOW_RUN_MODE: 'serving',
    ...OTEL_VARS,
  });
  expect(first.summary).toContain('✅ promoted');
  const modelPuts = () => arm.requests.filter((r) => r.operationId === 'ModelVersions_CreateOrUpdate').length;
  expect(modelPuts()).toBe(1);

  // The same flow again: nothing registered, nothing deployed.
  const writes = () => arm.requests.filter((r) => r.method !== 'GET').length;
  const before = writes();
  const again = await deployToAzure(options('v0'));
  expect(again.unchanged).toBe(true);
  expect(writes()).toBe(before);

  // Dry run of v1: the plan, and no request that changes anything.
  const dry = await deployToAzure(options('v1', { dryRun: true }));
  expect(dry.planText).toContain('traffic blue 90%, green 10%, then checks');
  expect(dry.planText).toContain('on any failure: traffic back to blue 100%');
  expect(writes()).toBe(before);

  // v1 in stages to green; blue keeps serving the rest until green has it all.
  const puts: TrafficMap[] = [];
  endpoints.onEvent = (e) => {
    if (e.kind === 'endpoint-put') puts.push(e.detail as TrafficMap);
  };
  const second = await deployToAzure(options('v1'));
  endpoints.onEvent = undefined;
  expect([second.rollout?.outcome, second.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(second.deployment).toBe('green');
  expect(puts).toEqual([{ blue: 90, green: 10 }, { blue: 50, green: 50 }, { green: 100 }]);
  expect(second.rollout!.steps.map((s) => `${s.kind}${s.weight ?? ''}:${s.passed}`)).toEqual([
    'provision:true',
    'smoke0:true',
    'stage10:true',
    'stage50:true',
    'stage100:true',
  ]);
  expect(await ask()).toEqual({ status: 200, answer: 'user: v1 hello' });
  expect(modelPuts()).toBe(2);

  // Rollback: blue (still there) takes all the traffic again.
  const back = await rollbackAzure({ ...options('v1'), log: f.log });
  expect(back.live).toEqual({ blue: 100 });
  expect(endpoints.traffic(ENDPOINT)).toEqual({ blue: 100 });
  expect(await ask()).toEqual({ status: 200, answer: 'user: v0 hello' });

  expect(endpoints.creations).toHaveLength(1);
  expect(arm.specViolations()).toEqual([]);
  expectNoSecret([...logs, first.summary, second.summary, back.summary]);
}, 240_000);

type Fault =
  | { kind: 'provisioning' }
  | { kind: 'smoke-at'; share: number }
  | { kind: 'arm-5xx'; atPut: number }
  | { kind: 'throttled'; atPut: number }
  | { kind: 'concurrent'; atPut: number }
  | { kind: 'fails-while-mirrored' };

test('property: under random failure points traffic sums to 100, only reaches Succeeded deployments, a failure restores the prior map exactly, the endpoint is never recreated, no secret leaks', async () => {
  const faultArb: fc.Arbitrary<Fault> = fc.oneof(
    fc.constant<Fault>({ kind: 'provisioning' }),
    fc.constantFrom(10, 50, 100).map((share): Fault => ({ kind: 'smoke-at', share })),
    fc.integer({ min: 1, max: 3 }).map((atPut): Fault => ({ kind: 'arm-5xx', atPut })),
    fc.integer({ min: 1, max: 3 }).map((atPut): Fault => ({ kind: 'throttled', atPut })),
    fc.integer({ min: 1, max: 3 }).map((atPut): Fault => ({ kind: 'concurrent', atPut })),
    fc.constant<Fault>({ kind: 'fails-while-mirrored' }),
  );
  // Runs alone too (-t): the endpoint then gets its first deployment here.
  if (!endpoints.endpoint(ENDPOINT)) expect((await deployToAzure(options('v0'))).rollout?.outcome).toBe('promoted');
  await fc.assert(
    fc.asyncProperty(
      faultArb,
      fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
      async (fault, mirrorPercent) => {
        // Runs share the endpoint: one that ended in a conflict leaves two deployments serving; the other party
        // finishes its change (all to the first) before the next run.
        const left = endpoints.traffic(ENDPOINT);
        if (Object.keys(left).length > 1) endpoints.concurrentEdit(ENDPOINT, { [Object.keys(left)[0]]: 100 });
        const prior = endpoints.traffic(ENDPOINT);
        const serving = Object.keys(prior)[0];
        const servingModel = String(
          (
            arm.get(`${arm.workspaceId()}/onlineEndpoints/${ENDPOINT}/deployments/${serving}`)!.properties as {
              model: string;
            }
          ).model,
        );
        // Deploy the variant that does not serve now, so there is always something new.
        const variant = arm.get(servingModel)!.properties as { tags: Record<string, string> };
        const next = variant.tags['variant.chat'] === 'v0' ? 'v1' : 'v0';
        const newName = serving === 'blue' ? 'green' : 'blue';
        let intruder: TrafficMap | undefined;
        let puts = 0;
        const violations: string[] = [];
        endpoints.scoringFaults.length = 0;
        if (fault.kind === 'provisioning')
          arm.inject({ operationId: 'OnlineDeployments_CreateOrUpdate', provisioningFailure: 'image build failed' });
        if (fault.kind === 'smoke-at')
          endpoints.scoringFaults.push({ deployment: newName, whenTrafficAtLeast: fault.share });
        if (fault.kind === 'fails-while-mirrored')
          endpoints.scoringFaults.push({ deployment: newName, whileMirrored: true, status: 500 });
        const priorMirror = endpoints.mirror(ENDPOINT);
        endpoints.onEvent = (e: EndpointEvent) => {
          const t = endpoints.traffic(ENDPOINT);
          const sum = Object.values(t).reduce((s, w) => s + w, 0);
          if (sum !== 100) violations.push(`${e.kind}: traffic sums to ${sum}`);
          for (const [d, w] of Object.entries(t))
            if (w > 0 && endpoints.deploymentState(ENDPOINT, d) !== 'Succeeded')
              violations.push(`${e.kind}: ${d} has ${w}% but is ${endpoints.deploymentState(ENDPOINT, d)}`);
          if (e.kind === 'endpoint-deleted') violations.push('endpoint deleted');
          // Mirrored traffic: at most 50 %, one deployment, Succeeded, never one with live traffic too.
          const m = Object.entries(endpoints.mirror(ENDPOINT)).filter(([, w]) => w > 0);
          if (m.length > 1 || m.some(([, w]) => w > 50)) violations.push(`${e.kind}: mirror ${JSON.stringify(m)}`);
          for (const [d] of m)
            if ((t[d] ?? 0) > 0 || endpoints.deploymentState(ENDPOINT, d) !== 'Succeeded')
              violations.push(
                `${e.kind}: mirror to ${d} (${t[d] ?? 0}% live, ${endpoints.deploymentState(ENDPOINT, d)})`,
              );
          if (e.kind !== 'endpoint-put') return;
          puts++;
          if (fault.kind === 'arm-5xx' && puts === fault.atPut)
            // More failures than the client retries: the next endpoint write fails for good.
            arm.inject({ operationId: 'OnlineEndpoints_CreateOrUpdate', status: 500, times: 5 });
          if (fault.kind === 'throttled' && puts === fault.atPut)
            arm.inject({ operationId: 'OnlineEndpoints_CreateOrUpdate', status: 429, retryAfter: 0, times: 2 });
          if (fault.kind === 'concurrent' && puts === fault.atPut && Object.keys(t).length > 1) {
            // Someone else moves 1% between the two serving deployments.
            const [a, b] = Object.keys(t);
            intruder = t[a] > 1 ? { ...t, [a]: t[a] - 1, [b]: t[b] + 1 } : { ...t, [a]: t[a] + 1, [b]: t[b] - 1 };
            endpoints.concurrentEdit(ENDPOINT, intruder);
          }
        };
        const run = await deployToAzure(options(next, { mirrorPercent }));
        endpoints.onEvent = undefined;
        arm.faults.length = 0;
        expect(violations).toEqual([]);
        const live = endpoints.traffic(ENDPOINT);
        if (intruder) {
          expect(run.rollout?.outcome).toBe('conflict');
          expect(live).toEqual(intruder);
          return;
        }
        // Faults after the last write, retried ones, and an edit at 100% (nothing left to move) do not stop it.
        // With a mirror stage there is one more write before the last one.
        const writesBeforeLast = mirrorPercent ? 4 : 3;
        const expectPromoted =
          fault.kind === 'throttled' ||
          fault.kind === 'concurrent' ||
          (fault.kind === 'arm-5xx' && fault.atPut >= writesBeforeLast) ||
          (fault.kind === 'fails-while-mirrored' && !mirrorPercent);
        if (expectPromoted) {
          expect([run.rollout?.outcome, run.rollout?.reason]).toEqual(['promoted', undefined]);
          expect(live).toEqual({ [newName]: 100 });
        } else {
          expect(run.rollout?.outcome).toBe('rolled-back');
          expect(sameTraffic(live, prior)).toBe(true);
          expect(endpoints.mirror(ENDPOINT)).toEqual(priorMirror);
          expect(run.summary).toContain('Reason:');
        }
        expect(endpoints.creations).toHaveLength(1);
        expect(arm.specViolations()).toEqual([]);
        expectNoSecret([...logs, run.summary]);
      },
    ),
    { numRuns: 12, seed: Number(process.env.FC_SEED ?? 1) },
  );
}, 600_000);

test('azure-kubernetes: the endpoint names the attached compute, the deployment is Kubernetes with resource requests; a managed endpoint of that name is refused', async () => {
  const k8s = (endpointName: string): Partial<AzureDeployOptions> => ({
    target: 'azure-kubernetes',
    entry: azureEndpointEntry(
      {
        kubernetes_endpoint: [
          {
            ENV_NAME: 'dev',
            ENDPOINT_NAME: endpointName,
            CURRENT_DEPLOYMENT_NAME: 'blue',
            COMPUTE_NAME: 'aks-attached',
            DEPLOYMENT_VM_SIZE: 'promptinstancetype',
            CPU_ALLOCATION: '1',
            MEMORY_ALLOCATION: '2Gi',
          },
        ],
      },
      'kubernetes_endpoint',
      undefined,
      'configs/deployment_config.json',
    ),
  });
  const r = await deployToAzure(options('v1', k8s('demo-k8s')));
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  const ep = endpoints.endpoint('demo-k8s')!;
  expect((ep.properties as { compute: string }).compute).toBe(`${arm.workspaceId()}/computes/aks-attached`);
  const d = arm.get(`${arm.workspaceId()}/onlineEndpoints/demo-k8s/deployments/blue`)!;
  expect(d.properties).toMatchObject({
    endpointComputeType: 'Kubernetes',
    instanceType: 'promptinstancetype',
    containerResourceRequirements: { containerResourceRequests: { cpu: '1', memory: '2Gi' } },
  });
  expect(endpoints.traffic('demo-k8s')).toEqual({ blue: 100 });
  // The managed endpoint of the first test is not turned into a Kubernetes one.
  if (endpoints.endpoint(ENDPOINT))
    await expect(deployToAzure(options('v0', k8s(ENDPOINT)))).rejects.toThrow(
      /exists as a managed endpoint; expected a kubernetes one/,
    );
  expect(arm.specViolations()).toEqual([]);
}, 120_000);

test('mirror stage: live requests are copied to the new deployment before it has traffic, then the stages; the figures of each stage in the summary', async () => {
  const EP = 'demo-mirror';
  expect((await deployToAzure(options('v0', {}, EP))).rollout?.outcome).toBe('promoted');
  const writes: { traffic: TrafficMap; mirror?: TrafficMap }[] = [];
  endpoints.onEvent = (e) => {
    if (e.kind === 'endpoint-put' && e.endpoint === EP)
      writes.push({ traffic: e.detail as TrafficMap, mirror: e.mirror });
  };
  const scoredBefore = endpoints.scored.length;
  const r = await deployToAzure(options('v1', { mirrorPercent: 50, probeRequests: 20, appInsights: true }, EP));
  endpoints.onEvent = undefined;
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(writes).toEqual([
    { traffic: { blue: 100 }, mirror: { green: 50 } },
    { traffic: { blue: 90, green: 10 }, mirror: undefined },
    { traffic: { blue: 50, green: 50 }, mirror: undefined },
    { traffic: { green: 100 }, mirror: undefined },
  ]);
  expect(endpoints.mirror(EP)).toEqual({});
  // APP_INSIGHTS_ENABLED: the deployment sends its logs and metrics to the workspace's Application Insights.
  expect(arm.get(`${arm.workspaceId()}/onlineEndpoints/${EP}/deployments/green`)!.properties).toMatchObject({
    appInsightsEnabled: true,
  });
  // The endpoint really copied requests to green while blue answered them all.
  const during = endpoints.scored.slice(scoredBefore);
  expect(during.some((x) => x.mirrored && x.deployment === 'green' && x.status === 200)).toBe(true);
  expect(r.rollout!.steps.map((x) => `${x.kind}${x.weight ?? ''}:${x.passed}`)).toEqual([
    'provision:true',
    'smoke0:true',
    'mirror50:true',
    'stage10:true',
    'stage50:true',
    'stage100:true',
  ]);
  expect(r.summary).toContain('Stages: mirror 50% → 10% → 50% → 100%');
  expect(r.summary).toMatch(
    /\| stage 50% \| blue 50%, green 50% \| passed \| .*green: \d+ requests, 0 errors \(0 %\), p95 \d+ ms, 20 probe requests/,
  );
  expect(r.planText).toContain('mirror 50% of live requests to green (responses discarded), then checks');
  expect(arm.specViolations()).toEqual([]);
}, 240_000);

/** The variant the endpoint's serving deployment does not run: deploying it is always a new version. */
function otherVariant(endpointName: string): string {
  const serving = Object.keys(endpoints.traffic(endpointName))[0];
  const d = arm.get(`${arm.workspaceId()}/onlineEndpoints/${endpointName}/deployments/${serving}`)!;
  const model = arm.get(String((d.properties as { model: string }).model))!;
  return (model.properties as { tags: Record<string, string> }).tags['variant.chat'] === 'v0' ? 'v1' : 'v0';
}

test('a check failing while mirroring restores the traffic and the prior (empty) mirror exactly', async () => {
  const EP = 'demo-mirror';
  if (!endpoints.endpoint(EP)) expect((await deployToAzure(options('v1', {}, EP))).rollout?.outcome).toBe('promoted');
  const prior = endpoints.traffic(EP);
  const serving = Object.keys(prior)[0];
  const newName = serving === 'blue' ? 'green' : 'blue';
  endpoints.scoringFaults.push({ deployment: newName, whileMirrored: true, status: 500 });
  try {
    const r = await deployToAzure(options(otherVariant(EP), { mirrorPercent: 20 }, EP));
    expect(r.rollout?.outcome).toBe('rolled-back');
    expect(r.rollout?.reason).toMatch(/checks failed while mirroring 20%/);
    expect(r.rollout!.steps.map((x) => `${x.kind}${x.weight ?? ''}:${x.passed}`)).toEqual([
      'provision:true',
      'smoke0:true',
      'mirror20:false',
      'rollback:true',
    ]);
    expect(endpoints.traffic(EP)).toEqual(prior);
    expect(endpoints.mirror(EP)).toEqual({});
  } finally {
    endpoints.scoringFaults.length = 0;
  }
}, 240_000);

test("limits on the new deployment's figures: a p95 above the limit rolls back before any traffic, saying why with the figures; a Kubernetes endpoint refuses a mirror", async () => {
  const EP = 'demo-mirror';
  if (!endpoints.endpoint(EP)) expect((await deployToAzure(options('v1', {}, EP))).rollout?.outcome).toBe('promoted');
  const prior = endpoints.traffic(EP);
  const r = await deployToAzure(options(otherVariant(EP), { maxP95Ms: 1 }, EP));
  expect(r.rollout?.outcome).toBe('rolled-back');
  expect(r.rollout?.reason).toMatch(
    /failed its checks before receiving traffic: .*: \d+ requests, 0 errors \(0 %\), p95 \d+ ms: p95 above 1 ms/,
  );
  expect(endpoints.traffic(EP)).toEqual(prior);
  await expect(
    deployToAzure(
      options('v1', {
        target: 'azure-kubernetes',
        mirrorPercent: 10,
        entry: azureEndpointEntry(
          {
            kubernetes_endpoint: [
              { ENV_NAME: 'dev', ENDPOINT_NAME: 'demo-k8s-m', CURRENT_DEPLOYMENT_NAME: 'blue', COMPUTE_NAME: 'aks' },
            ],
          },
          'kubernetes_endpoint',
          undefined,
          'configs/deployment_config.json',
        ),
      }),
    ),
  ).rejects.toThrow(/MIRROR_TRAFFIC_PERCENT \(or mirror-percent\) on a Kubernetes online endpoint/);
  expect(endpoints.endpoint('demo-k8s-m')).toBeUndefined();
}, 240_000);

test('AUTH_MODE aml_token: the endpoint is created with AMLToken auth; smoke tests and checks call it with a masked Azure ML token', async () => {
  const entry = azureEndpointEntry(
    {
      azure_managed_endpoint: [
        {
          ENV_NAME: 'dev',
          ENDPOINT_NAME: 'demo-token',
          CURRENT_DEPLOYMENT_NAME: 'blue',
          DEPLOYMENT_VM_SIZE: 'Standard_F4s_v2',
          AUTH_MODE: 'aml_token',
        },
      ],
    },
    'azure_managed_endpoint',
    undefined,
    'configs/deployment_config.json',
  );
  expect(entry.authMode).toBe('AMLToken');
  const listKeys = () => arm.requests.filter((r) => r.operationId === 'OnlineEndpoints_ListKeys').length;
  const keysBefore = listKeys();
  const r = await deployToAzure(options('v0', { entry, authMode: entry.authMode }));
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  expect((endpoints.endpoint('demo-token')!.properties as { authMode: string }).authMode).toBe('AMLToken');
  const issued = endpoints.tokens.get(`${arm.workspaceId()}/onlineEndpoints/demo-token`.toLowerCase()) ?? [];
  expect(issued.length).toBeGreaterThan(0);
  for (const t of issued) expect(masked.has(t)).toBe(true);
  expect(listKeys()).toBe(keysBefore);
  expect(endpoints.scored.filter((s) => s.endpoint === 'demo-token' && s.status === 200).length).toBeGreaterThan(0);
  expect(arm.specViolations()).toEqual([]);
  expectNoSecret([...logs, r.summary]);
  for (const t of issued) expect([...logs, r.summary].join('\n')).not.toContain(t);
}, 240_000);
