/**
 * `deploy --target webapp` against the ARM emulator (Microsoft.Web spec-validated) with the App Service and
 * ACR emulators: the image built by an ACR run over the uploaded build context, the staging slot created and
 * warmed up, smoke-tested on its own hostname, given production traffic in stages by rampUpRules, swapped in;
 * a client sends requests through production's hostname the whole time and none may fail. Then unchanged,
 * dry run, rollback (swap back), and a property test over random failure points with the invariants checked
 * after every emulator event.
 */
import fc from 'fast-check';
import path from 'node:path';
import type { WebSiteManagementClient } from '@azure/arm-appservice';
import { webAppEntry } from '../../src/shared/config/deployment.js';
import { sameTraffic } from '../../src/shared/deploy/rollout.js';
import { deployToWebApp, rollbackWebApp, type WebAppDeployOptions } from '../../src/shared/deploy/webapp-deploy.js';
import { startWebApp, type WebAppFixture } from '../helpers/deploy-targets.js';
import type { AcrEmulator } from '../support/azure/acr.js';
import type { ArmEmulator } from '../support/azure/arm-emulator.js';
import type { WebAppsEmulator, WebAppEvent } from '../support/azure/webapps.js';

/** Telemetry settings in the deployment config reach the deployed container (off here: OTEL_SDK_DISABLED). */
const OTEL_VARS = {
  OTEL_SERVICE_NAME: 'demo-flow',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
  OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=dev',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-4000-8000-000000000001',
  OTEL_SDK_DISABLED: 'true',
};

const LLM_KEY = 'sk-test-key-0001';
const RG = 'rg-web';
const APP = 'demo-app';

let f: WebAppFixture;
let arm: ArmEmulator;
let web: WebAppsEmulator;
let acr: AcrEmulator;
let client: WebSiteManagementClient;
let images: Map<string, string>;
let logs: string[];

beforeAll(async () => {
  f = await startWebApp({ llmKey: LLM_KEY, site: { resourceGroup: RG, name: APP } });
  ({ arm, web, acr, client, images, logs } = f);
}, 120_000);

afterAll(() => f?.stop());

function entry(extra: Record<string, unknown> = {}) {
  return webAppEntry(
    {
      webapp_endpoint: [
        {
          ENV_NAME: 'dev',
          REGISTRY_NAME: 'acrllmops',
          REGISTRY_RG_NAME: 'rg-acr',
          APP_PLAN_NAME: 'plan-llmops',
          WEB_APP_NAME: APP,
          WEB_APP_RG_NAME: RG,
          KEY_VAULT_NAME: 'kv-llmops',
          CONNECTION_NAMES: ['aoai'],
          ENVIRONMENT_VARIABLES: { LOG_LEVEL: 'info', ...OTEL_VARS },
          ...extra,
        },
      ],
    },
    undefined,
    'configs/deployment_config.json',
  );
}

function options(variant: string, extra: Partial<WebAppDeployOptions> = {}): WebAppDeployOptions {
  const useCase = f.useCase();
  const e = extra.entry ?? entry();
  return {
    client,
    subscriptionId: arm.workspaces[0].subscriptionId,
    resourceManager: 'https://management.azure.com',
    entry: e,
    name: 'demo',
    flow: useCase.flow.model,
    variants: [`\${chat.${variant}}`],
    connections: useCase.connections,
    envYaml: useCase.environmentVariables,
    secrets: useCase.secrets,
    ensureImage: f.ensureImage(e),
    smoke: f.smoke(),
    steps: [10, 50],
    warmupTimeoutMs: 20_000,
    stateDir: f.stateDir,
    log: f.log,
    ...extra,
  };
}

