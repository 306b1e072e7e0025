/**
 * An Azure ML online endpoint (managed, or Kubernetes through the Azure ML extension) as a rollout target.
 * The endpoint is created only when absent, never recreated or deleted. Traffic is changed by GET + PUT of
 * the whole endpoint (PATCH has no `traffic`), conditional on the ETag read (If-Match) so a concurrent edit
 * is detected instead of overwritten; without an ETag from the service the live map is compared first.
 * Deployments are blue/green versions: PUT and waited on; their logs are quoted when provisioning fails.
 * @module
 */
import type { MlWorkspace } from '../azure/workspace.js';
import { ConfigError, ServiceError } from '../errors.js';
import { ConcurrentEdit, describeTraffic, sameTraffic, type TrafficMap, type TrafficTarget } from './rollout.js';

export type EndpointKind = 'managed' | 'kubernetes';

export interface EndpointSpec {
  name: string;
  kind: EndpointKind;
  authMode: 'Key' | 'AADToken' | 'AMLToken';
  location: string;
  description?: string;
  tags?: Record<string, string>;
  /** Kubernetes: the attached compute's name. */
  compute?: string;
}

export interface DeploymentSpec {
  model: string;
  environmentId: string;
  instanceType?: string;
  instanceCount: number;
  environmentVariables: Record<string, string>;
  appInsightsEnabled: boolean;
  description?: string;
  tags?: Record<string, string>;
  /** Kubernetes resource requests. */
  cpu?: string;
  memory?: string;
}

interface EndpointResource {
  location: string;
  kind?: string;
  tags?: Record<string, string>;
  identity?: { type: string; userAssignedIdentities?: Record<string, object> };
  sku?: unknown;
  properties: {
    authMode: string;
    description?: string;
    properties?: Record<string, string>;
    traffic?: TrafficMap;
    mirrorTraffic?: TrafficMap;
    compute?: string;
    publicNetworkAccess?: string;
    scoringUri?: string;
    provisioningState?: string;
  };
}

export interface DeploymentResource {
  name: string;
  properties: { provisioningState?: string; model?: string; environmentId?: string };
  systemData?: { createdAt?: string };
}

export class AzureOnlineEndpoint implements TrafficTarget {
  private last?: EndpointResource;

  /** Managed endpoints copy a share of live requests to one deployment (mirrorTraffic); Kubernetes ones cannot. */
  readonly mirrors: boolean;

  constructor(
    readonly ws: MlWorkspace,
    readonly endpoint: EndpointSpec,
    readonly deployment?: DeploymentSpec,
  ) {
    this.mirrors = endpoint.kind === 'managed';
  }

  get path(): string {
    return `${this.ws.id}/onlineEndpoints/${encodeURIComponent(this.endpoint.name)}`;
  }

  private what(s: string): string {
    return `${s} (online endpoint ${this.endpoint.name} in workspace ${this.ws.settings.workspace})`;
  }

  async read(): Promise<{ resource?: EndpointResource; etag?: string }> {
    const r = await this.ws.client.get<EndpointResource>(this.path, { what: this.what('read'), accept: [404] });
    if (r.status === 404) return {};
    this.last = r.body;
    return { resource: r.body, etag: r.headers.etag };
  }

  /** Creates the endpoint when it does not exist; an existing one is kept as it is (its kind checked). */
  async ensure(): Promise<{ created: boolean; scoringUri: string }> {
    const { resource } = await this.read();
    if (resource) {
      const isK8s = Boolean(resource.properties.compute);
      if (isK8s !== (this.endpoint.kind === 'kubernetes'))
        throw ConfigError.at(
          { file: 'deployment_config.json' },
          `endpoint ${this.endpoint.name} exists as a ${isK8s ? 'Kubernetes' : 'managed'} endpoint; expected a ${this.endpoint.kind} one (use the other target or another ENDPOINT_NAME)`,
        );
      return { created: false, scoringUri: resource.properties.scoringUri ?? '' };
    }
    const e = this.endpoint;
    const r = await this.ws.client.lro<EndpointResource>('PUT', this.path, {
      what: this.what('create'),
      body: {
        location: e.location,
        identity: { type: 'SystemAssigned' },
        tags: e.tags ?? {},
        properties: {
          authMode: e.authMode,
          description: e.description,
          // Lets the endpoint's identity read workspace connection secrets (the deployments' ${{azureml://connections/...}}).
          properties: { enforce_access_to_default_secret_stores: 'enabled' },
          traffic: {},
          ...(e.kind === 'kubernetes' ? { compute: `${this.ws.id}/computes/${e.compute}` } : {}),
        },
      },
      headers: { 'if-none-match': '*' },
    });
    this.last = r.body;
    return { created: true, scoringUri: r.body.properties.scoringUri ?? '' };
  }

