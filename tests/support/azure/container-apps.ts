/**
 * Microsoft.App (Container Apps, api-version 2026-07-01) for the ARM emulator, registered through `handle()`;
 * requests and responses are validated against the vendored spec by the emulator's oav validator.
 *
 * - Managed environments (seeded, each with a default domain).
 * - Container apps: PUT creates (long-running), PATCH is a JSON merge patch (long-running, 202 + Location);
 *   a changed template creates a revision `<app>--<revisionSuffix>` (a suffix already used is refused, as
 *   Azure does); `ingress.traffic` is validated as the service does (weights add up to 100, or nothing at all;
 *   named revisions exist and are active; one label per entry, each label once).
 * - Revisions: list, get, activate, deactivate. Each active revision runs its image for real: the image
 *   reference maps to a build-context folder (`llmops flow build-context`, given by the test) and is started
 *   as its start.sh does, `node <ctx>/app/dist/cli.js flow serve <ctx>/flow ...` on a loopback port, with the
 *   template's environment (secretRef values read from the Key Vault secrets given by the test). The revision
 *   is Provisioning until the server listens and answers /health, then Provisioned/Running/Healthy.
 * - The ingress front: an HTTPS server (the emulator's certificate, which covers `*.<domain>`) that routes by
 *   Host: `<app>.<domain>` split by the traffic weights, `<app>---<label>.<domain>` to the labelled revision,
 *   `<revision>.<domain>` to that revision. Clients reach it with LLMOPS_CONTAINER_APPS_CONNECT_TO.
 * - Faults: a revision that fails provisioning, one whose running state goes Failed, one never healthy; a
 *   concurrent traffic edit; 429/5xx through the emulator's own `inject()`.
 *
 * Every traffic change and revision state change is an event, so tests check invariants after each one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { armError, type ArmEmulator, type HandlerContext, type HandlerResult } from './arm-emulator.js';

export const APP_SPEC = 'app/resource-manager/Microsoft.App/ContainerApps/stable/2026-07-01/openapi.json';
export const APP_DOMAIN = 'kind-river-5e2a1b.westeurope.azurecontainerapps.io';

export interface ContainerAppsOptions {
  /** Image reference → build-context folder (`llmops flow build-context` output). */
  images: Map<string, string>;
  /** How to run node (the build context carries its own CLI in app/dist/cli.js). */
  node?: string;
  /** Key Vault secret URL → value (what a `keyVaultUrl` secret reads with the app's identity). */
  keyVaultSecrets?: Record<string, string>;
  /** Extra environment of the served processes (e.g. PATH for python3). */
  env?: Record<string, string>;
  /** Managed environments to seed (name, resource group); default one `cae-llmops` in the workspace's group. */
  environments?: { name: string; resourceGroup?: string; domain?: string }[];
}

export type RevisionFault = 'provisioning-fails' | 'running-fails' | 'never-healthy';

export interface ContainerAppsEvent {
  kind: 'traffic' | 'revision-state' | 'app-created' | 'concurrent-edit' | 'revision-created';
  app: string;
  revision?: string;
  /** traffic: revision → weight (labels in `labels`); revision-state: the states. */
  traffic?: Record<string, number>;
  labels?: Record<string, string>;
  state?: { provisioningState: string; runningState: string; healthState: string; active: boolean };
  at: number;
}

interface Backend {
  child?: ChildProcess;
  url?: string;
  log: string;
}

interface TrafficEntry {
  revisionName?: string;
  weight?: number;
  latestRevision?: boolean;
  label?: string;
}

type Json = Record<string, unknown>;

export class ContainerAppsEmulator {
  readonly events: ContainerAppsEvent[] = [];
  /** Requests through the ingress front: host, revision that answered, status. */
  readonly served: { host: string; revision?: string; status: number }[] = [];
  /** Image (or revision name) → fault to apply when a revision of it starts. */
  readonly revisionFaults = new Map<string, RevisionFault>();
  /**
   * The ingress answers `status` for a revision (by name, or any revision of an image) while it has at least
   * `whenTrafficAtLeast`% of the traffic (0: always, label URL included).
   */
  readonly ingressFaults: { revision?: string; image?: string; whenTrafficAtLeast?: number; status?: number }[] = [];
  /** App ARM ids created (each once). */
  readonly creations: string[] = [];
  onEvent?: (e: ContainerAppsEvent) => void;
  ingressPort = 0;
  private backends = new Map<string, Backend>();
  private server!: https.Server;
  private stopped = false;

