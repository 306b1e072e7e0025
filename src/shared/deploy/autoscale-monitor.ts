/**
 * Azure Monitor autoscale settings (`Microsoft.Insights/autoscalesettings`, api-version 2022-10-01) built from an
 * AUTOSCALE block, for the two targets that scale through Azure Monitor: an Azure ML managed online deployment
 * and an App Service plan. One setting per scaled resource, one profile, and for each rule a scale-out rule
 * above the threshold and a scale-in rule below half of it (the gap keeps the count from flapping).
 *
 * Applying is one PUT of the whole setting: Azure Monitor either stores it whole or refuses it and keeps the
 * setting it had, so a refused setting leaves nothing half-applied. The setting read before the PUT is kept so a
 * rollback can put it back.
 * @module
 */
import { isDeepStrictEqual } from 'node:util';
import { ArmClient } from '../azure/arm-client.js';
import { armScope } from '../azure/clouds.js';
import type { MlWorkspace } from '../azure/workspace.js';
import type { AutoscaleSettings } from '../config/autoscale.js';

export const INSIGHTS_API_VERSION = '2022-10-01';

/** Where a rule's metric comes from. */
export interface MonitorMetric {
  name: string;
  namespace: string;
  resourceUri: string;
  /** How the instances' values are combined. */
  statistic: 'Average' | 'Sum';
  /** Only this deployment's share of an endpoint-wide metric. */
  dimensions?: { DimensionName: string; Operator: 'Equals'; Values: string[] }[];
  /** Divide by the instance count: a per-instance threshold over a metric of the whole resource. */
  dividePerInstance?: boolean;
}

export interface MonitorTarget {
  /** Name of the autoscale setting resource. */
  settingName: string;
  resourceGroup: string;
  subscriptionId: string;
  location: string;
  /** The resource scaled (the deployment, the plan). */
  targetResourceUri: string;
  cpu: MonitorMetric;
  requests?: MonitorMetric;
}

export interface AutoscaleSettingResource {
  location: string;
  tags?: Record<string, string>;
  properties: Record<string, unknown> & { enabled?: boolean; targetResourceUri?: string };
}

/** ISO 8601 duration of whole seconds (minutes when whole), as Azure Monitor writes its cooldowns. */
export function isoDuration(seconds: number): string {
  return seconds % 60 === 0 ? `PT${seconds / 60}M` : `PT${seconds}S`;
}

export function autoscaleSettingId(t: MonitorTarget): string {
  return `/subscriptions/${t.subscriptionId}/resourceGroups/${t.resourceGroup}/providers/Microsoft.Insights/autoscalesettings/${t.settingName}`;
}

/** The request body of the autoscale setting. */
export function monitorAutoscaleSetting(a: AutoscaleSettings, t: MonitorTarget): AutoscaleSettingResource {
  const out = isoDuration(a.scaleOutCooldownSeconds ?? 300);
  const into = isoDuration(a.scaleInCooldownSeconds ?? 600);
  const pair = (m: MonitorMetric, threshold: number) =>
    (
      [
        ['GreaterThan', threshold, 'Increase', out],
        ['LessThan', threshold / 2, 'Decrease', into],
      ] as const
    ).map(([operator, value, direction, cooldown]) => ({
      metricTrigger: {
        metricName: m.name,
        metricNamespace: m.namespace,
        metricResourceUri: m.resourceUri,
        timeGrain: 'PT1M',
        statistic: m.statistic,
        timeWindow: 'PT5M',
        timeAggregation: 'Average',
        operator,
        threshold: value,
        ...(m.dimensions ? { dimensions: m.dimensions } : {}),
        ...(m.dividePerInstance ? { dividePerInstance: true } : {}),
      },
      scaleAction: { direction, type: 'ChangeCount', value: '1', cooldown },
    }));
  const rules = [
    ...(a.cpuPercent !== undefined ? pair(t.cpu, a.cpuPercent) : []),
    ...(a.requestsPerMinute !== undefined && t.requests ? pair(t.requests, a.requestsPerMinute) : []),
  ];
  return {
    location: t.location,
    tags: { 'managed-by': 'llmops' },
    properties: {
      name: t.settingName,
      enabled: true,
      targetResourceUri: t.targetResourceUri,
      profiles: [
        {
          name: 'llmops',
          capacity: {
            minimum: String(a.minInstances),
            maximum: String(a.maxInstances),
            default: String(a.defaultInstances),
          },
          rules,
        },
      ],
    },
  };
}

