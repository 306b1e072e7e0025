/**
 * An Azure Container App in multiple-revision mode as a rollout target, through @azure/arm-appcontainers.
 *
 * How revisions map onto `TrafficTarget`: a version is a revision name (`<app>--<suffix>`); the traffic map is
 * `configuration.ingress.traffic` summed per revision (a `latestRevision: true` entry counts for the app's
 * `latestRevisionName`); `provision` is a template update with the version's `revisionSuffix` (which creates
 * the revision) or the activation of that revision when it exists, then a wait until it is provisioned, running
 * and healthy; `deleteVersion` deactivates a revision (revisions cannot be deleted; an inactive one runs no
 * replicas and can be activated again). Labels ride on the traffic entries: every write keeps them, a labelled
 * revision without weight stays as a 0% entry so its label URL keeps answering.
 *
 * A template update never gives the new revision weight: before it, `latestRevision` entries are pinned to
 * the revision they point at. The app is created when absent and never recreated. Container Apps has no ETag
 * on the app: the version tag handed to the rollout core is the weights themselves, and a traffic write is
 * preceded by a read compared with it, so a concurrent edit is detected, not overwritten (the window left is
 * that one read-then-write).
 * @module
 */
import type {
  ContainerApp,
  ContainerAppsAPIClient,
  Revision,
  Secret,
  Template,
  TrafficWeight,
} from '@azure/arm-appcontainers';
import { ConfigError, ServiceError } from '../errors.js';
import { ConcurrentEdit, describeTraffic, sameTraffic, type TrafficMap, type TrafficTarget } from './rollout.js';

export interface ContainerAppSpec {
  resourceGroup: string;
  name: string;
  environmentId: string;
  location: string;
  /** User-assigned identity ARM id; undefined: system-assigned. */
  identity?: string;
  registryServer?: string;
  targetPort: number;
  /** The revision template, without `revisionSuffix`. */
  template: Template;
  /** Container-app secrets: Key Vault references only (no `value`). */
  secrets: Secret[];
}

export interface WaitOptions {
  /** Between two reads of a revision's state (default 5 s). */
  pollMs?: number;
  /** Longest wait for a revision to become healthy (default 15 min). */
  timeoutMs?: number;
  /** LRO poll interval given to the SDK (default 5 s). */
  lroPollMs?: number;
}

/** The revision name a suffix gives. */
export function revisionName(app: string, suffix: string): string {
  return `${app}--${suffix}`;
}

/** Container Apps says "Running" or, when it scaled to its maximum, "RunningAtMaxScale". */
const RUNNING = new Set(['running', 'runningatmaxscale']);

export class ContainerAppTarget implements TrafficTarget {
  /** The traffic entries as last read (labels included). */
  private entries: TrafficWeight[] = [];
  private lastMap?: TrafficMap;
  private location?: string;
  /** Label to put on the new revision once it is healthy. */
  label?: string;
  /** The revision this rollout started (created or activated): the one a failed rollout deactivates. */
  private started?: string;

  /** The revision this rollout created or activated (none once a failure deactivated it again). */
  get startedRevision(): string | undefined {
    return this.started;
  }

  constructor(
    readonly client: ContainerAppsAPIClient,
    readonly spec: ContainerAppSpec,
    readonly wait: WaitOptions = {},
    readonly log: (line: string) => void = () => undefined,
  ) {}

  private what(s: string): string {
    return `${s} (container app ${this.spec.name} in resource group ${this.spec.resourceGroup})`;
  }

  private get poll() {
    return { updateIntervalInMs: this.wait.lroPollMs ?? 5000 };
  }

  async read(): Promise<ContainerApp | undefined> {
    try {
      const app = await this.client.containerApps.get(this.spec.resourceGroup, this.spec.name);
      this.location = app.location;
      return app;
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw serviceError(e, this.what('read'));
    }
  }