  private constructor(
    readonly arm: ArmEmulator,
    readonly options: ContainerAppsOptions,
  ) {}

  /** The ARM emulator must be started with `specs: [APP_SPEC]` and `certificateNames: ['*.' + APP_DOMAIN]`. */
  static async attach(arm: ArmEmulator, options: ContainerAppsOptions): Promise<ContainerAppsEmulator> {
    const e = new ContainerAppsEmulator(arm, options);
    e.seed();
    e.register();
    e.server = https.createServer({ cert: arm.cert.cert, key: arm.cert.key }, (req, res) => void e.route(req, res));
    await new Promise<void>((r) => e.server.listen(0, '127.0.0.1', r));
    e.ingressPort = (e.server.address() as AddressInfo).port;
    return e;
  }

  /** Environment that points a client (our CLI) at the ingress front. */
  clientEnv(): Record<string, string> {
    return { LLMOPS_CONTAINER_APPS_CONNECT_TO: `127.0.0.1:${this.ingressPort}`, LLMOPS_CONTAINER_APPS_POLL_MS: '50' };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const b of this.backends.values()) stopBackend(b);
    this.backends.clear();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  rgId(rg = this.arm.workspaces[0].resourceGroup): string {
    return `/subscriptions/${this.arm.workspaces[0].subscriptionId}/resourceGroups/${rg}`;
  }

  environmentId(name = 'cae-llmops', rg?: string): string {
    return `${this.rgId(rg)}/providers/Microsoft.App/managedEnvironments/${name}`;
  }

  appId(name: string, rg?: string): string {
    return `${this.rgId(rg)}/providers/Microsoft.App/containerApps/${name}`;
  }

  app(name: string, rg?: string): Json | undefined {
    return this.arm.get(this.appId(name, rg));
  }

  revisions(app: string, rg?: string): Json[] {
    return this.arm.children(this.appId(app, rg), 'revisions');
  }

  revision(app: string, name: string, rg?: string): Json | undefined {
    return this.arm.get(`${this.appId(app, rg)}/revisions/${name}`);
  }

  /** The live weights: revision → percent (latestRevision resolved), 0% left out. */
  traffic(app: string, rg?: string): Record<string, number> {
    const a = this.app(app, rg);
    if (!a) return {};
    return weights(trafficOf(a), String(props(a).latestRevisionName ?? ''));
  }

  labels(app: string, rg?: string): Record<string, string> {
    const a = this.app(app, rg);
    return a ? labelsOf(trafficOf(a)) : {};
  }

  /** Someone else (portal, another pipeline) sets the traffic. */
  concurrentEdit(app: string, traffic: TrafficEntry[], rg?: string): void {
    const a = this.app(app, rg)!;
    ((props(a).configuration as Json).ingress as Json).traffic = traffic;
    this.emitTraffic(app, a, 'concurrent-edit');
  }

  private emit(e: Omit<ContainerAppsEvent, 'at'>): void {
    const event = { ...e, at: Date.now() };
    this.events.push(event);
    this.onEvent?.(event);
  }

  private emitTraffic(app: string, a: Json, kind: 'traffic' | 'concurrent-edit' = 'traffic'): void {
    const t = trafficOf(a);
    this.emit({
      kind,
      app,
      traffic: weights(t, String(props(a).latestRevisionName ?? '')),
      labels: labelsOf(t),
    });
  }

  private seed(): void {
    const ws = this.arm.workspaces[0];
    for (const env of this.options.environments ?? [{ name: 'cae-llmops' }]) {
      const id = this.environmentId(env.name, env.resourceGroup);
      this.arm.put(id, {
        id,
        name: env.name,
        type: 'Microsoft.App/managedEnvironments',
        location: ws.location ?? 'westeurope',
        tags: {},
        properties: {
          provisioningState: 'Succeeded',
          defaultDomain: env.domain ?? APP_DOMAIN,
          staticIp: '127.0.0.1',
          zoneRedundant: false,
        },
      });
    }
  }

