/**
 * The `template.scale` of a container app revision from its entry: replica bounds, and the AUTOSCALE rules
 * Container Apps can carry out (an HTTP rule on concurrent requests, a KEDA cpu rule on utilization) with the
 * scale-in cooldown as `cooldownPeriod`. Part of the revision template, so it is applied in the same PUT as
 * the image and only takes effect with the new revision; a refused PUT changes nothing.
 * @module
 */
import type { Scale, ScaleRule } from '@azure/arm-appcontainers';
import type { ContainerAppEntry } from '../config/deployment.js';

export function containerAppScale(e: ContainerAppEntry): Scale {
  const a = e.autoscale;
  if (!a) return { minReplicas: e.minReplicas, maxReplicas: e.maxReplicas };
  const rules: ScaleRule[] = [];
  if (a.concurrentRequests !== undefined)
    rules.push({ name: 'http-concurrency', http: { metadata: { concurrentRequests: String(a.concurrentRequests) } } });
  if (a.cpuPercent !== undefined)
    rules.push({
      name: 'cpu',
      custom: { type: 'cpu', metadata: { type: 'Utilization', value: String(a.cpuPercent) } },
    });
  return {
    minReplicas: a.minInstances,
    maxReplicas: a.maxInstances,
    ...(a.scaleInCooldownSeconds !== undefined ? { cooldownPeriod: a.scaleInCooldownSeconds } : {}),
    rules,
  };
}