  /** Creates the app with the first revision (no traffic until the rollout gives it some); an existing app is kept. */
  async ensure(suffix: string): Promise<{ created: boolean; app: ContainerApp }> {
    const existing = await this.read();
    if (existing) {
      if (existing.managedEnvironmentId && !sameId(existing.managedEnvironmentId, this.spec.environmentId))
        throw ConfigError.at(
          { file: 'deployment_config.json' },
          `container app ${this.spec.name} runs in ${existing.managedEnvironmentId}; expected ${this.spec.environmentId} (apps are never moved or recreated: use another CONTAINER_APP_NAME)`,
        );
      return { created: false, app: existing };
    }
    const s = this.spec;
    const app: ContainerApp = {
      location: s.location,
      tags: { created_by: 'llmops' },
      identity: s.identity
        ? { type: 'UserAssigned', userAssignedIdentities: { [s.identity]: {} } }
        : { type: 'SystemAssigned' },
      managedEnvironmentId: s.environmentId,
      configuration: {
        activeRevisionsMode: 'Multiple',
        ingress: { external: true, targetPort: s.targetPort, transport: 'auto', traffic: [] },
        secrets: s.secrets,
        ...this.registries(),
      },
      template: { ...s.template, revisionSuffix: suffix },
    };
    try {
      const created = await this.client.containerApps.createOrUpdate(s.resourceGroup, s.name, app, this.poll);
      return { created: true, app: created };
    } catch (e) {
      throw serviceError(e, this.what('create'));
    }
  }

  private registries(): Pick<NonNullable<ContainerApp['configuration']>, 'registries'> {
    const s = this.spec;
    return s.registryServer ? { registries: [{ server: s.registryServer, identity: s.identity ?? 'system' }] } : {};
  }

  async readTraffic(): Promise<{ traffic: TrafficMap; etag?: string }> {
    const app = await this.read();
    if (!app) throw new ServiceError(`Container Apps: container app ${this.spec.name} no longer exists`);
    this.entries = app.configuration?.ingress?.traffic ?? [];
    const traffic: TrafficMap = {};
    for (const t of this.entries) {
      const name = t.revisionName ?? (t.latestRevision ? app.latestRevisionName : undefined);
      if (name && (t.weight ?? 0) > 0) traffic[name] = (traffic[name] ?? 0) + (t.weight ?? 0);
    }
    // Single-revision mode routes everything to the latest revision whatever the entries say.
    if (app.configuration?.activeRevisionsMode !== 'Multiple' && app.latestRevisionName)
      return this.remember({ [app.latestRevisionName]: 100 });
    return this.remember(traffic);
  }

  private remember(traffic: TrafficMap): { traffic: TrafficMap; etag: string } {
    this.lastMap = traffic;
    return { traffic: { ...traffic }, etag: weightsTag(traffic) };
  }

  /** Labels as last read: revision → label. */
  labels(): Map<string, string> {
    return new Map(this.entries.filter((t) => t.label && t.revisionName).map((t) => [t.revisionName!, t.label!]));
  }