async function ask(query = ''): Promise<{ status: number; answer?: string }> {
  const r = await fetch(`https://${web.hostOf(APP)}/score${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"question": "hello"}',
  });
  const text = await r.text();
  return { status: r.status, answer: r.ok ? (JSON.parse(text) as { answer?: string }).answer : text.slice(0, 200) };
}

/** A client sending requests through production's hostname until stopped: every answer is recorded. */
function clientLoop(): { stop: () => Promise<{ status: number; answer?: string }[]> } {
  const answers: { status: number; answer?: string }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) answers.push(await ask().catch((e: unknown) => ({ status: 0, answer: String(e) })));
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return answers;
    },
  };
}

function expectNoSecret(texts: string[]): void {
  const all = [...arm.requests.map((r) => JSON.stringify(r.body ?? '')), ...texts].join('\n');
  expect(all).not.toContain(LLM_KEY);
}

test('first deploy (image built by ACR), unchanged, dry run, staged rampUpRules + swap with a client sending traffic, rollback by swapping back', async () => {
  const first = await deployToWebApp(options('v0'));
  expect([first.rollout?.outcome, first.rollout?.reason]).toEqual(['promoted', undefined]);
  const v0 = first.deployment;
  expect(v0).toMatch(/^acrllmops\.azurecr\.io\/llmops\/demo:[0-9a-f]{16}$/);
  expect(acr.runs.map((r) => r.status)).toEqual(['Succeeded']);
  expect(web.imageOf(APP)).toBe(v0);
  expect(web.rules(APP)).toEqual([]);
  expect(await ask()).toEqual({ status: 200, answer: 'user: v0 hello' });
  // Production got the slot's settings with the swap: the key is a Key Vault reference, never its value.
  const settings = (await client.webApps.listApplicationSettings(RG, APP)).properties!;
  expect(settings).toMatchObject({
    AOAI_API_KEY: '@Microsoft.KeyVault(SecretUri=https://kv-llmops.vault.azure.net/secrets/AOAI-API-KEY/)',
    WEBSITES_PORT: '8080',
    LOG_LEVEL: 'info',
    ...OTEL_VARS,
  });
  const config = await client.webApps.getConfiguration(RG, APP);
  expect(config.linuxFxVersion).toBe(`DOCKER|${v0}`);
  expect(config.healthCheckPath).toBe('/health');

  // The same flow again: no build, nothing changed.
  const writes = () => arm.requests.filter((r) => r.method !== 'GET' && !r.path.endsWith('/list')).length;
  const before = writes();
  const again = await deployToWebApp(options('v0'));
  expect(again.unchanged).toBe(true);
  expect(acr.runs).toHaveLength(1);

  // Dry run of v1: the plan; only reads (the runs list).
  const dry = await deployToWebApp(options('v1', { dryRun: true }));
  expect(dry.planText).toContain(`on any failure: traffic back to ${v0} 100%`);
  expect(dry.planText).toMatch(/swaps slot staging into production/);
  expect(writes()).toBe(before);

  // v1 in stages: 10% and 50% by rampUpRules to the slot, then the swap; a client never sees a failure.
  const rules: number[] = [];
  web.onEvent = (e: WebAppEvent) => {
    if (e.kind === 'config' && e.place === 'production') rules.push(web.rules(APP)[0]?.reroutePercentage ?? 0);
  };
  const client1 = clientLoop();
  const second = await deployToWebApp(options('v1'));
  const answers = await client1.stop();
  web.onEvent = undefined;
  expect([second.rollout?.outcome, second.rollout?.reason]).toEqual(['promoted', undefined]);
  const v1 = second.deployment;
  expect(v1).not.toBe(v0);
  expect(rules).toEqual([10, 50, 0]);
  expect(second.rollout!.steps.map((s) => `${s.kind}${s.weight ?? ''}:${s.passed}`)).toEqual([
    'provision:true',
    'smoke0:true',
    'stage10:true',
    'stage50:true',
    'stage100:true',
  ]);
  expect(answers.length).toBeGreaterThan(5);
  expect(answers.filter((a) => a.status !== 200)).toEqual([]);
  expect(new Set(answers.map((a) => a.answer))).toEqual(new Set(['user: v0 hello', 'user: v1 hello']));
  expect(web.imageOf(APP)).toBe(v1);
  expect(web.imageOf(APP, 'staging')).toBe(v0);
  expect(await ask()).toEqual({ status: 200, answer: 'user: v1 hello' });
  // App Service's routing override: the slot on its own through production's hostname.
  expect(await ask('?x-ms-routing-name=staging')).toEqual({ status: 200, answer: 'user: v0 hello' });

  // Rollback: swap back; v0 serves production again.
  const back = await rollbackWebApp({ ...options('v1'), log: f.log });
  expect(back.live).toEqual({ [v0]: 100 });
  expect(web.imageOf(APP)).toBe(v0);
  expect(await ask()).toEqual({ status: 200, answer: 'user: v0 hello' });

  expect(arm.specViolations()).toEqual([]);
  expect(arm.requests.filter((r) => r.path.includes('Microsoft.Web') && !r.operationId)).toEqual([]);
  expectNoSecret([...logs, first.summary, second.summary, back.summary]);
}, 300_000);

type Fault =
  | { kind: 'unhealthy' }
  | { kind: 'smoke-at'; stage: number }
  | { kind: 'arm-5xx'; atWrite: number }
  | { kind: 'throttled'; atWrite: number }
  | { kind: 'swap-fails' }
  | { kind: 'concurrent'; atWrite: number };

test('property: under random failure points production always serves a ready image, shares sum to 100, a failure restores the exact prior routing and image, no request through production fails, no secret leaks', async () => {
  const faultArb: fc.Arbitrary<Fault> = fc.oneof(
    fc.constant<Fault>({ kind: 'unhealthy' }),
    fc.constantFrom(0, 1, 2).map((stage): Fault => ({ kind: 'smoke-at', stage })),
    fc.integer({ min: 1, max: 2 }).map((atWrite): Fault => ({ kind: 'arm-5xx', atWrite })),
    fc.integer({ min: 1, max: 2 }).map((atWrite): Fault => ({ kind: 'throttled', atWrite })),
    fc.constant<Fault>({ kind: 'swap-fails' }),
    fc.integer({ min: 1, max: 2 }).map((atWrite): Fault => ({ kind: 'concurrent', atWrite })),
  );
  if (!web.imageOf(APP)) expect((await deployToWebApp(options('v0'))).rollout?.outcome).toBe('promoted');
  let round = 0;
  await fc.assert(
    fc.asyncProperty(faultArb, async (fault) => {
      round++;
      // A run that ended in a conflict leaves someone else's rule: they finish their change first.
      if (web.rules(APP).length) web.concurrentEdit(APP, []);
      const prior = web.traffic(APP);
      const priorImage = web.imageOf(APP);
      // Something new each round: the variant not serving now, with a round-specific env variable.
      const serving = (await ask()).answer ?? '';
      const variant = serving.includes('v0') ? 'v1' : 'v0';
      const e = entry({ ENVIRONMENT_VARIABLES: { LOG_LEVEL: 'info', ROUND: String(round) } });
      let writes = 0;
      let intruded = false;
      const violations: string[] = [];
      const extra: Partial<WebAppDeployOptions> = { entry: e };
      if (fault.kind === 'unhealthy') {
        // The image's container never starts: its build context has no flow to serve.
        extra.image = `acrllmops.azurecr.io/llmops/broken:${round}`;
        images.set(extra.image, path.join(f.dir, 'no-such-context'));
        extra.warmupTimeoutMs = 1500;
      }
      if (fault.kind === 'swap-fails')
        // More failures than the SDK retries: the swap fails for good.
        arm.inject({ operationId: 'WebApps_SwapSlotWithProduction', status: 500, times: 8 });
      if (fault.kind === 'smoke-at')
        // A gate after the smoke tests fails at the chosen point: alone (0), at 10% (1) or at 50% (2).
        extra.checks = [
          async (_v, stage) => {
            const at = stage === undefined ? 0 : stage.weight === 10 ? 1 : stage.weight === 50 ? 2 : 3;
            return { passed: at !== fault.stage, detail: `gate at point ${at}` };
          },
        ];
      web.onEvent = (ev) => {
        const t = web.traffic(APP);
        const sum = Object.values(t).reduce((s, w) => s + w, 0);
        if (sum !== 100) violations.push(`${ev.kind}: traffic sums to ${sum}`);
        const unready = web.unreadyTargets(APP);
        if (unready.length)
          violations.push(`${ev.kind}: traffic reaches ${unready.join(', ')} with no ready container`);
        if (ev.kind !== 'config' || ev.place !== 'production') return;
        writes++;
        if (fault.kind === 'arm-5xx' && writes === fault.atWrite)
          arm.inject({ operationId: 'WebApps_UpdateConfiguration', status: 500, times: 8 });
        if (fault.kind === 'throttled' && writes === fault.atWrite)
          arm.inject({ operationId: 'WebApps_UpdateConfiguration', status: 429, retryAfter: 0, times: 1 });
        if (fault.kind === 'concurrent' && writes === fault.atWrite) {
          intruded = true;
          const r = web.rules(APP)[0];
          web.concurrentEdit(APP, [
            { name: 'staging', actionHostName: r.actionHostName!, reroutePercentage: (r.reroutePercentage ?? 0) + 1 },
          ]);
        }
      };
      const c = clientLoop();
      const run = await deployToWebApp(options(variant, extra));
      const answers = await c.stop();
      web.onEvent = undefined;
      arm.faults.length = 0;
      expect(violations).toEqual([]);
      expect(answers.filter((a) => a.status !== 200)).toEqual([]);
      if (intruded) {
        expect(run.rollout?.outcome).toBe('conflict');
        return;
      }
      if (fault.kind === 'throttled') {
        expect([run.rollout?.outcome, run.rollout?.reason]).toEqual(['promoted', undefined]);
        expect(web.imageOf(APP)).toBe(run.deployment);
      } else {
        expect(run.rollout?.outcome).toBe('rolled-back');
        expect(sameTraffic(web.traffic(APP), prior)).toBe(true);
        expect(web.imageOf(APP)).toBe(priorImage);
        expect(web.rules(APP)).toEqual([]);
        expect(run.summary).toContain('Reason:');
      }
      expect(arm.specViolations()).toEqual([]);
      expectNoSecret([...logs, run.summary]);
    }),
    { numRuns: 10, seed: Number(process.env.FC_SEED ?? 1) },
  );
}, 600_000);

test('bad config: secrets without KEY_VAULT_NAME, a secret value in ENVIRONMENT_VARIABLES, slot production', async () => {
  await expect(deployToWebApp(options('v0', { entry: entry({ KEY_VAULT_NAME: undefined }) }))).rejects.toThrow(
    /needs the secrets AOAI_API_BASE, AOAI_API_KEY and KEY_VAULT_NAME is missing/,
  );
  expect(() =>
    webAppEntry(
      { webapp_endpoint: [{ ENV_NAME: 'dev', WEB_APP_NAME: 'a', SLOT_NAME: 'production' }] },
      'dev',
      'deployment_config.json',
    ),
  ).toThrow(/expected a deployment slot other than production/);
  await expect(
    deployToWebApp(options('v0', { entry: entry({ ENVIRONMENT_VARIABLES: { LEAK: LLM_KEY } }) })),
  ).rejects.toThrow(/ENVIRONMENT_VARIABLES.LEAK holds a secret value/);
});