/** An Azure ML managed online deployment scaled on its CPU use and its share of the endpoint's requests. */
export function mlDeploymentTarget(o: {
  workspaceId: string;
  endpoint: string;
  deployment: string;
  location: string;
}): MonitorTarget {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\//i.exec(o.workspaceId);
  const endpointId = `${o.workspaceId}/onlineEndpoints/${o.endpoint}`;
  const deploymentId = `${endpointId}/deployments/${o.deployment}`;
  return {
    settingName: `${o.endpoint}-${o.deployment}-autoscale`,
    subscriptionId: m?.[1] ?? '',
    resourceGroup: m?.[2] ?? '',
    location: o.location,
    targetResourceUri: deploymentId,
    cpu: {
      name: 'CpuUtilizationPercentage',
      namespace: 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments',
      resourceUri: deploymentId,
      statistic: 'Average',
    },
    requests: {
      name: 'RequestsPerMinute',
      namespace: 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints',
      resourceUri: endpointId,
      statistic: 'Average',
      // The endpoint counts the requests of all its deployments: this one's, per instance.
      dimensions: [{ DimensionName: 'deployment', Operator: 'Equals', Values: [o.deployment] }],
      dividePerInstance: true,
    },
  };
}

/** An App Service plan (by its ARM id) scaled on its CPU use and the site's requests per instance. */
export function appServicePlanTarget(o: { planId: string; siteId: string; location: string }): MonitorTarget {
  const m =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Web\/serverfarms\/([^/]+)$/i.exec(
      o.planId,
    );
  if (!m) throw new Error(`not an App Service plan id: ${o.planId}`);
  return {
    settingName: `${m[3]}-autoscale`,
    subscriptionId: m[1],
    resourceGroup: m[2],
    location: o.location,
    targetResourceUri: o.planId,
    cpu: { name: 'CpuPercentage', namespace: 'microsoft.web/serverfarms', resourceUri: o.planId, statistic: 'Average' },
    requests: {
      name: 'Requests',
      namespace: 'microsoft.web/sites',
      resourceUri: o.siteId,
      statistic: 'Sum',
      dividePerInstance: true,
    },
  };
}

/** A Resource Manager client at the Insights api-version, signed in as the workspace's client is. */
export function insightsClient(
  ws: Pick<MlWorkspace, 'credential'> & { settings: { resourceManager: string } },
): ArmClient {
  return new ArmClient({
    endpoint: ws.settings.resourceManager,
    credential: ws.credential,
    scope: armScope(ws.settings.resourceManager),
    apiVersion: INSIGHTS_API_VERSION,
    role: 'Monitoring Contributor on the resource group',
  });
}

/** Reads and writes one autoscale setting through Resource Manager. */
export class MonitorAutoscale {
  constructor(
    private readonly client: ArmClient,
    readonly target: MonitorTarget,
  ) {}

  get id(): string {
    return autoscaleSettingId(this.target);
  }

  async read(): Promise<AutoscaleSettingResource | undefined> {
    const r = await this.client.get<AutoscaleSettingResource>(this.id, {
      what: `read autoscale setting ${this.target.settingName}`,
      accept: [404],
    });
    return r.status === 404 ? undefined : r.body;
  }