  /** Traffic entries for a map, keeping every label (a labelled revision without weight gets a 0% entry). */
  entriesFor(traffic: TrafficMap, labels = this.labels()): TrafficWeight[] {
    const out: TrafficWeight[] = Object.entries(traffic)
      .filter(([, w]) => w > 0)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([revisionName, weight]) => ({
        revisionName,
        weight,
        ...(labels.has(revisionName) ? { label: labels.get(revisionName) } : {}),
      }));
    for (const [revisionName, label] of labels)
      if (!(traffic[revisionName] > 0)) out.push({ revisionName, weight: 0, label });
    return out;
  }

  /**
   * `etag` is the weights tag `readTraffic` gave (the app has no ETag of its own): the write goes ahead only if
   * the live weights still have that tag, so an edit made at any time since that read is detected.
   */
  async writeTraffic(traffic: TrafficMap, etag?: string): Promise<void> {
    await this.writeWeights(traffic, etag);
  }

  /** `writeTraffic` with the labels to write (default: the labels as they are now). */
  private async writeWeights(traffic: TrafficMap, etag?: string, labels?: Map<string, string>): Promise<void> {
    const expected = this.lastMap;
    const { traffic: live, etag: now } = await this.readTraffic();
    if (etag ? etag !== now : expected && !sameTraffic(live, expected))
      throw new ConcurrentEdit(`traffic of ${this.spec.name} changed to ${describeTraffic(live)} since it was read`);
    // The labels as they are now: a label set by anyone is kept.
    await this.patch(
      { configuration: { ingress: { traffic: this.entriesFor(traffic, labels ?? this.labels()) } } },
      `set traffic ${describeTraffic(traffic)}`,
    );
    this.lastMap = { ...traffic };
  }

  /** JSON merge patch of the app; `location` is sent as read (the envelope requires it). */
  private async patch(envelope: Omit<ContainerApp, 'location'>, what: string): Promise<ContainerApp> {
    const location = this.location ?? (await this.read())?.location ?? this.spec.location;
    try {
      return await this.client.containerApps.update(
        this.spec.resourceGroup,
        this.spec.name,
        { location, ...envelope },
        this.poll,
      );
    } catch (e) {
      throw serviceError(e, this.what(what));
    }
  }

  async revision(name: string): Promise<Revision | undefined> {
    try {
      return await this.client.containerAppsRevisions.getRevision(this.spec.resourceGroup, this.spec.name, name);
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw serviceError(e, this.what(`read revision ${name}`));
    }
  }

  /**
   * The revision `version` (= `<app>--<suffix>`): created by a template update (traffic pinned first, so it gets
   * none), or activated when it exists; then waited on until healthy, then given its label.
   */
  async provision(version: string): Promise<void> {
    const prefix = `${this.spec.name}--`;
    if (!version.startsWith(prefix)) throw new ServiceError(`revision ${version} is not one of ${this.spec.name}`);
    const existing = await this.revision(version);
    if (!existing?.active) this.started = version;
    if (!existing) {
      const app = await this.read();
      if (!app) throw new ServiceError(`Container Apps: container app ${this.spec.name} no longer exists`);
      const pinned = (app.configuration?.ingress?.traffic ?? []).map((t) =>
        t.latestRevision ? { revisionName: app.latestRevisionName, weight: t.weight, label: t.label } : t,
      );
      const s = this.spec;
      this.log(`creating revision ${version} (template update, traffic pinned to the current revisions)`);
      await this.patch(
        {
          configuration: {
            activeRevisionsMode: 'Multiple',
            ingress: { ...ingressOf(app), traffic: pinned.map(clean) },
            secrets: s.secrets,
            ...this.registries(),
          },
          template: { ...s.template, revisionSuffix: version.slice(prefix.length) },
        },
        `create revision ${version}`,
      );
    } else if (!existing.active) {
      this.log(`activating existing revision ${version}`);
      await this.activate(version);
    }
    await this.waitHealthy(version);
    if (this.label) {
      const { traffic, etag } = await this.readTraffic();
      const labels = new Map([...this.labels()].filter(([, l]) => l !== this.label));
      labels.set(version, this.label);
      await this.writeWeights(traffic, etag, labels);
      this.log(`label ${this.label} → ${version}`);
    }
  }

  async activate(version: string): Promise<void> {
    try {
      await this.client.containerAppsRevisions.activateRevision(this.spec.resourceGroup, this.spec.name, version);
    } catch (e) {
      throw serviceError(e, this.what(`activate revision ${version}`));
    }
  }

  /** Until provisioned, running and healthy; a failed revision (or one that never gets there) throws. */
  async waitHealthy(version: string): Promise<Revision> {
    const deadline = Date.now() + (this.wait.timeoutMs ?? 15 * 60_000);
    let last: Revision | undefined;
    for (;;) {
      last = await this.revision(version);
      const p = (last?.provisioningState ?? '').toLowerCase();
      const r = (last?.runningState ?? '').toLowerCase();
      const h = (last?.healthState ?? '').toLowerCase();
      if (last && (p === 'failed' || r === 'failed' || p === 'deprovisioned'))
        throw new ServiceError(
          `Container Apps: revision ${version} failed (provisioning ${last.provisioningState}, running ${last.runningState ?? '?'})${last.provisioningError ? `: ${last.provisioningError}` : ''}`,
        );
      if (last && p === 'provisioned' && RUNNING.has(r) && h === 'healthy') return last;
      if (Date.now() > deadline)
        throw new ServiceError(
          `Container Apps: revision ${version} is not healthy after ${Math.round((this.wait.timeoutMs ?? 15 * 60_000) / 1000)} s (provisioning ${last?.provisioningState ?? 'unknown'}, running ${last?.runningState ?? 'unknown'}, health ${last?.healthState ?? 'unknown'})`,
        );
      await new Promise((r) => setTimeout(r, this.wait.pollMs ?? 5000));
    }
  }

  async revisions(): Promise<Revision[]> {
    const all: Revision[] = [];
    try {
      for await (const r of this.client.containerAppsRevisions.listRevisions(this.spec.resourceGroup, this.spec.name))
        all.push(r);
    } catch (e) {
      throw serviceError(e, this.what('list revisions'));
    }
    return all.sort((a, b) => (b.createdTime?.getTime() ?? 0) - (a.createdTime?.getTime() ?? 0));
  }

  /** Active revisions, newest first (inactive ones are already "deleted" for the rollout core). */
  async listVersions(): Promise<string[]> {
    return (await this.revisions()).filter((r) => r.active).map((r) => r.name!);
  }

  /**
   * A revision that did not promote is deactivated (when this rollout started it): its scale rules belong to it
   * (template.scale), and an inactive revision runs no replicas, so a failed deployment leaves no scaling behind.
   */
  async discard(version: string): Promise<string | undefined> {
    if (this.started !== version) return undefined;
    await this.deleteVersion(version);
    this.started = undefined;
    this.log(`revision ${version} deactivated`);
    return `revision ${version} deactivated (its scale rules run no replicas)`;
  }

  async deleteVersion(version: string): Promise<void> {
    try {
      await this.client.containerAppsRevisions.deactivateRevision(this.spec.resourceGroup, this.spec.name, version);
    } catch (e) {
      throw serviceError(e, this.what(`deactivate old revision ${version}`));
    }
  }
}

/** The ingress as read, minus what the service computes (fqdn). */
function ingressOf(app: ContainerApp): NonNullable<NonNullable<ContainerApp['configuration']>['ingress']> {
  const { fqdn: _fqdn, ...rest } = app.configuration?.ingress ?? {};
  return rest;
}

/** A version tag of the weights: equal tags, same map (0% entries and order ignored). */
function weightsTag(traffic: TrafficMap): string {
  return JSON.stringify(
    Object.entries(traffic)
      .filter(([, w]) => w > 0)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

function clean(t: TrafficWeight): TrafficWeight {
  return Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) as TrafficWeight;
}

function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Any SDK failure as one clear outside-service error (exit 3), a 403 named as a missing role. */
export function serviceError(e: unknown, what: string): Error {
  if (e instanceof ServiceError || e instanceof ConfigError || e instanceof ConcurrentEdit) return e;
  const status = statusOf(e);
  const message = e instanceof Error ? e.message : String(e);
  const role =
    status === 403 ? ' (the signed-in identity needs Contributor on the container app or its resource group)' : '';
  return new ServiceError(
    `Container Apps: ${what} failed${status ? ` (HTTP ${status})` : ''}: ${message}${role}`,
    status,
  );
}
