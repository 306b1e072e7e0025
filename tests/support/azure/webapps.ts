/**
 * App Service (Microsoft.Web 2025-05-01) for the ARM emulator, registered through `handle()`, every request
 * and response validated by oav against the vendored WebApps.json: sites and slots, site config (web, incl.
 * `experiments.rampUpRules`), app settings, restart and the swap with production. Each site and slot is a
 * real local `llmops flow serve` of its image (the image → build context folder map the test gives, which
 * the ACR emulator fills as it builds), started with the app settings as its environment (Key Vault
 * references resolved from the vault the test gives, as App Service does with the app's identity), behind
 * its own HTTPS hostname on loopback. Production's hostname is the front door: it splits requests by the
 * rampUpRules and honours App Service's `x-ms-routing-name` cookie/query (`self` = production, else a slot).
 * A swap exchanges the running containers, images and settings of production and the slot at once (the
 * routing rules, production's, stay). Every change is an event, so tests check invariants after each one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { armError, type ArmEmulator, type HandlerContext, type HandlerResult } from './arm-emulator.js';

export const WEB_SPEC = 'web/resource-manager/Microsoft.Web/stable/2025-05-01/WebApps.json';

export interface WebAppsOptions {
  /** Image reference → build context folder (Dockerfile, start.sh, app/, flow/, connections/). */
  images: Map<string, string>;
  /** Key Vault secrets by name: what `@Microsoft.KeyVault(SecretUri=.../secrets/<name>/)` settings resolve to. */
  keyVault?: Record<string, string>;
  /** Extra environment of the containers (e.g. the local model server's URL). */
  env?: Record<string, string>;
}

export interface WebAppEvent {
  kind: 'config' | 'settings' | 'restart' | 'ready' | 'crashed' | 'swap' | 'slot-created' | 'concurrent-edit';
  site: string;
  place: string;
  detail?: unknown;
}

interface Backend {
  child: ChildProcess;
  url?: string;
  log: string;
  image: string;
}

/** The production site or one slot: its resource, config, settings, hostname and running container. */
interface Place {
  id: string;
  site: string;
  /** `production` or the slot's name. */
  name: string;
  resource: Record<string, unknown>;
  config: Record<string, unknown>;
  settings: Record<string, string>;
  server: https.Server;
  host: string;
  backend?: Backend;
}

export class WebAppsEmulator {
  readonly events: WebAppEvent[] = [];
  /** Requests through any hostname: which place answered, with what status. */
  readonly served: { site: string; via: string; place: string; status: number }[] = [];
  onEvent?: (e: WebAppEvent) => void;
  private places = new Map<string, Place>();

  private constructor(
    readonly arm: ArmEmulator,
    readonly options: WebAppsOptions,
  ) {}

  static attach(arm: ArmEmulator, options: WebAppsOptions): WebAppsEmulator {
    const e = new WebAppsEmulator(arm, options);
    e.register();
    return e;
  }

  siteId(resourceGroup: string, name: string, ws = this.arm.workspaces[0]): string {
    return `/subscriptions/${ws.subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/sites/${name}`;
  }

  /** A web app as infrastructure code creates it: a Linux container site on a plan, no image yet. */
  async createSite(resourceGroup: string, name: string, plan = 'plan-llmops'): Promise<string> {
    const ws = this.arm.workspaces[0];
    const id = this.siteId(resourceGroup, name);
    await this.newPlace(id, name, 'production', {
      location: ws.location ?? 'westeurope',
      kind: 'app,linux,container',
      serverFarmId: `/subscriptions/${ws.subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/serverfarms/${plan}`,
    });
    return id;
  }

  async stop(): Promise<void> {
    for (const p of this.places.values()) {
      if (p.backend) stopBackend(p.backend);
      p.server.closeAllConnections();
      await new Promise<void>((r) => p.server.close(() => r()));
    }
    this.places.clear();
  }

  place(site: string, name = 'production', resourceGroup?: string): Place | undefined {
    return [...this.places.values()].find(
      (p) =>
        p.site === site &&
        p.name === name &&
        (!resourceGroup || p.id.toLowerCase().includes(`/resourcegroups/${resourceGroup.toLowerCase()}/`)),
    );
  }