  private register(): void {
    const arm = this.arm;
    arm.handle('ManagedEnvironments_Get', (ctx) => {
      const e = arm.get(ctx.id);
      return e ? { status: 200, body: e } : notFound(ctx.id);
    });
    arm.handle('ContainerApps_Get', (ctx) => {
      const a = arm.get(ctx.id);
      return a ? { status: 200, body: a } : notFound(ctx.id);
    });
    arm.handle('ContainerApps_CreateOrUpdate', (ctx) => this.putApp(ctx));
    arm.handle('ContainerApps_Update', (ctx) => this.patchApp(ctx));
    arm.handle('ContainerAppsRevisions_ListRevisions', (ctx) => ({
      status: 200,
      body: { value: arm.children(path.posix.dirname(ctx.id), 'revisions') },
    }));
    arm.handle('ContainerAppsRevisions_GetRevision', (ctx) => {
      const r = arm.get(ctx.id);
      return r ? { status: 200, body: r } : notFound(ctx.id);
    });
    arm.handle('ContainerAppsRevisions_ActivateRevision', (ctx) => this.setActive(ctx, true));
    arm.handle('ContainerAppsRevisions_DeactivateRevision', (ctx) => this.setActive(ctx, false));
  }

  private putApp(ctx: HandlerContext): HandlerResult {
    const existing = this.arm.get(ctx.id);
    if (existing) return this.patchApp(ctx);
    const body = ctx.body as Json;
    const p = (body.properties ?? {}) as Json;
    const envId = String(p.managedEnvironmentId ?? p.environmentId ?? '');
    const env = this.arm.get(envId);
    if (!env) return armError(400, 'ManagedEnvironmentNotFound', `managed environment ${envId} was not found`);
    const name = path.posix.basename(ctx.id);
    const domain = String(props(env).defaultDomain);
    const configuration = structuredClone((p.configuration ?? {}) as Json);
    const ingress = configuration.ingress as Json | undefined;
    if (ingress) ingress.fqdn = `${name}.${domain}`;
    const app: Json = {
      id: ctx.id,
      name,
      type: 'Microsoft.App/containerApps',
      location: body.location,
      tags: body.tags ?? {},
      ...(body.identity ? { identity: withPrincipal(body.identity as Json) } : {}),
      systemData: systemData(),
      properties: {
        provisioningState: 'InProgress',
        runningStatus: 'Running',
        managedEnvironmentId: envId,
        environmentId: envId,
        outboundIpAddresses: ['127.0.0.1'],
        customDomainVerificationId: randomUUID().replace(/-/g, ''),
        configuration,
        template: p.template ?? {},
      },
    };
    const problem = this.newRevisionIfNeeded(app, undefined) ?? this.checkTraffic(app);
    if (problem) return problem;
    this.arm.put(ctx.id, app);
    this.creations.push(ctx.id.toLowerCase());
    this.emit({ kind: 'app-created', app: name });
    this.emitTraffic(name, app);
    const op = this.arm.startOperation((failed) => {
      props(app).provisioningState = failed ? 'Failed' : 'Succeeded';
    });
    return {
      status: 201,
      body: app,
      headers: {
        'azure-asyncoperation': this.arm.operationUrl(ctx.workspace, 'status', op.id),
        'x-ms-async-operation-timeout': 'PT1H',
        'retry-after-ms': '20',
      },
    };
  }

  private patchApp(ctx: HandlerContext): HandlerResult {
    const existing = this.arm.get(ctx.id);
    if (!existing) return notFound(ctx.id);
    const name = path.posix.basename(ctx.id);
    const before = structuredClone(existing);
    const patch = structuredClone(ctx.body as Json);
    const p = (patch.properties ?? {}) as Json;
    delete p.latestRevisionName;
    const merged = mergePatch(structuredClone(existing), { ...patch, properties: p }) as Json;
    const ingress = (props(merged).configuration as Json | undefined)?.ingress as Json | undefined;
    if (ingress) ingress.fqdn = ((props(before).configuration as Json).ingress as Json | undefined)?.fqdn;
    const problem = this.newRevisionIfNeeded(merged, before) ?? this.checkTraffic(merged);
    if (problem) return problem;
    props(merged).provisioningState = 'InProgress';
    this.arm.put(ctx.id, merged);
    if (!isDeepStrictEqual(trafficOf(before), trafficOf(merged))) this.emitTraffic(name, merged);
    const op = this.arm.startOperation((failed) => {
      props(merged).provisioningState = failed ? 'Failed' : 'Succeeded';
    }, merged);
    return { status: 202, headers: this.arm.locationHeaders(ctx.workspace, op.id) };
  }

