/**
 * `deploy --target container-app` against the ARM emulator with Microsoft.App (every request and response
 * validated against the vendored 2026-07-01 spec), each active revision a real `llmops flow serve` of its image's
 * build context, requests through the emulated ingress (by Host: the app, a label, a revision) over TLS.
 * First deploy, unchanged, dry run, a staged rollout with a client sending traffic all along (no failed request),
 * rollback; the revision faults; then the rollout property test over random failure points.
 */
import fc from 'fast-check';
import type { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { containerAppEntry } from '../../src/shared/config/deployment.js';
import {
  deployToContainerApp,
  rollbackContainerApp,
  type ContainerAppDeployOptions,
} from '../../src/shared/deploy/container-app-deploy.js';
import { sameTraffic, type TrafficMap } from '../../src/shared/deploy/rollout.js';
import { startContainerApps, type ContainerAppsFixture } from '../helpers/deploy-targets.js';
import type { ArmEmulator } from '../support/azure/arm-emulator.js';
import { APP_DOMAIN, type ContainerAppsEmulator, type ContainerAppsEvent } from '../support/azure/container-apps.js';

/** Telemetry settings in the deployment config reach the deployed container (off here: OTEL_SDK_DISABLED). */
const OTEL_VARS = {
  OTEL_SERVICE_NAME: 'demo-flow',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
  OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=dev',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-4000-8000-000000000001',
  OTEL_SDK_DISABLED: 'true',
};

const LLM_KEY = 'sk-test-key-aca-0001';
const APP = 'demo-app';
const KV_URL = 'https://kv-llmops.vault.azure.net/secrets/aoai-key';
const KV_BASE = 'https://kv-llmops.vault.azure.net/secrets/aoai-base';
const IMAGE = (v: string) => `crllmops.azurecr.io/demo:${v}`;

let f: ContainerAppsFixture;
let arm: ArmEmulator;
let aca: ContainerAppsEmulator;
let client: ContainerAppsAPIClient;
let appFetch: typeof fetch;
let logs: string[];

beforeAll(async () => {
  f = await startContainerApps({
    llmKey: LLM_KEY,
    image: IMAGE,
    variants: ['v0', 'v1'],
    keyVault: { key: KV_URL, base: KV_BASE },
  });
  ({ arm, aca, client, appFetch, logs } = f);
}, 120_000);

afterAll(() => f?.stop());

function options(version: string, extra: Partial<ContainerAppDeployOptions> = {}): ContainerAppDeployOptions {
  const useCase = f.useCase();
  const entry = containerAppEntry(
    {
      container_app_endpoint: [
        {
          ENV_NAME: 'dev',
          CONTAINER_APP_NAME: APP,
          ENVIRONMENT_NAME: 'cae-llmops',
          REGISTRY_SERVER: 'crllmops.azurecr.io',
          MIN_REPLICAS: 1,
          MAX_REPLICAS: 2,
          ENVIRONMENT_VARIABLES: { LOG_LEVEL: 'info', ...OTEL_VARS },
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
    name: 'demo',
    connections: useCase.connections,
    envYaml: useCase.environmentVariables,
    secrets: useCase.secrets,
    image: IMAGE(version),
    smoke: f.smoke(),
    steps: [10, 50],
    keep: 2,
    stateDir: f.stateDir,
    wait: { pollMs: 20, lroPollMs: 20, timeoutMs: 30_000 },
    fetch: appFetch,
    log: f.log,
    ...extra,
  };
}

async function ask(host = `${APP}.${APP_DOMAIN}`): Promise<{ status: number; answer?: string }> {
  const r = await appFetch(`https://${host}/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"question": "hello"}',
  });
  const text = await r.text();
  return { status: r.status, answer: r.ok ? (JSON.parse(text) as { answer?: string }).answer : text };
}

/** Asks the app in a loop until stopped; every answer recorded. */
function clientLoop(): { stop(): Promise<{ status: number; answer?: string }[]> } {
  const answers: { status: number; answer?: string }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) answers.push(await ask().catch((e: unknown) => ({ status: 0, answer: String(e) })));
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return answers;
    },
  };
}

/** No secret (the LLM key) in any request sent to Azure, any log line or summary. */
function expectNoSecret(texts: string[]): void {
  const all = [...arm.requests.map((r) => JSON.stringify(r.body ?? '')), ...texts].join('\n');
  expect(all).not.toContain(LLM_KEY);
}

/** Invariants after every emulator event: weights add up to 100, and only healthy running revisions have any. */
function watch(violations: string[]): (e: ContainerAppsEvent) => void {
  return (e) => {
    const t = aca.traffic(APP);
    const sum = Object.values(t).reduce((s, w) => s + w, 0);
    if (sum !== 100) violations.push(`${e.kind}: traffic sums to ${sum}`);
    for (const [rev, w] of Object.entries(t)) {
      const p = aca.revision(APP, rev)?.properties as Record<string, unknown> | undefined;
      if (w > 0 && (p?.healthState !== 'Healthy' || p?.runningState !== 'Running' || !p?.active))
        violations.push(`${e.kind}: ${rev} has ${w}% but is ${p?.runningState}/${p?.healthState}`);
    }
  };
}

test('first deploy, unchanged, dry run, staged rollout under client traffic with no failed request, rollback', async () => {
  const first = await deployToContainerApp(options('v0'));
  expect([first.rollout?.outcome, first.rollout?.reason]).toEqual(['promoted', undefined]);
  const rev0 = first.revision;
  expect(rev0).toMatch(new RegExp(`^${APP}--[0-9a-f]{10}$`));
  expect(aca.traffic(APP)).toEqual({ [rev0]: 100 });
  expect(aca.labels(APP)).toEqual({ green: rev0 });
  expect(first.url).toBe(`https://${APP}.${APP_DOMAIN}`);
  expect(await ask()).toEqual({ status: 200, answer: 'user: v0 hello' });
  // Smoke-tested through its label before it had any traffic.
  expect(aca.served[0]).toMatchObject({ host: `${APP}---green.${APP_DOMAIN}`, revision: rev0, status: 200 });
  const app = aca.app(APP)!.properties as {
    configuration: { activeRevisionsMode: string; secrets: unknown[] };
    template: { containers: { env: unknown[] }[] };
  };
  expect(app.configuration.activeRevisionsMode).toBe('Multiple');
  expect(app.configuration.secrets).toEqual([
    { name: 'aoai-key', keyVaultUrl: KV_URL, identity: 'system' },
    { name: 'aoai-base', keyVaultUrl: KV_BASE, identity: 'system' },
  ]);
  expect(app.template.containers[0].env).toEqual(
    expect.arrayContaining([
      { name: 'AOAI_API_KEY', secretRef: 'aoai-key' },
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'PROMPTFLOW_RUN_MODE', value: 'serving' },
      ...Object.entries(OTEL_VARS).map(([name, value]) => ({ name, value })),
    ]),
  );

  // The same image and settings again: nothing written.
  const writes = () => arm.requests.filter((r) => r.method !== 'GET').length;
  const before = writes();
  expect((await deployToContainerApp(options('v0'))).unchanged).toBe(true);
  const dry = await deployToContainerApp(options('v1', { dryRun: true }));
  expect(dry.planText).toContain(`on any failure: traffic back to ${rev0} 100%`);
  expect(dry.planText).toContain('label blue');
  expect(writes()).toBe(before);

  // v1 in stages with a client asking all along: no request fails.
  const violations: string[] = [];
  const maps: TrafficMap[] = [];
  aca.onEvent = (e) => {
    watch(violations)(e);
    if (e.kind === 'traffic') maps.push(e.traffic!);
  };
  const loop = clientLoop();
  // keep 1: once v1 has everything, the v0 revision is deactivated (it runs no replica, and can come back).
  const second = await deployToContainerApp(options('v1', { keep: 1 }));
  const answers = await loop.stop();
  aca.onEvent = undefined;
  expect([second.rollout?.outcome, second.rollout?.reason]).toEqual(['promoted', undefined]);
  const rev1 = second.revision;
  expect(violations).toEqual([]);
  expect(maps.filter((m, i) => i === 0 || !sameTraffic(m, maps[i - 1]))).toEqual(
    [{ [rev0]: 100 }, { [rev0]: 90, [rev1]: 10 }, { [rev0]: 50, [rev1]: 50 }, { [rev1]: 100 }].slice(
      maps.length && sameTraffic(maps[0], { [rev0]: 100 }) ? 0 : 1,
    ),
  );
  expect(answers.length).toBeGreaterThan(5);
  expect(answers.filter((a) => a.status !== 200)).toEqual([]);
  expect(new Set(answers.map((a) => a.answer))).toEqual(new Set(['user: v0 hello', 'user: v1 hello']));
  expect(aca.labels(APP)).toEqual({ green: rev0, blue: rev1 });
  expect(await ask(`${APP}---blue.${APP_DOMAIN}`)).toEqual({ status: 200, answer: 'user: v1 hello' });
  expect(await ask()).toEqual({ status: 200, answer: 'user: v1 hello' });
  expect(second.rollout!.steps.map((s) => `${s.kind}${s.weight ?? ''}:${s.passed}`)).toEqual([
    'provision:true',
    'smoke0:true',
    'stage10:true',
    'stage50:true',
    'stage100:true',
    'prune:true',
  ]);

  expect(second.rollout!.pruned).toEqual([rev0]);
  expect((aca.revision(APP, rev0)!.properties as { active: boolean }).active).toBe(false);

  // Rollback: rev0 is activated, waited on until healthy, then takes everything again.
  const back = await rollbackContainerApp({
    client,
    name: 'demo',
    stateDir: options('v0').stateDir,
    log: f.log,
  });
  expect(back.live).toEqual({ [rev0]: 100 });
  expect(aca.traffic(APP)).toEqual({ [rev0]: 100 });
  expect(await ask()).toEqual({ status: 200, answer: 'user: v0 hello' });

  expect(aca.creations).toHaveLength(1);
  expect(arm.specViolations()).toEqual([]);
  expectNoSecret([...logs, first.summary, second.summary, back.summary]);
}, 240_000);

/** Traffic entries for weights, every live label kept (a labelled revision without weight at 0%). */
function entries(weights: TrafficMap): { revisionName: string; weight: number; label?: string }[] {
  const byRevision = new Map(Object.entries(aca.labels(APP)).map(([label, rev]) => [rev, label]));
  const out = Object.entries(weights).map(([revisionName, weight]) => ({
    revisionName,
    weight,
    ...(byRevision.has(revisionName) ? { label: byRevision.get(revisionName) } : {}),
  }));
  for (const [rev, label] of byRevision) if (!(rev in weights)) out.push({ revisionName: rev, weight: 0, label });
  return out;
}

type Fault =
  | { kind: 'provisioning-fails' | 'running-fails' | 'never-healthy' }
  | { kind: 'smoke-at'; share: number }
  | { kind: 'arm-5xx' | 'throttled' | 'concurrent'; atWrite: number };

test('property: under random failure points weights add up to 100 and only reach healthy revisions, a failure restores the prior weights exactly, a client never sees a failed request during a successful rollout, the app is never recreated, no secret leaks', async () => {
  const faultArb: fc.Arbitrary<Fault> = fc.oneof(
    fc.constantFrom<Fault>({ kind: 'provisioning-fails' }, { kind: 'running-fails' }, { kind: 'never-healthy' }),
    fc.constantFrom(0, 10, 50, 100).map((share): Fault => ({ kind: 'smoke-at', share })),
    fc
      .tuple(
        fc.constantFrom('arm-5xx' as const, 'throttled' as const, 'concurrent' as const),
        fc.integer({ min: 1, max: 4 }),
      )
      .map(([kind, atWrite]): Fault => ({ kind, atWrite })),
  );
  // Runs alone too (-t): the app then gets its first revision here.
  if (!aca.app(APP)) expect((await deployToContainerApp(options('v0'))).rollout?.outcome).toBe('promoted');
  await fc.assert(
    fc.asyncProperty(faultArb, async (fault) => {
      // A run that ended in a conflict leaves two revisions serving: the other party finishes its change first.
      const left = aca.traffic(APP);
      if (Object.keys(left).length > 1) aca.concurrentEdit(APP, entries({ [Object.keys(left)[0]]: 100 }));
      const prior = aca.traffic(APP);
      const serving = Object.keys(prior)[0];
      const servingImage = String(
        (aca.revision(APP, serving)!.properties as { template: { containers: { image: string }[] } }).template
          .containers[0].image,
      );
      const next = servingImage === IMAGE('v0') ? 'v1' : 'v0';
      aca.revisionFaults.clear();
      aca.ingressFaults.length = 0;
      if (fault.kind === 'provisioning-fails' || fault.kind === 'running-fails' || fault.kind === 'never-healthy')
        aca.revisionFaults.set(IMAGE(next), fault.kind);
      if (fault.kind === 'smoke-at') aca.ingressFaults.push({ image: IMAGE(next), whenTrafficAtLeast: fault.share });
      let intruder: TrafficMap | undefined;
      let writes = 0;
      const violations: string[] = [];
      const check = watch(violations);
      aca.onEvent = (e) => {
        check(e);
        if (e.kind !== 'traffic') return;
        writes++;
        if (!('atWrite' in fault) || writes !== fault.atWrite) return;
        if (fault.kind === 'arm-5xx')
          // More failures than the client retries: the next app write fails for good.
          arm.inject({ method: 'PATCH', path: `/containerApps/${APP}`, status: 500, times: 4 });
        if (fault.kind === 'throttled')
          arm.inject({ method: 'PATCH', path: `/containerApps/${APP}`, status: 429, retryAfter: 0, times: 2 });
        const t = e.traffic!;
        if (fault.kind === 'concurrent' && Object.keys(t).length > 1) {
          // Someone else moves 1% between the two serving revisions.
          const [a, b] = Object.keys(t);
          intruder = t[a] > 1 ? { ...t, [a]: t[a] - 1, [b]: t[b] + 1 } : { ...t, [a]: t[a] + 1, [b]: t[b] - 1 };
          aca.concurrentEdit(APP, entries(intruder));
        }
      };
      const loop = clientLoop();
      // A new revision every run (REVISION_SUFFIX unique), so the revision faults always meet a start.
      // The wait is cut short only where the revision never gets healthy (this machine may start it slowly).
      const timeoutMs = fault.kind === 'never-healthy' ? 2000 : 60_000;
      const o = options(next, { wait: { pollMs: 20, lroPollMs: 20, timeoutMs } });
      const run = await deployToContainerApp({ ...o, entry: { ...o.entry, revisionSuffix: 'unique' } });
      const answers = await loop.stop();
      aca.onEvent = undefined;
      arm.faults.length = 0;
      expect(violations).toEqual([]);
      const live = aca.traffic(APP);
      if (intruder) {
        expect(run.rollout?.outcome).toBe('conflict');
        expect(live).toEqual(intruder);
        return;
      }
      // Retried throttling, an edit with nothing to move, and a failure after the last write do not stop it.
      const expectPromoted =
        fault.kind === 'throttled' || fault.kind === 'concurrent' || (fault.kind === 'arm-5xx' && fault.atWrite >= 4);
      if (expectPromoted) {
        expect([run.rollout?.outcome, run.rollout?.reason]).toEqual(['promoted', undefined]);
        expect(live).toEqual({ [run.revision]: 100 });
        expect(answers.filter((a) => a.status !== 200)).toEqual([]);
        // Old revisions beyond keep (2), the failed ones of earlier runs included, are deactivated.
        expect(aca.revisions(APP).filter((r) => (r.properties as { active: boolean }).active)).toHaveLength(2);
      } else {
        expect([run.rollout?.outcome, fault]).toEqual(['rolled-back', fault]);
        expect(sameTraffic(live, prior)).toBe(true);
        expect(run.summary).toContain('Reason:');
      }
      expect(aca.creations).toHaveLength(1);
      expect(arm.specViolations()).toEqual([]);
      expectNoSecret([...logs, run.summary]);
    }),
    {
      numRuns: 14,
      seed: Number(process.env.FC_SEED ?? 1),
      // Always among the runs: an edit by someone else mid-shift, and an outage of the first stage's write.
      examples: [[{ kind: 'concurrent', atWrite: 2 }], [{ kind: 'arm-5xx', atWrite: 1 }]],
    },
  );
}, 600_000);