  hostOf(site: string, name = 'production'): string {
    return this.place(site, name)?.host ?? '';
  }

  imageOf(site: string, name = 'production'): string {
    return imageOf(this.place(site, name)?.config.linuxFxVersion);
  }

  rules(site: string): { actionHostName?: string; reroutePercentage?: number }[] {
    const experiments = this.place(site)?.config.experiments as { rampUpRules?: [] } | undefined;
    return experiments?.rampUpRules ?? [];
  }

  /** What production's hostname serves now: image → percent (the rules over production's and the slots' images). */
  traffic(site: string): Record<string, number> {
    const prod = this.place(site)!;
    const out: Record<string, number> = {};
    let rest = 100;
    for (const r of this.rules(site)) {
      const target = this.placeByHost(r.actionHostName ?? '');
      const pct = r.reroutePercentage ?? 0;
      if (!target || pct <= 0) continue;
      const image = imageOf(target.config.linuxFxVersion);
      out[image] = (out[image] ?? 0) + pct;
      rest -= pct;
    }
    if (rest > 0) {
      const image = imageOf(prod.config.linuxFxVersion);
      out[image] = (out[image] ?? 0) + rest;
    }
    return out;
  }

  /** Places production's hostname sends traffic to that have no ready container. */
  unreadyTargets(site: string): string[] {
    const prod = this.place(site)!;
    const targets = [
      prod,
      ...this.rules(site)
        .filter((r) => (r.reroutePercentage ?? 0) > 0)
        .map((r) => this.placeByHost(r.actionHostName ?? '')),
    ];
    const total = this.rules(site).reduce((s, r) => s + (r.reroutePercentage ?? 0), 0);
    return targets
      .filter((p, i) => p && !(i === 0 && total >= 100) && imageOf(p.config.linuxFxVersion) && !p.backend?.url)
      .map((p) => p!.name);
  }

  /** Someone else edits production's rules (portal, another pipeline). */
  concurrentEdit(site: string, rules: { actionHostName: string; reroutePercentage: number; name?: string }[]): void {
    const prod = this.place(site)!;
    prod.config.experiments = { rampUpRules: rules };
    this.emit({ kind: 'concurrent-edit', site, place: 'production', detail: rules });
  }

  /** Log of a place's container. */
  logOf(site: string, name = 'production'): string {
    return this.place(site, name)?.backend?.log ?? '';
  }

  private emit(e: WebAppEvent): void {
    this.events.push(e);
    this.onEvent?.(e);
  }

  private placeByHost(host: string): Place | undefined {
    return [...this.places.values()].find((p) => p.host.toLowerCase() === host.toLowerCase());
  }

