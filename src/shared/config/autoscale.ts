/**
 * The `AUTOSCALE` block of a deployment-config entry: one shape for every deploy target (instance bounds, the
 * rules that add instances, cooldowns), typed here, and checked for what each target can express. The schema
 * has checked the field types; this says which rules a target has no way to carry out, with the entry's
 * file:line:column, instead of dropping them silently.
 * @module
 */
import type { Problem } from '../errors.js';
import { locate, type SourceFile } from '../source.js';

/** One autoscale block, with the target-independent meaning of each field. */
export interface AutoscaleSettings {
  minInstances: number;
  maxInstances: number;
  /** Instances Azure Monitor sets while metrics are missing (default: minInstances). */
  defaultInstances: number;
  /** Add instances while the average CPU use is above this percentage (of the CPU request on Kubernetes). */
  cpuPercent?: number;
  /** Add instances while each instance gets more than this many requests a minute. */
  requestsPerMinute?: number;
  /** Add instances while each instance has more than this many requests in flight. */
  concurrentRequests?: number;
  /** Least time between two scale-outs. */
  scaleOutCooldownSeconds?: number;
  /** Least time between two scale-ins (Container Apps: the wait before scaling in). */
  scaleInCooldownSeconds?: number;
}

/** The deployment-config arrays that take an AUTOSCALE block. */
export type AutoscaleArray = 'azure_managed_endpoint' | 'webapp_endpoint' | 'kubernetes' | 'container_app_endpoint';

const RULE_KEYS = ['CPU_PERCENT', 'REQUESTS_PER_MINUTE', 'CONCURRENT_REQUESTS'] as const;

/** What each target cannot carry out, and why (shown to the user). */
const UNSUPPORTED: Record<AutoscaleArray, Partial<Record<string, string>>> = {
  azure_managed_endpoint: {
    CONCURRENT_REQUESTS:
      'Azure Monitor has no in-flight request metric for online deployments; use REQUESTS_PER_MINUTE or CPU_PERCENT',
  },
  webapp_endpoint: {
    CONCURRENT_REQUESTS:
      'App Service plan autoscale has no in-flight request metric; use REQUESTS_PER_MINUTE or CPU_PERCENT',
  },
  kubernetes: {
    REQUESTS_PER_MINUTE: 'a HorizontalPodAutoscaler needs a custom metrics adapter for request rates; use CPU_PERCENT',
    CONCURRENT_REQUESTS:
      'a HorizontalPodAutoscaler needs a custom metrics adapter for in-flight requests; use CPU_PERCENT',
  },
  container_app_endpoint: {
    REQUESTS_PER_MINUTE:
      'Container Apps HTTP scale rules count concurrent requests, not a rate; use CONCURRENT_REQUESTS',
    SCALE_OUT_COOLDOWN_SECONDS:
      'Container Apps has no scale-out cooldown (only SCALE_IN_COOLDOWN_SECONDS, its cooldownPeriod)',
  },
};

/** Azure Monitor autoscale takes cooldowns from one minute to one week. */
const AZURE_MONITOR = new Set<AutoscaleArray>(['azure_managed_endpoint', 'webapp_endpoint']);

