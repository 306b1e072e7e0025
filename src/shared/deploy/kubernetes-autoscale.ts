/**
 * The HorizontalPodAutoscaler (autoscaling/v2) of one colour's Deployment, built with kubernetes-models and
 * validated against the API schema before it is sent. One per colour, named like the colour's Deployment, so a
 * colour scales on its own load and is pruned with it. CPU use is the only rule a cluster can carry out
 * without a custom metrics adapter; the config check refuses the others. Cooldowns are the stabilization
 * windows of each direction.
 * @module
 */
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { KubernetesEntry } from '../config/deployment.js';
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
