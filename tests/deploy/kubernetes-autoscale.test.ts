/**
 * AUTOSCALE on `deploy --target kubernetes`, against the Kubernetes API emulator (every stored object validated
 * with kubernetes-models): a HorizontalPodAutoscaler per colour applied by llmops with the entry's bounds, CPU
 * target and stabilization windows; shown by the dry run and the summary; deleted with its colour when pruned
 * and when AUTOSCALE is removed; an autoscaler the API refuses fails the provisioning and the route is never
 * touched.
 */
import { kubernetesEntry, type KubernetesEntry } from '../../src/shared/config/deployment.js';
import type { KubeClient } from '../../src/shared/deploy/kubernetes-client.js';
import {
  deployToKubernetes,
  rollbackKubernetes,
  type KubernetesDeployOptions,
} from '../../src/shared/deploy/kubernetes-deploy.js';
import type { TrafficMap } from '../../src/shared/deploy/rollout.js';
import { startKubernetes, type KubernetesFixture } from '../helpers/deploy-targets.js';
import type { KubeCluster } from '../support/kubernetes/cluster.js';

const NS = 'flows';
const IMAGE = (v: string) => `registry.example/demo:${v}`;
const AUTOSCALE = {
  MIN_INSTANCES: 2,
  MAX_INSTANCES: 6,
  CPU_PERCENT: 65,
  SCALE_OUT_COOLDOWN_SECONDS: 30,
  SCALE_IN_COOLDOWN_SECONDS: 600,
};

let f: KubernetesFixture;
let cluster: KubeCluster;
let client: KubeClient;

beforeAll(async () => {
  f = await startKubernetes({ llmKey: 'sk-kube-autoscale-0001', smokeContains: 'hello', image: IMAGE });
  ({ cluster, client } = f);
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
          CPU_REQUEST: '250m',
          ROLLOUT_TIMEOUT_SECONDS: 30,
          AUTOSCALE,
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
    steps: [50],
    keep: 1,
    stateDir: f.stateDir,
    pollMs: 50,
    log: f.log,
    ...extra,
  };
}

function liveTraffic(): TrafficMap {
  const rules = ((
    cluster.get('HTTPRoute', NS, 'demo')?.spec as { rules?: { backendRefs?: { name: string; weight?: number }[] }[] }
  )?.rules ?? [])[0];
  return Object.fromEntries(
    (rules?.backendRefs ?? []).filter((b) => (b.weight ?? 1) > 0).map((b) => [b.name, b.weight ?? 1]),
  );
}

test('dry run shows the autoscaler and writes nothing', async () => {
  const before = cluster.api.requests.length;
  const dry = await deployToKubernetes(options('v0', { dryRun: true }));
  expect(dry.summary).toContain('HorizontalPodAutoscaler');
  expect(dry.summary).toContain(
    'autoscale 2..6 instances: CPU > 65% (scale-out cooldown 30 s, scale-in cooldown 600 s)',
  );
  expect(cluster.api.requests.slice(before).filter((q) => q.method !== 'GET')).toEqual([]);
});

test('deploy applies a HorizontalPodAutoscaler for the new colour (validated by the API schema) before any traffic', async () => {
  const r = await deployToKubernetes(options('v0'));
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  const hpa = cluster.get('HorizontalPodAutoscaler', NS, 'demo-blue')!;
  expect(hpa).toBeDefined();
  expect(hpa.spec).toEqual({
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'demo-blue' },
    minReplicas: 2,
    maxReplicas: 6,
    metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 65 } } }],
    behavior: { scaleUp: { stabilizationWindowSeconds: 30 }, scaleDown: { stabilizationWindowSeconds: 600 } },
  });
  expect((hpa.metadata as { managedFields: { manager: string }[] }).managedFields.map((m) => m.manager)).toEqual([
    'llmops',
  ]);
  // The autoscaler's minimum is the colour's starting replica count.
  expect((cluster.get('Deployment', NS, 'demo-blue')!.spec as { replicas: number }).replicas).toBe(2);
  // The HPA was written before the route first gave the colour weight.
  const writes = cluster.api.requests.filter((q) => q.method !== 'GET');
  const hpaAt = writes.findIndex((q) => q.path.endsWith('/horizontalpodautoscalers/demo-blue'));
  const routeAt = writes.findIndex((q) => q.path.endsWith('/httproutes/demo'));
  expect(hpaAt).toBeGreaterThanOrEqual(0);
  expect(hpaAt).toBeLessThan(routeAt);
  expect(r.summary).toContain('demo-blue: autoscale 2..6 instances');
}, 60_000);

test('an autoscaler the API refuses fails the provisioning: the route is never touched', async () => {
  const before = cluster.get('HTTPRoute', NS, 'demo')!.metadata!.resourceVersion;
  cluster.api.faults.push({
    when: (q) => q.kind?.kind === 'HorizontalPodAutoscaler' && q.method === 'PATCH',
    status: 422,
  });
  const r = await deployToKubernetes(options('v1'));
  expect(r.rollout?.outcome).toBe('rolled-back');
  expect(r.rollout?.reason).toMatch(/HorizontalPodAutoscaler/);
  expect(cluster.get('HTTPRoute', NS, 'demo')!.metadata!.resourceVersion).toBe(before);
  expect(liveTraffic()).toEqual({ 'demo-blue': 100 });
}, 60_000);