  /** A changed template (or a new app) makes a revision; returns an ARM error when that is refused. */
  private newRevisionIfNeeded(app: Json, before: Json | undefined): HandlerResult | undefined {
    const template = (props(app).template ?? {}) as Json;
    if (before && isDeepStrictEqual(template, props(before).template)) return undefined;
    const appName = String(app.name);
    const suffix = template.revisionSuffix ? String(template.revisionSuffix) : randomUUID().slice(0, 7);
    const revName = `${appName}--${suffix}`;
    const id = `${String(app.id)}/revisions/${revName}`;
    if (this.arm.get(id))
      return armError(
        400,
        'ContainerAppRevisionSuffixConflict',
        `A revision with suffix ${suffix} already exists for container app ${appName}; use another revisionSuffix`,
      );
    const env = this.arm.get(String(props(app).managedEnvironmentId));
    const revision: Json = {
      id,
      name: revName,
      type: 'Microsoft.App/containerApps/revisions',
      properties: {
        createdTime: new Date().toISOString(),
        lastActiveTime: new Date().toISOString(),
        fqdn: `${revName}.${String(props(env ?? {}).defaultDomain ?? APP_DOMAIN)}`,
        template: structuredClone(template),
        active: true,
        replicas: 0,
        trafficWeight: 0,
        healthState: 'None',
        provisioningState: 'Provisioning',
        runningState: 'Processing',
      },
    };
    this.arm.put(id, revision);
    props(app).latestRevisionName = revName;
    props(app).latestRevisionFqdn = props(revision).fqdn;
    this.emit({ kind: 'revision-created', app: appName, revision: revName });
    this.start(appName, app, revision);
    return undefined;
  }

  private checkTraffic(app: Json): HandlerResult | undefined {
    const entries = trafficOf(app);
    const sum = entries.reduce((s, t) => s + (t.weight ?? 0), 0);
    if (entries.some((t) => (t.weight ?? 0) > 0) && sum !== 100)
      return armError(400, 'ContainerAppInvalidTrafficWeight', `Traffic weights must add up to 100; got ${sum}`);
    const labels = new Set<string>();
    for (const t of entries) {
      if (t.latestRevision && t.revisionName)
        return armError(
          400,
          'ContainerAppInvalidTraffic',
          'A traffic entry names a revision or latestRevision, not both',
        );
      if (t.label) {
        if (labels.has(t.label))
          return armError(400, 'ContainerAppDuplicateLabel', `Label ${t.label} is used by more than one traffic entry`);
        labels.add(t.label);
      }
      if (!t.revisionName) continue;
      const r = this.arm.get(`${String(app.id)}/revisions/${t.revisionName}`);
      if (!r) return armError(400, 'ContainerAppRevisionNotFound', `Revision ${t.revisionName} was not found`);
      if (!props(r).active && (t.weight ?? 0) > 0)
        return armError(400, 'ContainerAppRevisionInactive', `Revision ${t.revisionName} is not active`);
    }
    return undefined;
  }

  private setActive(ctx: HandlerContext, active: boolean): HandlerResult {
    const revId = path.posix.dirname(ctx.id);
    const r = this.arm.get(revId);
    if (!r) return notFound(revId);
    const appId = path.posix.dirname(path.posix.dirname(revId));
    const app = this.arm.get(appId)!;
    const name = String(r.name);
    if (!active && (weights(trafficOf(app), String(props(app).latestRevisionName))[name] ?? 0) > 0)
      return armError(
        400,
        'ContainerAppRevisionHasTraffic',
        `Revision ${name} has traffic; remove it before deactivating`,
      );
    if (props(r).active === active) return { status: 200 };
    props(r).active = active;
    if (active) {
      props(r).provisioningState = 'Provisioning';
      props(r).runningState = 'Processing';
      props(r).healthState = 'None';
      this.start(String(app.name), app, r);
    } else {
      const b = this.backends.get(revId.toLowerCase());
      if (b) stopBackend(b);
      this.backends.delete(revId.toLowerCase());
      props(r).runningState = 'Stopped';
      props(r).replicas = 0;
      props(r).lastActiveTime = new Date().toISOString();
      this.emitState(String(app.name), r);
    }
    return { status: 200 };
  }

  private emitState(app: string, r: Json): void {
    const p = props(r);
    this.emit({
      kind: 'revision-state',
      app,
      revision: String(r.name),
      state: {
        provisioningState: String(p.provisioningState),
        runningState: String(p.runningState),
        healthState: String(p.healthState),
        active: Boolean(p.active),
      },
    });
  }