  async readTraffic(): Promise<{ traffic: TrafficMap; etag?: string; mirror: TrafficMap }> {
    const { resource, etag } = await this.read();
    if (!resource) throw new ServiceError(`Azure ML: online endpoint ${this.endpoint.name} no longer exists`);
    return {
      traffic: { ...(resource.properties.traffic ?? {}) },
      etag,
      mirror: { ...(resource.properties.mirrorTraffic ?? {}) },
    };
  }

  async writeTraffic(traffic: TrafficMap, etag?: string, mirror?: TrafficMap): Promise<void> {
    if (!this.last) await this.read();
    if (!etag) {
      // No ETag from the service: the narrowest check left is comparing with what we read last.
      const expected = this.last!.properties.traffic ?? {};
      const { traffic: live } = await this.readTraffic();
      if (!sameTraffic(live, expected))
        throw new ConcurrentEdit(`traffic changed to ${describeTraffic(live)} since it was read`);
    }
    if (mirror && Object.values(mirror).some((w) => w > 0) && !this.mirrors)
      throw new ServiceError(`Azure ML: ${this.endpoint.name} is a Kubernetes endpoint; they cannot mirror traffic`);
    const body = putBody(this.last!, traffic, mirror);
    const r = await this.ws.client.lro('PUT', this.path, {
      what: this.what(`set traffic ${describeTraffic(traffic, mirror)}`),
      body,
      headers: etag ? { 'if-match': etag } : undefined,
      accept: [412],
    });
    if (r.status === 412)
      throw new ConcurrentEdit(`endpoint ${this.endpoint.name} was changed by someone else since it was read (ETag)`);
  }

  deploymentPath(name: string): string {
    return `${this.path}/deployments/${encodeURIComponent(name)}`;
  }