  /** PUT the whole setting; answers the setting it replaced (undefined: there was none). */
  async apply(a: AutoscaleSettings): Promise<AutoscaleSettingResource | undefined> {
    const before = await this.read();
    await this.put(monitorAutoscaleSetting(a, this.target));
    return before;
  }

  async put(body: AutoscaleSettingResource): Promise<void> {
    await this.client.request('PUT', this.id, {
      what: `apply autoscale setting ${this.target.settingName} to ${this.target.targetResourceUri}`,
      body: { location: body.location, tags: body.tags, properties: body.properties },
      role: 'Monitoring Contributor on the resource group',
    });
  }

  /** Put back what `apply` replaced: the earlier setting, or none. */
  async restore(before: AutoscaleSettingResource | undefined): Promise<void> {
    return putOrDelete(this.client, this.id, before ?? null);
  }

  /** Applies the setting and answers the change, for the state file (what `--rollback` puts back). */
  async change(a: AutoscaleSettings): Promise<SettingChange> {
    const before = await this.apply(a);
    const after = monitorAutoscaleSetting(a, this.target);
    return { id: this.id, before: before ? bodyOf(before) : null, after: bodyOf(after) };
  }
}

/** One autoscale setting a rollout changed: as it was before and as the rollout left it (null: there was none). */
export interface SettingChange {
  id: string;
  before: AutoscaleSettingResource | null;
  after: AutoscaleSettingResource | null;
}

/**
 * `deploy --rollback`: each setting the last rollout changed goes back to what it was, unless someone changed it
 * since (left as it is, and said). Answers the changes the other way round (what a second rollback puts back)
 * and one line per setting.
 */
export async function revertSettings(
  client: ArmClient,
  changes: readonly SettingChange[],
): Promise<{ reverted: SettingChange[]; lines: string[] }> {
  const reverted: SettingChange[] = [];
  const lines: string[] = [];
  for (const c of changes) {
    const name = c.id.split('/').pop()!;
    const r = await client.get<AutoscaleSettingResource>(c.id, {
      what: `read autoscale setting ${name}`,
      accept: [404],
    });
    const live = r.status === 404 ? null : bodyOf(r.body);
    if (!sameSetting(live, c.after)) {
      lines.push(`autoscale setting ${name} was changed since the rollout; left as it is`);
      continue;
    }
    await putOrDelete(client, c.id, c.before);
    reverted.push({ id: c.id, before: c.after, after: c.before });
    lines.push(c.before ? `autoscale setting ${name} put back as it was` : `autoscale setting ${name} removed`);
  }
  return { reverted, lines };
}

async function putOrDelete(client: ArmClient, id: string, body: AutoscaleSettingResource | null): Promise<void> {
  const name = id.split('/').pop()!;
  if (body) {
    await client.request('PUT', id, {
      what: `put back autoscale setting ${name}`,
      body: bodyOf(body),
      role: 'Monitoring Contributor on the resource group',
    });
    return;
  }
  await client.request('DELETE', id, {
    what: `delete autoscale setting ${name}`,
    accept: [404],
    role: 'Monitoring Contributor on the resource group',
  });
}

/** What a PUT sends (a read adds id, name, type and properties.name, which the PUT does not take). */
function bodyOf(r: AutoscaleSettingResource): AutoscaleSettingResource {
  const { name: _name, ...properties } = r.properties as Record<string, unknown> & { name?: unknown };
  return { location: r.location, ...(r.tags ? { tags: r.tags } : {}), properties };
}

/** The same setting as far as scaling goes: target, on/off and profiles. */
export function sameSetting(a: AutoscaleSettingResource | null, b: AutoscaleSettingResource | null): boolean {
  if (!a || !b) return a === b;
  const key = (x: AutoscaleSettingResource) => [
    String(x.properties.targetResourceUri ?? '').toLowerCase(),
    x.properties.enabled ?? true,
    x.properties.profiles,
  ];
  return isDeepStrictEqual(key(a), key(b));
}