  /** Runs the revision's image; the states follow what really happens. */
  private start(appName: string, app: Json, r: Json): void {
    const key = String(r.id).toLowerCase();
    const p = props(r);
    const container = (((p.template as Json).containers ?? []) as Json[])[0] ?? {};
    const image = String(container.image ?? '');
    const fault = this.revisionFaults.get(String(r.name)) ?? this.revisionFaults.get(image);
    const fail = (message: string, running = false) => {
      if (running) {
        p.provisioningState = 'Provisioned';
        p.runningState = 'Failed';
      } else p.provisioningState = 'Failed';
      p.healthState = 'Unhealthy';
      p.provisioningError = message;
      this.emitState(appName, r);
    };
    this.emitState(appName, r);
    const backend: Backend = { log: '' };
    this.backends.set(key, backend);
    const run = async () => {
      if (fault === 'provisioning-fails') return fail('Failed to pull image: manifest unknown (injected)');
      const ctxDir = this.options.images.get(image);
      if (!ctxDir) return fail(`Failed to pull image "${image}": not found in the registry`);
      const env: Record<string, string> = {};
      const secrets = (((props(app).configuration as Json).secrets ?? []) as Json[]).map((s) => ({
        name: String(s.name),
        url: s.keyVaultUrl ? String(s.keyVaultUrl) : undefined,
      }));
      for (const v of (container.env ?? []) as Json[]) {
        if (v.secretRef !== undefined) {
          const s = secrets.find((x) => x.name === v.secretRef);
          const value = s?.url ? this.options.keyVaultSecrets?.[s.url] : undefined;
          if (value === undefined)
            return fail(
              `secret ${String(v.secretRef)} could not be read from Key Vault (${s?.url ?? 'no such secret'})`,
            );
          env[String(v.name)] = value;
        } else env[String(v.name)] = String(v.value ?? '');
      }
      p.provisioningState = 'Provisioned';
      this.emitState(appName, r);
      const start = readFileSync(path.join(ctxDir, 'start.sh'), 'utf8');
      const m = /flow serve (\S+).*?(--connections \S+)?\s+"\$@"/.exec(start);
      if (!m) return fail('start.sh has no flow serve command');
      const local = (s: string) => s.replace(/^\/(app|flow|connections)\b/, (_x, d: string) => path.join(ctxDir, d));
      const args = [
        path.join(ctxDir, 'app', 'dist', 'cli.js'),
        'flow',
        'serve',
        local(m[1]),
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        ...(existsSync(path.join(ctxDir, 'connections')) && /--connections/.test(start)
          ? ['--connections', path.join(ctxDir, 'connections')]
          : []),
      ];
      if (fault === 'running-fails') args.splice(3, 1, path.join(ctxDir, 'no-such-flow'));
      const child = spawn(this.options.node ?? process.execPath, args, {
        // The container's environment: only what the template and the image give it.
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: os.tmpdir(), ...this.options.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      backend.child = child;
      await new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          backend.log += chunk.toString();
          const ready = /\{[^\n]*"msg":"listening"[^\n]*\}/.exec(backend.log);
          if (ready && !backend.url) {
            backend.url = (JSON.parse(ready[0]) as { url: string }).url;
            resolve();
          }
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
        child.on('exit', (code) =>
          reject(
            new Error(`container exited with ${code}: ${backend.log.split('\n').filter(Boolean).slice(-3).join(' ')}`),
          ),
        );
      });
      p.runningState = 'Running';
      p.replicas = 1;
      this.emitState(appName, r);
      if (fault === 'never-healthy') {
        p.healthState = 'Unhealthy';
        return this.emitState(appName, r);
      }
      const health = await fetch(`${backend.url}/health`).catch(() => undefined);
      p.healthState = health?.ok ? 'Healthy' : 'Unhealthy';
      this.emitState(appName, r);
    };
    run().catch((e: unknown) => {
      if (!this.stopped && this.backends.get(key) === backend) fail(e instanceof Error ? e.message : String(e), true);
    });
  }

