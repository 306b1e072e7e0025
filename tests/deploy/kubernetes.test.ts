/**
 * `deploy --target kubernetes` against the Kubernetes API emulator: pods are real `flow serve` processes run
 * from the image's build context, the Gateway routes real requests by the HTTPRoute's weights. First deploy,
 * a staged rollout under a client sending traffic the whole time (zero failed requests), unchanged redeploy,
 * dry run (no writes), rollback, an image that never becomes available (pods' events quoted, route untouched);
 * a property test over random failure points (API 5xx / 429 / 409, a write applied but its answer lost, a
 * concurrent route edit, an unavailable image) with the invariants checked after every route change; kubectl
 * as an independent client.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { kubernetesEntry, type KubernetesEntry } from '../../src/shared/config/deployment.js';
import type { KubeClient } from '../../src/shared/deploy/kubernetes-client.js';
import {
  deployToKubernetes,
  rollbackKubernetes,
  type KubernetesDeployOptions,
} from '../../src/shared/deploy/kubernetes-deploy.js';
import { sameTraffic, type TrafficMap } from '../../src/shared/deploy/rollout.js';
import type { ApiRequest } from '../support/kubernetes/api-server.js';
import type { KubeCluster } from '../support/kubernetes/cluster.js';
import { startKubernetes, type KubernetesFixture } from '../helpers/deploy-targets.js';
import type { KubeObject } from '../support/kubernetes/store.js';

/** Telemetry settings in the deployment config reach the deployed container (off here: OTEL_SDK_DISABLED). */
const OTEL_VARS = {
  OTEL_SERVICE_NAME: 'demo-flow',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
  OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=dev',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-4000-8000-000000000001',
  OTEL_SDK_DISABLED: 'true',
};

const LLM_KEY = 'sk-kube-secret-0001';
const NS = 'flows';
const IMAGE = (v: string) => `registry.example/demo:${v}`;

let f: KubernetesFixture;
let cluster: KubeCluster;
let client: KubeClient;
let logs: string[];

beforeAll(async () => {
  f = await startKubernetes({ llmKey: LLM_KEY, smokeContains: 'hello', image: IMAGE });
  ({ cluster, client, logs } = f);
}, 60_000);

afterAll(() => f?.stop());

function entry(extra: Record<string, unknown> = {}): KubernetesEntry {
  return kubernetesEntry(
    {
      kubernetes: [
        {
          ENV_NAME: 'dev',
          NAME: 'demo',
          NAMESPACE: NS,
          GATEWAY_NAME: 'public',
          GATEWAY_NAMESPACE: 'infra',
          REPLICAS: 1,
          CPU_REQUEST: '250m',
          MEMORY_LIMIT: '512Mi',
          ROLLOUT_TIMEOUT_SECONDS: 30,
          ENVIRONMENT_VARIABLES: { LOG_LEVEL: 'info', ...OTEL_VARS },
          ...extra,
        },
      ],
    },
    'dev',
    'configs/deployment_config.json',
  );
}

function options(version: string, extra: Partial<KubernetesDeployOptions> = {}): KubernetesDeployOptions {
  const useCase = f.useCase();
  return {
    client,
    entry: entry(),
    name: 'demo-dev',
    image: IMAGE(version),
    connections: useCase.connections,
    envYaml: useCase.environmentVariables,
    secrets: useCase.secrets,
    smoke: f.smoke(),
    steps: [10, 50],
    keep: 2,
    stateDir: f.stateDir,
    pollMs: 50,
    log: f.log,
    ...extra,
  };
}

const route = () => cluster.get('HTTPRoute', NS, 'demo');
function liveTraffic(): TrafficMap {
  const rules = ((route()?.spec as { rules?: { backendRefs?: { name: string; weight?: number }[] }[] })?.rules ??
    [])[0];
  return Object.fromEntries(
    (rules?.backendRefs ?? []).filter((b) => (b.weight ?? 1) > 0).map((b) => [b.name, b.weight ?? 1]),
  );
}