  private async newPlace(id: string, site: string, name: string, props: Record<string, unknown>): Promise<Place> {
    const server = https.createServer({ cert: this.arm.cert.cert, key: this.arm.cert.key }, (req, res) => {
      void this.serve(place, req, res).catch((e: unknown) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(e));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ws = this.arm.workspaces[0];
    const slot = name !== 'production';
    const place: Place = {
      id,
      site,
      name,
      server,
      host,
      settings: {},
      config: {
        linuxFxVersion: '',
        numberOfWorkers: 1,
        alwaysOn: false,
        http20Enabled: false,
        experiments: { rampUpRules: [] },
      },
      resource: {
        id,
        name: slot ? `${site}/${name}` : site,
        type: slot ? 'Microsoft.Web/sites/slots' : 'Microsoft.Web/sites',
        location: String(props.location ?? ws.location ?? 'westeurope'),
        kind: String(props.kind ?? 'app,linux,container'),
        ...(props.identity
          ? {
              identity: {
                ...(props.identity as object),
                principalId: '11111111-2222-3333-4444-555555555555',
                tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
              },
            }
          : {}),
        properties: {
          state: 'Running',
          hostNames: [host],
          enabledHostNames: [host],
          defaultHostName: host,
          serverFarmId: props.serverFarmId,
          reserved: true,
          httpsOnly: true,
          enabled: true,
          availabilityState: 'Normal',
          usageState: 'Normal',
        },
      },
    };
    this.places.set(id.toLowerCase(), place);
    return place;
  }

  private configResource(p: Place): Record<string, unknown> {
    return { id: `${p.id}/config/web`, name: 'web', type: `${String(p.resource.type)}/config`, properties: p.config };
  }

  private settingsResource(p: Place): Record<string, unknown> {
    return {
      id: `${p.id}/config/appsettings`,
      name: 'appsettings',
      type: `${String(p.resource.type)}/config`,
      properties: p.settings,
    };
  }

  private register(): void {
    const arm = this.arm;
    const placeOf = (ctx: HandlerContext, suffix: RegExp) => this.places.get(ctx.id.replace(suffix, '').toLowerCase());
    const site = (ctx: HandlerContext) => placeOf(ctx, /$/);
    arm.handle('WebApps_Get', (ctx) => {
      const p = site(ctx);
      return p ? { status: 200, body: p.resource } : notFound(ctx.id);
    });
    arm.handle('WebApps_GetSlot', (ctx) => {
      const p = site(ctx);
      return p ? { status: 200, body: p.resource } : notFound(ctx.id);
    });
    arm.handle('WebApps_ListSlots', (ctx) => {
      const prefix = `${ctx.id}/`.toLowerCase();
      return {
        status: 200,
        body: {
          value: [...this.places.values()].filter((p) => p.id.toLowerCase().startsWith(prefix)).map((p) => p.resource),
        },
      };
    });
    arm.handle('WebApps_CreateOrUpdateSlot', async (ctx) => {
      const parent = this.places.get(ctx.id.replace(/\/slots\/[^/]+$/, '').toLowerCase());
      if (!parent) return notFound(ctx.id);
      const body = ctx.body as {
        location: string;
        kind?: string;
        identity?: unknown;
        properties?: { serverFarmId?: string; siteConfig?: Record<string, unknown> };
      };
      let p = site(ctx);
      const created = !p;
      if (!p) {
        const name = path.posix.basename(ctx.id);
        p = await this.newPlace(ctx.id, parent.site, name, {
          location: body.location,
          kind: body.kind,
          identity: body.identity,
          serverFarmId:
            body.properties?.serverFarmId ?? (parent.resource.properties as { serverFarmId?: string }).serverFarmId,
        });
        this.emit({ kind: 'slot-created', site: parent.site, place: name });
      }
      if (body.properties?.siteConfig) this.configure(p, body.properties.siteConfig, false);
      if (created && imageOf(p.config.linuxFxVersion)) this.restart(p);
      return { status: 200, body: p.resource };
    });
    for (const slot of ['', 'Slot']) {
      const cfg = (ctx: HandlerContext) => placeOf(ctx, /\/config\/web$/);
      arm.handle(`WebApps_GetConfiguration${slot}`, (ctx) => {
        const p = cfg(ctx);
        return p ? { status: 200, body: this.configResource(p) } : notFound(ctx.id);
      });
      for (const op of [`WebApps_UpdateConfiguration${slot}`, `WebApps_CreateOrUpdateConfiguration${slot}`])
        arm.handle(op, (ctx) => {
          const p = cfg(ctx);
          if (!p) return notFound(ctx.id);
          const props = ((ctx.body as { properties?: Record<string, unknown> }).properties ?? {}) as Record<
            string,
            unknown
          >;
          const problem = this.checkRules(p, props);
          if (problem) return armError(400, 'BadRequest', problem);
          this.configure(p, props, ctx.method === 'PUT');
          return { status: 200, body: this.configResource(p) };
        });
      arm.handle(`WebApps_ListApplicationSettings${slot}`, (ctx) => {
        const p = placeOf(ctx, /\/config\/appsettings\/list$/);
        return p ? { status: 200, body: this.settingsResource(p) } : notFound(ctx.id);
      });
      arm.handle(`WebApps_UpdateApplicationSettings${slot}`, (ctx) => {
        const p = placeOf(ctx, /\/config\/appsettings$/);
        if (!p) return notFound(ctx.id);
        p.settings = { ...((ctx.body as { properties?: Record<string, string> }).properties ?? {}) };
        this.emit({ kind: 'settings', site: p.site, place: p.name, detail: Object.keys(p.settings) });
        return { status: 200, body: this.settingsResource(p) };
      });
      arm.handle(`WebApps_Restart${slot}`, (ctx) => {
        const p = placeOf(ctx, /\/restart$/);
        if (!p) return notFound(ctx.id);
        this.restart(p);
        return { status: 200 };
      });
    }
    arm.handle('WebApps_SwapSlotWithProduction', (ctx) => {
      const prod = placeOf(ctx, /\/slotsswap$/);
      const target = (ctx.body as { targetSlot?: string }).targetSlot ?? '';
      const slot = prod && this.place(prod.site, target);
      if (!prod || !slot) return armError(404, 'ResourceNotFound', `slot ${target} not found`);
      if (!slot.backend?.url)
        return armError(409, 'Conflict', `Cannot swap: slot ${target} is not running (its container did not start)`);
      // Sticky to their place: hostnames and the rules below. Images, settings and the running containers move.
      // Site config moves too, except what App Service keeps with the slot (routing rules, Always On).
      const sticky = (c: Record<string, unknown>) => ({ experiments: c.experiments, alwaysOn: c.alwaysOn });
      const [prodConfig, slotConfig] = [prod.config, slot.config];
      prod.config = { ...slotConfig, ...sticky(prodConfig) };
      slot.config = { ...prodConfig, ...sticky(slotConfig) };
      [prod.settings, slot.settings] = [slot.settings, prod.settings];
      [prod.backend, slot.backend] = [slot.backend, prod.backend];
      this.emit({
        kind: 'swap',
        site: prod.site,
        place: target,
        detail: { production: imageOf(prod.config.linuxFxVersion) },
      });
      return { status: 200 };
    });
  }

  /** App Service refuses rules to a hostname that is not one of the site's slots, or shares beyond 100%. */
  private checkRules(p: Place, props: Record<string, unknown>): string | undefined {
    const rules = (
      props.experiments as { rampUpRules?: { actionHostName?: string; reroutePercentage?: number }[] } | undefined
    )?.rampUpRules;
    if (!rules) return undefined;
    if (p.name !== 'production') return 'routing rules belong to the production site, not a slot';
    let total = 0;
    for (const r of rules) {
      const target = this.placeByHost(r.actionHostName ?? '');
      if (!target || target.site !== p.site || target.name === 'production')
        return `rampUpRule ${r.actionHostName}: not the hostname of a slot of ${p.site}`;
      const pct = r.reroutePercentage ?? 0;
      if (pct < 0 || pct > 100) return `rampUpRule ${r.actionHostName}: reroutePercentage ${pct} is not within 0..100`;
      total += pct;
    }
    return total > 100 ? `rampUpRules route ${total}% in all, more than 100%` : undefined;
  }

  private configure(p: Place, props: Record<string, unknown>, replace: boolean): void {
    const before = p.config.linuxFxVersion;
    p.config = replace ? { ...props } : { ...p.config, ...props };
    this.emit({ kind: 'config', site: p.site, place: p.name, detail: props });
    // A new image restarts the container (App Service pulls it and starts it again).
    if (p.config.linuxFxVersion !== before && imageOf(p.config.linuxFxVersion)) this.restart(p);
  }

  /** Stops the container and starts the image again with the current settings; ready once it listens. */
  private restart(p: Place): void {
    if (p.backend) stopBackend(p.backend);
    p.backend = undefined;
    this.emit({ kind: 'restart', site: p.site, place: p.name });
    const image = imageOf(p.config.linuxFxVersion);
    if (!image) return;
    const dir = this.options.images.get(image);
    const backend: Backend = { child: undefined as unknown as ChildProcess, log: '', image };
    if (!dir || !existsSync(path.join(dir, 'start.sh'))) {
      backend.log = `ImagePullFailure: manifest for ${image} not found\n`;
      this.emit({ kind: 'crashed', site: p.site, place: p.name, detail: backend.log });
      return;
    }
    // start.sh names what it serves (/flow or /flow/<file>.prompty): the same path inside the context.
    const target = /flow serve (\/flow\S*)/.exec(readFileSync(path.join(dir, 'start.sh'), 'utf8'))?.[1] ?? '/flow';
    const args = [
      path.join(dir, 'app/dist/cli.js'),
      'flow',
      'serve',
      path.join(dir, target),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
    ];
    if (existsSync(path.join(dir, 'connections')) && !existsSync(path.join(dir, 'connections/.keep')))
      args.push('--connections', path.join(dir, 'connections'));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.settings)) {
      const ref = /^@Microsoft\.KeyVault\(SecretUri=https:\/\/[^/]+\/secrets\/([^/)]+)\/?[^)]*\)$/.exec(v);
      // An unresolvable reference reaches the app as its literal text, as App Service does.
      env[k] = ref ? (this.options.keyVault?.[ref[1]] ?? v) : v;
    }
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: os.tmpdir(), ...this.options.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    backend.child = child;
    p.backend = backend;
    const onData = (chunk: Buffer) => {
      backend.log += chunk.toString();
      const m = /\{[^\n]*"msg":"listening"[^\n]*\}/.exec(backend.log);
      if (m && !backend.url) {
        backend.url = (JSON.parse(m[0]) as { url: string }).url;
        this.emit({ kind: 'ready', site: p.site, place: p.name, detail: image });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      backend.log += `\ncontainer exited with ${code}\n`;
      backend.url = undefined;
      this.emit({ kind: 'crashed', site: p.site, place: p.name, detail: code });
    });
  }

  private async serve(via: Place, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const u = new URL(req.url ?? '/', `https://${via.host}`);
    let place = via;
    let routingName: string | undefined;
    if (via.name === 'production') {
      const cookie = /(?:^|;\s*)x-ms-routing-name=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
      const asked = u.searchParams.get('x-ms-routing-name') ?? cookie;
      if (asked) {
        place = asked === 'self' ? via : (this.place(via.site, asked) ?? via);
      } else {
        let roll = Math.random() * 100;
        for (const r of this.rules(via.site)) {
          roll -= r.reroutePercentage ?? 0;
          if (roll < 0) {
            place = this.placeByHost(r.actionHostName ?? '') ?? via;
            break;
          }
        }
      }
      routingName = place === via ? 'self' : place.name;
    }
    const record = (status: number) => this.served.push({ site: via.site, via: via.name, place: place.name, status });
    const headers: Record<string, string> = routingName
      ? { 'set-cookie': `x-ms-routing-name=${routingName}; path=/` }
      : {};
    const backend = place.backend;
    if (!backend?.url) {
      record(503);
      res.writeHead(503, { 'content-type': 'text/html', ...headers });
      return void res.end('<h1>503 Service Unavailable</h1><p>The application is starting or not running.</p>');
    }
    u.searchParams.delete('x-ms-routing-name');
    const upstream = await fetch(`${backend.url}${u.pathname}${u.search}`, {
      method: req.method,
      headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
    }).catch((e: unknown) => e as Error);
    if (upstream instanceof Error) {
      record(502);
      res.writeHead(502, { 'content-type': 'text/plain', ...headers });
      return void res.end(upstream.message);
    }
    record(upstream.status);
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
      ...headers,
    });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  }
}

function imageOf(linuxFxVersion: unknown): string {
  return /^DOCKER\|(.+)$/i.exec(String(linuxFxVersion ?? ''))?.[1] ?? '';
}

function stopBackend(b: Backend): void {
  if (!b.child) return;
  b.child.removeAllListeners('exit');
  b.child.on('exit', () => undefined);
  b.child.kill('SIGTERM');
}

function notFound(id: string): HandlerResult {
  return armError(404, 'ResourceNotFound', `The Resource '${id}' was not found.`);
}
