/**
 * The HorizontalPodAutoscaler (autoscaling/v2) of one colour's Deployment, built with kubernetes-models and
 * validated against the API schema before it is sent. One per colour, named like the colour's Deployment, so a
 * colour scales on its own load and is pruned with it. CPU use is the only rule a cluster can carry out
 * without a custom metrics adapter; the config check refuses the others. Cooldowns are the stabilization
 * windows of each direction. A rollout records how it changed a colour's autoscaler (before and after), so
 * `deploy --rollback` puts it back as it was; a failed rollout removes the failed colour's autoscaler instead
 * (its pods are the failed version's).
 * @module
 */
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { KubernetesEntry } from '../config/deployment.js';
import type { KubeClient, KubeObject } from './kubernetes-client.js';
import { checked, labels, versionName, type Colour } from './kubernetes-manifests.js';

export const HPA_API = 'autoscaling/v2';

export function horizontalPodAutoscalerManifest(entry: KubernetesEntry, colour: Colour): HorizontalPodAutoscaler {
  const a = entry.autoscale;
  if (!a) throw new Error(`kubernetes entry ${entry.name} has no AUTOSCALE block`);
  const name = versionName(entry, colour);
  const window = (seconds: number | undefined) =>
    seconds === undefined ? {} : { stabilizationWindowSeconds: Math.min(3600, seconds) };
  const behavior = {
    ...(a.scaleOutCooldownSeconds !== undefined ? { scaleUp: window(a.scaleOutCooldownSeconds) } : {}),
    ...(a.scaleInCooldownSeconds !== undefined ? { scaleDown: window(a.scaleInCooldownSeconds) } : {}),
  };
  return checked(
    new HorizontalPodAutoscaler({
      metadata: { name, namespace: entry.namespace, labels: labels(entry, colour) },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: a.minInstances,
        maxReplicas: a.maxInstances,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: a.cpuPercent ?? 80 } },
          },
        ],
        ...(Object.keys(behavior).length ? { behavior } : {}),
      },
    }),
    `HorizontalPodAutoscaler ${name}`,
  );
}

/**
 * One colour's autoscaler as a rollout changed it: as it was before and as the rollout left it (null: none), and
 * the generation it left (a later change of the spec by anyone bumps it; status updates do not).
 */
export interface HpaChange {
  name: string;
  namespace: string;
  before: KubeObject | null;
  after: KubeObject | null;
  generation?: number;
}

/** The colour's autoscaler as it can be applied again (what the server adds — status, uid, versions — left out). */
export async function readHpa(client: KubeClient, namespace: string, name: string): Promise<KubeObject | null> {
  const live = await client.read<KubeObject & { spec?: unknown }>(HPA_API, 'HorizontalPodAutoscaler', namespace, name);
  return live ? applicable(live) : null;
}

function applicable(o: KubeObject & { spec?: unknown }): KubeObject {
  const m = o.metadata ?? {};
  return {
    apiVersion: HPA_API,
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name: m.name,
      namespace: m.namespace,
      ...(m.labels ? { labels: m.labels } : {}),
      ...(m.annotations ? { annotations: m.annotations } : {}),
    },
    spec: o.spec,
  } as KubeObject;
}

/** Applies the autoscaler (or deletes it: null); answers its generation afterwards. */
export async function putHpa(
  client: KubeClient,
  namespace: string,
  name: string,
  hpa: KubeObject | null,
): Promise<number | undefined> {
  if (!hpa) {
    await client.delete(HPA_API, 'HorizontalPodAutoscaler', namespace, name);
    return undefined;
  }
  const applied = await client.apply<KubeObject>(hpa, `put back HorizontalPodAutoscaler ${name}`);
  return applied.metadata?.generation;
}

/** The change a rollout made by applying `after` over `before` (the applied object is what the server answered). */
export function hpaChange(before: KubeObject | null, applied: KubeObject | null, name: string, namespace: string) {
  return {
    name,
    namespace,
    before,
    after: applied ? applicable(applied) : null,
    ...(applied?.metadata?.generation !== undefined ? { generation: applied.metadata.generation } : {}),
  } satisfies HpaChange;
}

/**
 * `deploy --rollback`: each autoscaler the last rollout changed goes back to what it was, unless someone changed it
 * since (left as it is, and said). Answers the changes the other way round (a second rollback) and one line each.
 */
export async function revertHpas(
  client: KubeClient,
  changes: readonly HpaChange[],
): Promise<{ reverted: HpaChange[]; lines: string[] }> {
  const reverted: HpaChange[] = [];
  const lines: string[] = [];
  for (const c of changes) {
    const live = await client.read<KubeObject>(HPA_API, 'HorizontalPodAutoscaler', c.namespace, c.name);
    const unchanged = c.after === null ? !live : live?.metadata?.generation === c.generation;
    if (!unchanged) {
      lines.push(`HorizontalPodAutoscaler ${c.name} was changed since the rollout; left as it is`);
      continue;
    }
    const generation = await putHpa(client, c.namespace, c.name, c.before);
    reverted.push({
      name: c.name,
      namespace: c.namespace,
      before: c.after,
      after: c.before,
      ...(generation !== undefined ? { generation } : {}),
    });
    lines.push(`HorizontalPodAutoscaler ${c.name} ${c.before ? 'put back as it was' : 'removed'}`);
  }
  return { reverted, lines };
}