test('a new colour failing its checks after its autoscaler was applied leaves no autoscaler behind', async () => {
  const blue = cluster.get('HorizontalPodAutoscaler', NS, 'demo-blue')!.spec;
  const r = await deployToKubernetes(
    options('v1', { checks: [() => Promise.resolve({ passed: false, detail: 'refused on purpose' })] }),
  );
  expect(r.rollout?.outcome).toBe('rolled-back');
  expect(r.rollout?.reason).toContain('HorizontalPodAutoscaler demo-green removed');
  expect(liveTraffic()).toEqual({ 'demo-blue': 100 });
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-green')).toBeUndefined();
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-blue')!.spec).toEqual(blue);
}, 60_000);

test('deploy --rollback puts the autoscalers back with the traffic (and forward again)', async () => {
  const r = await deployToKubernetes(
    options('v1', { keep: 2, entry: entry({ AUTOSCALE: { ...AUTOSCALE, MAX_INSTANCES: 9 } }) }),
  );
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  const green = cluster.get('HorizontalPodAutoscaler', NS, 'demo-green')!.spec;
  const blue = cluster.get('HorizontalPodAutoscaler', NS, 'demo-blue')!.spec;
  const rollback = () =>
    rollbackKubernetes({
      client,
      entry: entry(),
      name: 'demo-dev',
      stateDir: f.stateDir,
      log: f.log,
    });
  const back = await rollback();
  expect(liveTraffic()).toEqual({ 'demo-blue': 100 });
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-green')).toBeUndefined();
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-blue')!.spec).toEqual(blue);
  expect(back.summary).toContain('HorizontalPodAutoscaler demo-green removed.');
  await rollback();
  expect(liveTraffic()).toEqual({ 'demo-green': 100 });
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-green')!.spec).toEqual(green);
  await rollback();
  expect(liveTraffic()).toEqual({ 'demo-blue': 100 });
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-green')).toBeUndefined();
}, 120_000);

test('the new colour without AUTOSCALE has no autoscaler; the pruned colour loses its own', async () => {
  const r = await deployToKubernetes(options('v1', { entry: entry({ AUTOSCALE: undefined, REPLICAS: 1 }) }));
  expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  expect(liveTraffic()).toEqual({ 'demo-green': 100 });
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-green')).toBeUndefined();
  // keep 1: blue was pruned, with its autoscaler.
  expect(cluster.get('Deployment', NS, 'demo-blue')).toBeUndefined();
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-blue')).toBeUndefined();
}, 60_000);

test('a reused colour failing its checks loses its autoscaler; the serving colour keeps its own', async () => {
  // blue, then green, both autoscaled and kept: blue idle with its autoscaler, green serving with its own.
  for (const v of ['v0', 'v1']) {
    const r = await deployToKubernetes(options(v, { keep: 2 }));
    expect([r.rollout?.outcome, r.rollout?.reason]).toEqual(['promoted', undefined]);
  }
  expect(liveTraffic()).toEqual({ 'demo-green': 100 });
  const green = cluster.get('HorizontalPodAutoscaler', NS, 'demo-green')!;
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-blue')).toBeDefined();
  // blue is reused for the next image and fails: its pods are now the failed version's.
  const r = await deployToKubernetes(
    options('v0', {
      keep: 2,
      entry: entry({ AUTOSCALE: { ...AUTOSCALE, MAX_INSTANCES: 4 } }),
      checks: [() => Promise.resolve({ passed: false, detail: 'refused on purpose' })],
    }),
  );
  expect(r.deployment).toBe('demo-blue');
  expect(r.rollout?.outcome).toBe('rolled-back');
  expect(r.rollout?.reason).toContain('HorizontalPodAutoscaler demo-blue removed');
  expect(liveTraffic()).toEqual({ 'demo-green': 100 });
  // No autoscaler scales the failed colour's pods; the serving colour's is as it was, on its own Deployment.
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-blue')).toBeUndefined();
  const hpas = cluster.list('HorizontalPodAutoscaler', NS);
  expect(hpas.map((h) => (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name)).toEqual(['demo-green']);
  const after = cluster.get('HorizontalPodAutoscaler', NS, 'demo-green')!;
  expect(after.spec).toEqual(green.spec);
  expect(after.metadata?.generation).toBe(green.metadata?.generation);
}, 120_000);

test('a reused colour whose new autoscaler is refused loses the one it had: it would scale the new pods', async () => {
  // blue serves again with its autoscaler; green idles with the one of its last deploy.
  const ok = await deployToKubernetes(options('v0', { keep: 2 }));
  expect([ok.rollout?.outcome, ok.rollout?.reason]).toEqual(['promoted', undefined]);
  const blue = cluster.get('HorizontalPodAutoscaler', NS, 'demo-blue')!;
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-green')).toBeDefined();
  // green gets the new pods, then its autoscaler is refused.
  cluster.api.faults.push({
    when: (q) => q.kind?.kind === 'HorizontalPodAutoscaler' && q.method === 'PATCH',
    status: 422,
  });
  const r = await deployToKubernetes(
    options('v1', { keep: 2, entry: entry({ AUTOSCALE: { ...AUTOSCALE, MAX_INSTANCES: 5 } }) }),
  );
  expect(r.deployment).toBe('demo-green');
  expect(r.rollout?.outcome).toBe('rolled-back');
  expect(r.rollout?.reason).toContain('HorizontalPodAutoscaler demo-green removed');
  expect(liveTraffic()).toEqual({ 'demo-blue': 100 });
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-green')).toBeUndefined();
  expect(cluster.get('HorizontalPodAutoscaler', NS, 'demo-blue')!.spec).toEqual(blue.spec);
}, 120_000);