  async provision(version: string): Promise<void> {
    const d = this.deployment;
    if (!d) throw new ServiceError('no deployment to provision');
    const kubernetes = this.endpoint.kind === 'kubernetes';
    const body = {
      location: this.endpoint.location,
      sku: { name: 'Default', capacity: d.instanceCount },
      tags: d.tags ?? {},
      properties: {
        endpointComputeType: kubernetes ? 'Kubernetes' : 'Managed',
        model: d.model,
        environmentId: d.environmentId,
        ...(d.instanceType ? { instanceType: d.instanceType } : {}),
        environmentVariables: d.environmentVariables,
        appInsightsEnabled: d.appInsightsEnabled,
        description: d.description,
        // A flow calls LLMs: the 5 s default would time out real requests (3 min as the template sets).
        requestSettings: { requestTimeout: 'PT3M', maxConcurrentRequestsPerInstance: 1 },
        livenessProbe: {
          initialDelay: 'PT10S',
          period: 'PT10S',
          timeout: 'PT2S',
          failureThreshold: 30,
          successThreshold: 1,
        },
        ...(kubernetes && (d.cpu || d.memory)
          ? {
              containerResourceRequirements: {
                containerResourceRequests: {
                  ...(d.cpu ? { cpu: d.cpu } : {}),
                  ...(d.memory ? { memory: d.memory } : {}),
                },
              },
            }
          : {}),
      },
    };
    try {
      await this.ws.client.lro('PUT', this.deploymentPath(version), {
        what: this.what(`provision deployment ${version}`),
        body,
      });
    } catch (e) {
      if (!(e instanceof ServiceError)) throw e;
      const logs = await this.logs(version).catch(() => '');
      throw new ServiceError(`${e.message}${logs ? `\nlast lines of the deployment's log:\n${logs}` : ''}`, e.status);
    }
    const r = await this.ws.client.get<DeploymentResource>(this.deploymentPath(version), {
      what: this.what(`read deployment ${version}`),
    });
    if (r.body.properties.provisioningState !== 'Succeeded')
      throw new ServiceError(
        `Azure ML: deployment ${version} is ${r.body.properties.provisioningState ?? 'in an unknown state'}, expected Succeeded`,
      );
  }

  async logs(version: string, tail = 20): Promise<string> {
    const r = await this.ws.client.request<{ content?: string }>('POST', `${this.deploymentPath(version)}/getLogs`, {
      what: this.what(`read the logs of deployment ${version}`),
      body: { containerType: 'InferenceServer', tail },
    });
    return (r.body?.content ?? '').trim();
  }

  async deployments(): Promise<DeploymentResource[]> {
    const all = await this.ws.client.list<DeploymentResource>(`${this.path}/deployments`, {
      what: this.what('list deployments'),
    });
    return all.sort((a, b) => (b.systemData?.createdAt ?? '').localeCompare(a.systemData?.createdAt ?? ''));
  }

  async listVersions(): Promise<string[]> {
    return (await this.deployments()).map((d) => d.name);
  }

  async deleteVersion(version: string): Promise<void> {
    await this.ws.client.lro('DELETE', this.deploymentPath(version), {
      what: this.what(`delete old deployment ${version}`),
    });
  }

  /** An Azure ML token for an AMLToken endpoint (POST .../token), handed to `mask` before anything else sees it. */
  async token(mask: (s: string) => void): Promise<string> {
    const r = await this.ws.client.request<{ accessToken?: string }>('POST', `${this.path}/token`, {
      what: this.what('get a scoring token'),
      role: 'AzureML Data Scientist on the workspace (it allows getting online endpoint tokens)',
    });
    const token = r.body?.accessToken;
    if (!token) throw new ServiceError(`Azure ML: endpoint ${this.endpoint.name} returned no token`);
    mask(token);
    return token;
  }

  /** The endpoint's primary key (authMode Key), handed to `mask` before anything else sees it. */
  async key(mask: (s: string) => void): Promise<string> {
    const r = await this.ws.client.request<{ primaryKey?: string }>('POST', `${this.path}/listKeys`, {
      what: this.what('read the endpoint keys'),
      role: 'AzureML Data Scientist on the workspace (it allows listKeys on online endpoints)',
    });
    const key = r.body?.primaryKey;
    if (!key) throw new ServiceError(`Azure ML: endpoint ${this.endpoint.name} returned no primary key`);
    mask(key);
    return key;
  }
}

/** The whole endpoint as read, with read-only and secret fields left out and the new traffic map. */
function putBody(r: EndpointResource, traffic: TrafficMap, mirrorTraffic?: TrafficMap): Record<string, unknown> {
  const p = r.properties;
  const properties: Record<string, unknown> = {
    authMode: p.authMode,
    description: p.description,
    properties: p.properties,
    traffic,
    compute: p.compute,
    publicNetworkAccess: p.publicNetworkAccess,
  };
  // Not asked for a mirror: the live one stays, unless it points at a deployment being given live traffic (Azure
  // refuses a deployment that is both). Asked: exactly that one (an empty map removes it).
  const mirror = Object.fromEntries(
    Object.entries(mirrorTraffic ?? p.mirrorTraffic ?? {}).filter(([d, w]) => w > 0 && !traffic[d]),
  );
  if (Object.keys(mirror).length) properties.mirrorTraffic = mirror;
  for (const k of Object.keys(properties)) if (properties[k] === undefined) delete properties[k];
  const identity = r.identity
    ? {
        type: r.identity.type,
        ...(r.identity.userAssignedIdentities
          ? {
              userAssignedIdentities: Object.fromEntries(
                Object.keys(r.identity.userAssignedIdentities).map((k) => [k, {}]),
              ),
            }
          : {}),
      }
    : undefined;
  return {
    location: r.location,
    ...(r.kind ? { kind: r.kind } : {}),
    ...(r.tags ? { tags: r.tags } : {}),
    ...(identity ? { identity } : {}),
    ...(r.sku ? { sku: r.sku } : {}),
    properties,
  };
}