/** Problems of the AUTOSCALE blocks of every array that takes one (after the schema has passed). */
export function checkAutoscale(
  source: SourceFile,
  config: Record<string, Record<string, unknown>[]>,
  problems: Problem[],
): void {
  for (const array of Object.keys(UNSUPPORTED) as AutoscaleArray[])
    (config[array] ?? []).forEach((entry, i) => {
      const block = entry.AUTOSCALE as Record<string, unknown> | undefined;
      if (!block) return;
      const where = `${array}[${i}].AUTOSCALE`;
      const at = (...keys: string[]) => locate(source, [array, i, ...keys]);
      const push = (keys: string[], message: string) => problems.push({ ...at(...keys), message });
      for (const [key, why] of Object.entries(UNSUPPORTED[array]))
        if (block[key] !== undefined) push(['AUTOSCALE', key], `${where}.${key}: ${array} cannot express it: ${why}`);
      if (!RULE_KEYS.some((k) => block[k] !== undefined))
        push(['AUTOSCALE'], `${where}: found no scale rule; expected at least one of ${RULE_KEYS.join(', ')}`);
      const min = block.MIN_INSTANCES === undefined ? 1 : Number(block.MIN_INSTANCES);
      const max = Number(block.MAX_INSTANCES);
      if (min > max)
        push(
          ['AUTOSCALE', 'MAX_INSTANCES'],
          `${where}.MAX_INSTANCES: ${max} is below MIN_INSTANCES ${min}; expected at least ${min}`,
        );
      if (min < 1 && array !== 'container_app_endpoint')
        push(
          ['AUTOSCALE', 'MIN_INSTANCES'],
          `${where}.MIN_INSTANCES: ${min}; expected at least 1 (only container_app_endpoint scales to zero)`,
        );
      if (block.DEFAULT_INSTANCES !== undefined) {
        const d = Number(block.DEFAULT_INSTANCES);
        if (!AZURE_MONITOR.has(array))
          push(
            ['AUTOSCALE', 'DEFAULT_INSTANCES'],
            `${where}.DEFAULT_INSTANCES: ${array} cannot express it: only Azure Monitor autoscale (azure_managed_endpoint, webapp_endpoint) has a default instance count`,
          );
        else if (d < min || d > max)
          push(
            ['AUTOSCALE', 'DEFAULT_INSTANCES'],
            `${where}.DEFAULT_INSTANCES: ${d} is outside MIN_INSTANCES..MAX_INSTANCES (${min}..${max}); expected a count within them`,
          );
      }
      if (AZURE_MONITOR.has(array))
        for (const key of ['SCALE_OUT_COOLDOWN_SECONDS', 'SCALE_IN_COOLDOWN_SECONDS'])
          if (block[key] !== undefined && Number(block[key]) < 60)
            push(
              ['AUTOSCALE', key],
              `${where}.${key}: ${Number(block[key])}; expected at least 60 (Azure Monitor autoscale cooldowns are 1 minute to 1 week)`,
            );
      if (array === 'kubernetes') {
        if (block.CPU_PERCENT !== undefined && !entry.CPU_REQUEST)
          push(
            ['AUTOSCALE', 'CPU_PERCENT'],
            `${where}.CPU_PERCENT: found no CPU_REQUEST in the entry; expected one (a HorizontalPodAutoscaler measures CPU use as a share of the request)`,
          );
        if (entry.REPLICAS !== undefined)
          push(
            ['REPLICAS'],
            `${array}[${i}]: found both REPLICAS and AUTOSCALE; expected one of them (AUTOSCALE.MIN_INSTANCES is the starting replica count)`,
          );
      }
      if (array === 'container_app_endpoint')
        for (const key of ['MIN_REPLICAS', 'MAX_REPLICAS'])
          if (entry[key] !== undefined)
            push(
              [key],
              `${array}[${i}]: found both ${key} and AUTOSCALE; expected one of them (AUTOSCALE.MIN_INSTANCES / MAX_INSTANCES)`,
            );
    });
}

/** The typed AUTOSCALE block of one entry (checked by checkAutoscale), or undefined when it has none. */
export function autoscaleOf(entry: Record<string, unknown>): AutoscaleSettings | undefined {
  const b = entry.AUTOSCALE as Record<string, unknown> | undefined;
  if (!b) return undefined;
  const num = (k: string) => (b[k] === undefined ? undefined : Number(b[k]));
  const minInstances = num('MIN_INSTANCES') ?? 1;
  return {
    minInstances,
    maxInstances: Number(b.MAX_INSTANCES),
    defaultInstances: num('DEFAULT_INSTANCES') ?? Math.max(1, minInstances),
    cpuPercent: num('CPU_PERCENT'),
    requestsPerMinute: num('REQUESTS_PER_MINUTE'),
    concurrentRequests: num('CONCURRENT_REQUESTS'),
    scaleOutCooldownSeconds: num('SCALE_OUT_COOLDOWN_SECONDS'),
    scaleInCooldownSeconds: num('SCALE_IN_COOLDOWN_SECONDS'),
  };
}

/** One line for plans and summaries, e.g. "autoscale 2..10 instances: CPU > 70%, > 600 requests/min per instance". */
export function describeAutoscale(a: AutoscaleSettings): string {
  const rules = [
    a.cpuPercent !== undefined ? `CPU > ${a.cpuPercent}%` : '',
    a.requestsPerMinute !== undefined ? `> ${a.requestsPerMinute} requests/min per instance` : '',
    a.concurrentRequests !== undefined ? `> ${a.concurrentRequests} concurrent requests per instance` : '',
  ].filter(Boolean);
  const cool = [
    a.scaleOutCooldownSeconds !== undefined ? `scale-out cooldown ${a.scaleOutCooldownSeconds} s` : '',
    a.scaleInCooldownSeconds !== undefined ? `scale-in cooldown ${a.scaleInCooldownSeconds} s` : '',
  ].filter(Boolean);
  return `autoscale ${a.minInstances}..${a.maxInstances} instances: ${rules.join(', ')}${cool.length ? ` (${cool.join(', ')})` : ''}`;
}
