/**
 * A Gateway API HTTPRoute as a rollout target. The traffic map is the weighted rule of the `<NAME>` route;
 * writes are server-side applies carrying the resourceVersion read, so a concurrent edit (kubectl edit, another
 * pipeline) fails with 409 and is reported as a ConcurrentEdit instead of being overwritten. Versions are the
 * colours' Deployments (`<NAME>-blue`, `<NAME>-green`); provisioning one is given by the caller (it needs the
 * image, the variables and the wait for availability); deleting one removes its Deployment, Service and Secret
 * and its header rule. A mirror map is the weighted rule's RequestMirror filters (Gateway API, Extended support).
 * @module
 */
import { HPA_API } from './kubernetes-autoscale.js';
import type { KubernetesEntry } from '../config/deployment.js';
import { KubeConflict, type KubeClient, type KubeObject } from './kubernetes-client.js';
import {
  AUTOSCALED,
  colourOf,
  coloursRouteManifest,
  coloursRouteName,
  DEPLOYED_AT,
  mirrorOf,
  ownedSelector,
  secretName,
  trafficOf,
  trafficRouteManifest,
  type Colour,
} from './kubernetes-manifests.js';
import { ConcurrentEdit, describeTraffic, type TrafficMap, type TrafficTarget } from './rollout.js';

const ROUTE_API = 'gateway.networking.k8s.io/v1';

export class GatewayRoute implements TrafficTarget {
  readonly mirrors = true;
  /** The mirror map last read: kept by a write that gives none, as Azure ML keeps its mirrorTraffic. */
  private lastMirror: TrafficMap = {};

  constructor(
    readonly client: KubeClient,
    readonly entry: KubernetesEntry,
    private readonly provisionVersion: (version: string) => Promise<void> = async () => {
      throw new Error('no version to provision');
    },
  ) {}

  async readTraffic(): Promise<{ traffic: TrafficMap; etag?: string; mirror: TrafficMap }> {
    const route = await this.client.read<KubeObject>(ROUTE_API, 'HTTPRoute', this.entry.namespace, this.entry.name);
    this.lastMirror = route ? mirrorOf(route as never) : {};
    if (!route) return { traffic: {}, mirror: {} };
    return {
      traffic: trafficOf(route as never),
      etag: route.metadata?.resourceVersion,
      mirror: { ...this.lastMirror },
    };
  }

  async writeTraffic(traffic: TrafficMap, etag?: string, mirror?: TrafficMap): Promise<void> {
    if (!etag) {
      // No route when we read: it must still not exist (a create), else someone made one meanwhile.
      const now = await this.readTraffic();
      if (now.etag)
        throw new ConcurrentEdit(
          `HTTPRoute ${this.entry.name} was created by someone else (${describeTraffic(now.traffic)})`,
        );
    }
    // A version given live traffic is never also mirrored to (its copies would double its load).
    const mirrored = Object.fromEntries(
      Object.entries(mirror ?? this.lastMirror).filter(([v, percent]) => percent > 0 && !(traffic[v] > 0)),
    );
    try {
      await this.client.apply(
        trafficRouteManifest(this.entry, traffic, etag, mirrored),
        `set traffic ${describeTraffic(traffic, mirrored)} on HTTPRoute ${this.entry.namespace}/${this.entry.name}`,
      );
    } catch (e) {
      if (e instanceof KubeConflict)
        throw new ConcurrentEdit(
          `HTTPRoute ${this.entry.name} was changed by someone else since it was read (${e.message})`,
        );
      throw e;
    }
  }

  provision(version: string): Promise<void> {
    return this.provisionVersion(version);
  }

  /** The colours' Deployments, newest deploy first. */
  async listVersions(): Promise<string[]> {
    const deployments = await this.client.list<KubeObject>('apps/v1', 'Deployment', this.entry.namespace, {
      labelSelector: ownedSelector(this.entry),
    });
    return deployments
      .filter((d) => colourOf(this.entry, String(d.metadata?.name)))
      .sort((a, b) =>
        String(b.metadata?.annotations?.[DEPLOYED_AT] ?? '').localeCompare(
          String(a.metadata?.annotations?.[DEPLOYED_AT] ?? ''),
        ),
      )
      .map((d) => String(d.metadata?.name));
  }

  async deleteVersion(version: string): Promise<void> {
    const colour = colourOf(this.entry, version);
    if (!colour) throw new Error(`${version} is not a colour of ${this.entry.name}`);
    const ns = this.entry.namespace;
    // A mirror to it goes first: a RequestMirror filter never points at a Service that is going away.
    const live = await this.readTraffic();
    if (live.mirror[version] !== undefined) {
      const { [version]: _dropped, ...mirror } = live.mirror;
      await this.writeTraffic(live.traffic, live.etag, mirror);
    }
    // The header rule next: a route never points at a Service that is going away.
    const rest = (await this.listVersions()).map((v) => colourOf(this.entry, v)!).filter((c) => c !== colour);
    await this.applyColours(rest);
    const autoscaled =
      (await this.client.read<KubeObject>('apps/v1', 'Deployment', ns, version))?.metadata?.annotations?.[
        AUTOSCALED
      ] === 'true';
    await this.client.delete('apps/v1', 'Deployment', ns, version);
    await this.client.delete('v1', 'Service', ns, version);
    await this.client.delete('v1', 'Secret', ns, secretName(this.entry, colour));
    if (autoscaled) await this.client.delete(HPA_API, 'HorizontalPodAutoscaler', ns, version);
  }

  /** The header route listing exactly these colours (deleted when none is left). */
  async applyColours(colours: Colour[]): Promise<void> {
    if (colours.length === 0)
      return this.client.delete(ROUTE_API, 'HTTPRoute', this.entry.namespace, coloursRouteName(this.entry));
    await this.client.apply(
      coloursRouteManifest(this.entry, colours),
      `apply HTTPRoute ${this.entry.namespace}/${coloursRouteName(this.entry)}`,
    );
  }
}