  /** The ingress front: by Host, to a revision's server. */
  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const reply = (status: number, message: string, revision?: string) => {
      this.served.push({ host, revision, status });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(message);
    };
    const ws = this.arm.workspaces[0];
    const apps = [...this.arm.resources.values()].filter(
      (r) =>
        r.type === 'Microsoft.App/containerApps' && String(r.id).startsWith(`/subscriptions/${ws.subscriptionId}/`),
    );
    let revision: string | undefined;
    let app: Json | undefined;
    for (const a of apps) {
      const fqdn = String(((props(a).configuration as Json).ingress as Json | undefined)?.fqdn ?? '');
      const domain = fqdn.slice(String(a.name).length + 1);
      const t = trafficOf(a);
      if (host === fqdn) {
        app = a;
        let roll = Math.random() * 100;
        for (const [rev, w] of Object.entries(weights(t, String(props(a).latestRevisionName)))) {
          roll -= w;
          if (roll < 0) {
            revision = rev;
            break;
          }
        }
        if (!revision) return reply(404, 'no revision receives traffic');
      } else if (host.startsWith(`${String(a.name)}---`) && host.endsWith(`.${domain}`)) {
        app = a;
        const label = host.slice(String(a.name).length + 3, host.length - domain.length - 1);
        revision = t.find((x) => x.label === label)?.revisionName;
        if (!revision) return reply(404, `no revision has label ${label}`);
      } else if (host.startsWith(`${String(a.name)}--`) && host.endsWith(`.${domain}`)) {
        app = a;
        revision = host.slice(0, host.length - domain.length - 1);
      }
      if (app) break;
    }
    if (!app || !revision) return reply(404, `no container app at ${host}`);
    const key = `${String(app.id)}/revisions/${revision}`.toLowerCase();
    const r = this.arm.get(key);
    const b = this.backends.get(key);
    if (!r || !props(r).active || props(r).runningState !== 'Running' || !b?.url)
      return reply(503, `revision ${revision} has no running replica`, revision);
    const share = weights(trafficOf(app), String(props(app).latestRevisionName))[revision] ?? 0;
    const image = (((props(r).template as Json).containers as Json[] | undefined)?.[0]?.image ?? '') as string;
    const fault = this.ingressFaults.find(
      (f) => (f.revision === revision || f.image === image) && share >= (f.whenTrafficAtLeast ?? 0),
    );
    if (fault) return reply(fault.status ?? 500, 'injected failure', revision);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const upstream = http.request(
      `${b.url}${req.url ?? '/'}`,
      { method: req.method, headers: { ...req.headers, host: new URL(b.url).host } },
      (up) => {
        this.served.push({ host, revision, status: up.statusCode ?? 502 });
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (e) => reply(502, e.message, revision));
    upstream.end(Buffer.concat(chunks));
  }
}

function props(r: Json): Json {
  return (r.properties ?? {}) as Json;
}

function trafficOf(app: Json): TrafficEntry[] {
  return (((props(app).configuration as Json | undefined)?.ingress as Json | undefined)?.traffic ??
    []) as TrafficEntry[];
}

function weights(entries: TrafficEntry[], latest: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of entries) {
    const name = t.revisionName ?? (t.latestRevision ? latest : undefined);
    if (name && (t.weight ?? 0) > 0) out[name] = (out[name] ?? 0) + (t.weight ?? 0);
  }
  return out;
}

function labelsOf(entries: TrafficEntry[]): Record<string, string> {
  return Object.fromEntries(entries.filter((t) => t.label && t.revisionName).map((t) => [t.label!, t.revisionName!]));
}

/** RFC 7396: objects merge, anything else (arrays included) replaces, null deletes. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Json = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [k, v] of Object.entries(patch as Json)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function withPrincipal(identity: Json): Json {
  const out: Json = { ...identity };
  if (String(identity.type).includes('SystemAssigned'))
    Object.assign(out, { principalId: randomUUID(), tenantId: randomUUID() });
  if (identity.userAssignedIdentities)
    out.userAssignedIdentities = Object.fromEntries(
      Object.keys(identity.userAssignedIdentities as Json).map((k) => [
        k,
        { principalId: randomUUID(), clientId: randomUUID() },
      ]),
    );
  return out;
}

function systemData(): Json {
  const at = new Date().toISOString();
  return { createdAt: at, createdByType: 'Application', lastModifiedAt: at, lastModifiedByType: 'Application' };
}

function stopBackend(b: Backend): void {
  b.child?.removeAllListeners('exit');
  b.child?.on('exit', () => undefined);
  b.child?.kill('SIGTERM');
}

function notFound(id: string): HandlerResult {
  return armError(404, 'ResourceNotFound', `The resource ${id} was not found.`);
}