async function ask(headers: Record<string, string> = {}): Promise<{ status: number; answer?: string }> {
  const r = await fetch(`${cluster.gateway.url}/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: '{"question": "hello"}',
  });
  const text = await r.text();
  return { status: r.status, answer: r.ok ? (JSON.parse(text) as { answer?: string }).answer : text };
}

/** A client sending requests through the Gateway until stopped; every answer that is not 200 is kept. */
function trafficLoop() {
  let running = true;
  const failures: string[] = [];
  let sent = 0;
  const done = (async () => {
    while (running) {
      sent++;
      const r = await ask().catch((e: Error) => ({ status: 0, answer: e.message }));
      if (r.status !== 200) failures.push(`${r.status} ${r.answer}`);
      await new Promise((res) => setTimeout(res, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { failures, sent };
    },
  };
}

/** After every change of the weighted route: weights sum to 100 and only reach Services with ready pods. */
function watchInvariants(): { violations: string[]; stop(): void } {
  const violations: string[] = [];
  const listener = (c: { kind: { kind: string }; obj: KubeObject }) => {
    if (c.kind.kind !== 'HTTPRoute' || c.obj.metadata?.name !== 'demo') return;
    const refs =
      (c.obj.spec as { rules: { backendRefs?: { name: string; weight?: number }[] }[] }).rules[0].backendRefs ?? [];
    const sum = refs.reduce((s, b) => s + (b.weight ?? 1), 0);
    if (refs.length && sum !== 100) violations.push(`weights sum to ${sum}`);
    for (const b of refs)
      if ((b.weight ?? 1) > 0) {
        const svc = cluster.get('Service', NS, b.name);
        const selector = (svc?.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {};
        if (cluster.workloads.readyPods(NS, selector).length === 0)
          violations.push(`${b.name} has ${b.weight}% but no ready pod`);
      }
  };
  cluster.store.listeners.push(listener as never);
  return {
    violations,
    stop: () => {
      const i = cluster.store.listeners.indexOf(listener as never);
      if (i >= 0) cluster.store.listeners.splice(i, 1);
    },
  };
}

/** A rollout that ended in a conflict leaves two colours serving: the other party finishes its change. */
function settle(): void {
  const left = liveTraffic();
  const [first] = Object.keys(left);
  if (Object.keys(left).length > 1)
    cluster.edit('HTTPRoute', NS, 'demo', {
      spec: {
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            backendRefs: [{ group: '', kind: 'Service', name: first, port: 80, weight: 100 }],
          },
        ],
      },
    });
}

function expectNoSecret(texts: string[]) {
  for (const t of texts) expect(t).not.toContain(LLM_KEY);
}

test('first deploy: Secret, Service, Deployment and routes applied by llmops; the key only in the Secret; the Gateway answers', async () => {
  const r = await deployToKubernetes(options('v0'));
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(r.deployment).toBe('demo-blue');
  expect(liveTraffic()).toEqual({ 'demo-blue': 100 });
  expect(r.url).toBe(cluster.gateway.url);
  const d = cluster.get('Deployment', NS, 'demo-blue')!;
  const c = (d.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers[0];
  expect(c.env).toContainEqual({
    name: 'AOAI_API_KEY',
    valueFrom: { secretKeyRef: { name: 'demo-blue-secrets', key: 'AOAI_API_KEY' } },
  });
  for (const [name, value] of Object.entries(OTEL_VARS)) expect(c.env).toContainEqual({ name, value });
  expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/health', port: 'http' } });
  expect(c.livenessProbe).toMatchObject({ httpGet: { path: '/health', port: 'http' } });
  expect(c.resources).toEqual({ requests: { cpu: '250m' }, limits: { memory: '512Mi' } });
  expect((d.metadata as { managedFields: { manager: string }[] }).managedFields.map((m) => m.manager)).toEqual([
    'llmops',
  ]);
  const secret = cluster.get('Secret', NS, 'demo-blue-secrets')!;
  expect(Buffer.from((secret.data as Record<string, string>).AOAI_API_KEY, 'base64').toString()).toBe(LLM_KEY);
  const everythingButSecrets = ['Deployment', 'Service', 'HTTPRoute', 'Pod'].flatMap((k) => cluster.list(k, NS));
  expectNoSecret([JSON.stringify(everythingButSecrets), ...logs, r.summary]);
  expect((await ask()).answer).toContain('v0 hello');
  expect((await ask({ 'x-llmops-colour': 'blue' })).status).toBe(200);
}, 60_000);

test('staged rollout under live traffic: 10 → 50 → 100 on the route, the new colour smoke-tested alone first, zero failed requests', async () => {
  const watch = watchInvariants();
  const loop = trafficLoop();
  const weights: string[] = [];
  const l = (c: { kind: { kind: string }; obj: KubeObject }) => {
    if (c.kind.kind === 'HTTPRoute' && c.obj.metadata?.name === 'demo') weights.push(JSON.stringify(liveTraffic()));
  };
  cluster.store.listeners.push(l as never);
  const r = await deployToKubernetes(options('v1'));
  const { failures, sent } = await loop.stop();
  watch.stop();
  cluster.store.listeners.splice(cluster.store.listeners.indexOf(l as never), 1);
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(r.rollout!.steps.map((s) => `${s.kind}${s.weight ?? ''}`)).toEqual([
    'provision',
    'smoke0',
    'stage10',
    'stage50',
    'stage100',
  ]);
  expect(weights).toEqual([
    JSON.stringify({ 'demo-blue': 90, 'demo-green': 10 }),
    JSON.stringify({ 'demo-blue': 50, 'demo-green': 50 }),
    JSON.stringify({ 'demo-green': 100 }),
  ]);
  expect(watch.violations).toEqual([]);
  expect(sent).toBeGreaterThan(5);
  expect(failures).toEqual([]);
  expect((await ask()).answer).toContain('v1 hello');
  // The old colour is kept (keep 2), at 0%, still reachable alone: an instant way back.
  expect((await ask({ 'x-llmops-colour': 'blue' })).answer).toContain('v0 hello');
  expect(r.summary).toContain('✅ promoted');
}, 90_000);

test('unchanged: the serving colour already runs this image and config; dry run writes nothing', async () => {
  const same = await deployToKubernetes(options('v1'));
  expect(same.unchanged).toBe(true);
  const before = cluster.api.requests.length;
  const dry = await deployToKubernetes(options('v0', { dryRun: true }));
  expect(dry.plan?.stages.map((s) => s.traffic)).toEqual([
    { 'demo-blue': 10, 'demo-green': 90 },
    { 'demo-blue': 50, 'demo-green': 50 },
    { 'demo-blue': 100 },
  ]);
  expect(dry.summary).toContain('dry run');
  expect(cluster.api.requests.slice(before).filter((q) => q.method !== 'GET')).toEqual([]);
});

test('rollback puts the weights from before the last rollout back', async () => {
  const r = await rollbackKubernetes({
    client,
    entry: entry(),
    name: 'demo-dev',
    stateDir: f.stateDir,
    log: f.log,
  });
  expect(r.live).toEqual({ 'demo-blue': 100 });
  expect(liveTraffic()).toEqual({ 'demo-blue': 100 });
  expect((await ask()).answer).toContain('v0 hello');
});

test('an image that never becomes available: the pods and their events are quoted, the route is never touched', async () => {
  const before = route()!.metadata!.resourceVersion;
  const loop = trafficLoop();
  const r = await deployToKubernetes(options('missing', { entry: entry({ ROLLOUT_TIMEOUT_SECONDS: 2 }) }));
  const { failures } = await loop.stop();
  expect(r.rollout?.outcome).toBe('rolled-back');
  expect(r.rollout?.reason).toMatch(
    // Any of the colour's pods (listed by name: the old one may come first).
    /Deployment flows\/demo-green .*\n(.*\n)*.*pod demo-green-.*(ErrImagePull|ImagePullBackOff)/,
  );
  expect(r.rollout?.reason).toContain('Failed to pull image "registry.example/demo:missing"');
  expect(route()!.metadata!.resourceVersion).toBe(before);
  expect(failures).toEqual([]);
}, 60_000);

/** The RequestMirror filters of the weighted rule, as `backend percent`. */
function mirrorFilters(obj: KubeObject | undefined = route()): string[] {
  const rule = (
    obj?.spec as { rules?: { filters?: { requestMirror?: { backendRef: { name: string }; percent?: number } }[] }[] }
  )?.rules?.[0];
  return (rule?.filters ?? []).map((f) => `${f.requestMirror?.backendRef.name} ${f.requestMirror?.percent}`);
}

test('mirror 50: the route copies half the requests to the new colour while the old one answers them all; no filter after promotion; --rollback restores', async () => {
  const serving = Object.keys(liveTraffic())[0];
  const routes: { traffic: string; mirror: string[]; routedAt: number }[] = [];
  const l = (c: { kind: { kind: string }; obj: KubeObject }) => {
    if (c.kind.kind === 'HTTPRoute' && c.obj.metadata?.name === 'demo')
      routes.push({
        traffic: JSON.stringify(liveTraffic()),
        mirror: mirrorFilters(c.obj),
        routedAt: cluster.gateway.routed.length,
      });
  };
  cluster.store.listeners.push(l as never);
  const copiesBefore = cluster.gateway.mirroredCopies.length;
  const routedBefore = cluster.gateway.routed.length;
  const loop = trafficLoop();
  const r = await deployToKubernetes(options(serving === 'demo-blue' ? 'v1' : 'v0', { mirrorPercent: 50 }));
  const { failures } = await loop.stop();
  cluster.store.listeners.splice(cluster.store.listeners.indexOf(l as never), 1);
  const fresh = r.deployment;
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(r.rollout!.steps.map((s) => `${s.kind}${s.weight ?? ''}`)).toEqual([
    'provision',
    'smoke0',
    'mirror50',
    'stage10',
    'stage50',
    'stage100',
  ]);
  expect(routes.map((x) => [x.traffic, x.mirror])).toEqual([
    [JSON.stringify({ [serving]: 100 }), [`${fresh} 50`]],
    [JSON.stringify({ [serving]: 90, [fresh]: 10 }), []],
    [JSON.stringify({ [serving]: 50, [fresh]: 50 }), []],
    [JSON.stringify({ [fresh]: 100 }), []],
  ]);
  // While mirroring, every client request was answered by the serving colour; half were copied to the new one.
  const duringMirror = cluster.gateway.routed
    .slice(routes[0].routedAt, routes[1].routedAt)
    .filter((q) => q.route === 'demo');
  expect(duringMirror.length).toBeGreaterThanOrEqual(2);
  expect(duringMirror.every((q) => q.backend === serving && q.status === 200)).toBe(true);
  // Every other request is copied; one in flight as the filter came or went may fall either side of the window.
  const mirroredOnes = cluster.gateway.routed.slice(routedBefore).filter((q) => q.mirrored === fresh).length;
  expect(mirroredOnes).toBeGreaterThanOrEqual(1);
  expect(Math.abs(mirroredOnes - duringMirror.length / 2)).toBeLessThanOrEqual(1.5);
  const copies = cluster.gateway.mirroredCopies.slice(copiesBefore);
  expect(copies.length).toBe(mirroredOnes);
  expect(copies.every((c) => c.backend === fresh && c.status === 200)).toBe(true);
  expect(failures).toEqual([]);
  expect(mirrorFilters()).toEqual([]);
  expect(r.summary).toContain('✅ promoted');
  // --rollback: the weights and the (empty) mirror from before this rollout.
  const back = await rollbackKubernetes({
    client,
    entry: entry(),
    name: 'demo-dev',
    stateDir: f.stateDir,
    log: f.log,
  });
  expect([back.state.priorMirror, back.live, liveTraffic(), mirrorFilters()]).toEqual([
    {},
    { [serving]: 100 },
    { [serving]: 100 },
    [],
  ]);
}, 90_000);

test('a failure at the mirror stage (a failed check; a route write applied but its answers lost) puts the exact prior route back: no filter, prior weights', async () => {
  const isRouteWrite = (q: ApiRequest) => q.method === 'PATCH' && q.kind?.kind === 'HTTPRoute' && q.name === 'demo';
  for (const failure of ['check', 'lost-answer'] as const) {
    const prior = liveTraffic();
    const serving = Object.keys(prior)[0];
    const fresh = serving === 'demo-blue' ? 'demo-green' : 'demo-blue';
    // The new colour starts failing once the filter copies requests to it: its mirror-stage checks fail.
    const breakOnMirror = (c: { kind: { kind: string }; obj: KubeObject }) => {
      if (c.kind.kind === 'HTTPRoute' && mirrorFilters(c.obj).length && !cluster.gateway.faults.length)
        cluster.gateway.faults.push({ backend: fresh, whenWeightAtLeast: 0 });
    };
    if (failure === 'check') cluster.store.listeners.push(breakOnMirror as never);
    // The mirror stage's write is applied but every answer to it is lost: the client's retries give up.
    else cluster.api.faults.push({ when: isRouteWrite, status: 503, times: 4, afterApplying: true });
    const loop = trafficLoop();
    const r = await deployToKubernetes(options(serving === 'demo-blue' ? 'v1' : 'v0', { mirrorPercent: 50 }));
    const { failures } = await loop.stop();
    const listening = cluster.store.listeners.indexOf(breakOnMirror as never);
    if (listening >= 0) cluster.store.listeners.splice(listening, 1);
    cluster.api.faults.length = 0;
    cluster.gateway.faults.length = 0;
    expect([failure, r.rollout?.outcome]).toEqual([failure, 'rolled-back']);
    // A lost answer makes the retry meet its own write (409): the route is read again and restored all the same.
    expect(r.rollout?.reason).toMatch(
      failure === 'check' ? /checks failed while mirroring 50%/ : /changed .* since it was read/,
    );
    if (failure === 'check')
      expect(r.rollout!.steps.find((x) => !x.passed)).toMatchObject({ kind: 'mirror', weight: 50 });
    expect(liveTraffic()).toEqual(prior);
    expect(mirrorFilters()).toEqual([]);
    expect(failures).toEqual([]);
  }
}, 120_000);

type Fault =
  | { kind: 'unavailable' }
  | { kind: 'bad-at'; weight: 10 | 50 | 100 }
  | { kind: 'api-5xx'; at: number }
  | { kind: 'transient'; at: number; status: 429 | 503 }
  | { kind: 'conflict'; at: number }
  | { kind: 'lost-answer'; at: number }
  | { kind: 'concurrent'; at: number };

test('property: under random failure points weights sum to 100, never reach an unready colour, a failure restores the exact prior weights, no request fails', async () => {
  const faultArb: fc.Arbitrary<Fault> = fc.oneof(
    fc.constant<Fault>({ kind: 'unavailable' }),
    fc.constantFrom<10 | 50 | 100>(10, 50, 100).map((weight): Fault => ({ kind: 'bad-at', weight })),
    fc.integer({ min: 1, max: 3 }).map((at): Fault => ({ kind: 'api-5xx', at })),
    fc
      .record({ at: fc.integer({ min: 1, max: 3 }), status: fc.constantFrom<429 | 503>(429, 503) })
      .map((f): Fault => ({ kind: 'transient', ...f })),
    fc.integer({ min: 1, max: 3 }).map((at): Fault => ({ kind: 'conflict', at })),
    fc.integer({ min: 1, max: 3 }).map((at): Fault => ({ kind: 'lost-answer', at })),
    fc.integer({ min: 2, max: 3 }).map((at): Fault => ({ kind: 'concurrent', at })),
  );
  if (!route()) expect((await deployToKubernetes(options('v0'))).rollout?.outcome).toBe('promoted');
  await fc.assert(
    fc.asyncProperty(faultArb, async (fault) => {
      settle();
      const prior = liveTraffic();
      const serving = Object.keys(prior)[0];
      const image = (
        cluster.get('Deployment', NS, serving)!.spec as { template: { spec: { containers: { image: string }[] } } }
      ).template.spec.containers[0].image;
      const next = fault.kind === 'unavailable' ? 'missing' : image.endsWith(':v0') ? 'v1' : 'v0';
      const newName = serving === 'demo-blue' ? 'demo-green' : 'demo-blue';
      const isRouteWrite = (q: ApiRequest) => q.method === 'PATCH' && q.kind?.kind === 'HTTPRoute' && q.name === 'demo';
      let writes = 0;
      let intruder: TrafficMap | undefined;
      const counter = (q: ApiRequest) => {
        if (!isRouteWrite(q)) return;
        writes++;
        if (fault.kind === 'concurrent' && writes === fault.at) {
          // Someone else moves 1% between the two serving colours (both ready by then).
          const t = liveTraffic();
          const [a, b] = Object.keys(t);
          if (!b) return;
          intruder = { [a]: t[a] + 1, [b]: t[b] - 1 };
          cluster.edit('HTTPRoute', NS, 'demo', {
            spec: {
              rules: [
                {
                  matches: [{ path: { type: 'PathPrefix', value: '/' } }],
                  backendRefs: Object.entries(intruder).map(([name, weight]) => ({
                    group: '',
                    kind: 'Service',
                    name,
                    port: 80,
                    weight,
                  })),
                },
              ],
            },
          });
        }
      };
      cluster.api.hooks.push(counter);
      // Faults are counted over the route writes (the nth write fails); 4 failures outlast the client's retries.
      let nth = 0;
      const onNth = (at: number) => (q: ApiRequest) => isRouteWrite(q) && ++nth === at;
      const fromNth = (at: number) => (q: ApiRequest) => isRouteWrite(q) && ++nth >= at;
      if (fault.kind === 'api-5xx') cluster.api.faults.push({ when: fromNth(fault.at), status: 500, times: 4 });
      if (fault.kind === 'transient')
        cluster.api.faults.push({ when: onNth(fault.at), status: fault.status, times: 1, retryAfterSeconds: 0 });
      if (fault.kind === 'conflict') cluster.api.faults.push({ when: onNth(fault.at), status: 409, times: 1 });
      if (fault.kind === 'lost-answer')
        cluster.api.faults.push({ when: fromNth(fault.at), status: 503, times: 4, afterApplying: true });
      // The new release fails its requests once it has this much weight: the stage's checks catch it.
      if (fault.kind === 'bad-at') cluster.gateway.faults.push({ backend: newName, whenWeightAtLeast: fault.weight });
      const watch = watchInvariants();
      const loop = trafficLoop();
      // A short deadline only where the image never becomes available (a loaded machine starts pods slowly).
      const timeout = fault.kind === 'unavailable' ? 2 : 30;
      const run = await deployToKubernetes(options(next, { entry: entry({ ROLLOUT_TIMEOUT_SECONDS: timeout }) }));
      const { failures } = await loop.stop();
      watch.stop();
      cluster.api.hooks.splice(cluster.api.hooks.indexOf(counter), 1);
      cluster.api.faults.length = 0;
      cluster.gateway.faults.length = 0;
      expect(watch.violations).toEqual([]);
      // No request fails but those of the injected bad release (while it had weight, before the rollback).
      expect(failures.filter((f) => !f.startsWith(`500 injected failure of ${newName}`))).toEqual([]);
      const live = liveTraffic();
      if (intruder) {
        expect(run.rollout?.outcome).toBe('conflict');
        expect(live).toEqual(intruder);
        return;
      }
      // A failure the client's retries outlast promotes; every other one restores the prior weights.
      if (fault.kind === 'transient') {
        expect([run.rollout?.outcome, run.rollout?.reason]).toEqual(['promoted', undefined]);
        expect(live).toEqual({ [newName]: 100 });
      } else {
        expect(run.rollout?.outcome).toBe('rolled-back');
        expect(sameTraffic(live, prior)).toBe(true);
        // A bad release is a failed check at its stage (the step's exit 1), not an outside failure.
        if (fault.kind === 'bad-at')
          expect(run.rollout!.steps.find((x) => x.kind === 'stage' && !x.passed)?.weight).toBe(fault.weight);
        expect(run.summary).toContain('Reason:');
      }
      expectNoSecret([...logs, run.summary]);
    }),
    {
      numRuns: 10,
      seed: Number(process.env.FC_SEED ?? 1),
      // A bad release caught at a stage always runs, whatever the seed draws.
      examples: [[{ kind: 'bad-at', weight: 50 }]],
    },
  );
}, 600_000);

test('keep 1: after promotion the old colour is pruned (a mirror to it, its header rule, then Deployment, Service, Secret), no request fails', async () => {
  settle();
  const serving = Object.keys(liveTraffic())[0];
  const image = (
    cluster.get('Deployment', NS, serving)!.spec as { template: { spec: { containers: { image: string }[] } } }
  ).template.spec.containers[0].image;
  const old = serving;
  // Someone mirrors to the serving colour by hand: kept through the rollout, removed before its Service goes.
  const rules = (route()!.spec as { rules: Record<string, unknown>[] }).rules;
  cluster.edit('HTTPRoute', NS, 'demo', {
    spec: {
      rules: [
        {
          ...rules[0],
          filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: old, port: 80 }, percent: 10 } }],
        },
      ],
    },
  });
  const loop = trafficLoop();
  const r = await deployToKubernetes(options(image.endsWith(':v0') ? 'v1' : 'v0', { keep: 1 }));
  const { failures } = await loop.stop();
  expect(r.rollout?.outcome).toBe('promoted');
  expect(r.rollout?.pruned).toEqual([old]);
  expect(failures).toEqual([]);
  expect(cluster.get('Deployment', NS, old)).toBeUndefined();
  expect(cluster.get('Service', NS, old)).toBeUndefined();
  expect(cluster.get('Secret', NS, `${old}-secrets`)).toBeUndefined();
  expect(mirrorFilters()).toEqual([]);
  const colours = (
    cluster.get('HTTPRoute', NS, 'demo-colours')!.spec as { rules: { backendRefs: { name: string }[] }[] }
  ).rules;
  expect(colours.map((x) => x.backendRefs[0].name)).toEqual([r.deployment]);
}, 90_000);

test('kubectl, an independent client: get deployments,services,httproutes and apply --server-side work against the emulator', async () => {
  const found = await promisify(execFile)('kubectl', ['version', '--client']).then(
    () => true,
    () => false,
  );
  if (!found) {
    console.warn(
      'kubectl is not installed (Debian package kubernetes-client): the independent client check is skipped',
    );
    return;
  }
  const kubectl = async (...args: string[]) =>
    (await promisify(execFile)('kubectl', ['--kubeconfig', cluster.kubeconfig, ...args], { encoding: 'utf8' })).stdout;
  const listed = await kubectl('get', 'deployments,services,httproutes', '-n', NS, '-o', 'name');
  const serving = Object.keys(liveTraffic())[0];
  expect(listed.split('\n')).toEqual(
    expect.arrayContaining([
      `deployment.apps/${serving}`,
      `service/${serving}`,
      'httproute.gateway.networking.k8s.io/demo',
    ]),
  );
  const manifest = path.join(f.dir, 'extra.yaml');
  writeFileSync(
    manifest,
    `apiVersion: v1\nkind: Service\nmetadata:\n  name: extra\n  namespace: ${NS}\nspec:\n  selector: {app: extra}\n  ports: [{port: 80, targetPort: 8080}]\n`,
  );
  expect(await kubectl('apply', '--server-side', '-f', manifest)).toContain('service/extra serverside-applied');
  expect(
    (cluster.get('Service', NS, 'extra')!.metadata as { managedFields: { manager: string }[] }).managedFields[0]
      .manager,
  ).toBe('kubectl');
  // An invalid object is refused by the emulator's schema validation (422), and kubectl says so.
  writeFileSync(
    manifest,
    `apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\n  namespace: ${NS}\nspec:\n  ports: [{port: "eighty"}]\n`,
  );
  await expect(kubectl('apply', '--server-side', '-f', manifest)).rejects.toThrow(/is invalid/);
  await kubectl('delete', 'service', 'extra', '-n', NS);
  expect(cluster.get('Service', NS, 'extra')).toBeUndefined();
});
