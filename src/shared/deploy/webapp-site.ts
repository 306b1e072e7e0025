/**
 * An App Service web app (Linux container) as a rollout target, through @azure/arm-appservice. The versions
 * are the images in its two places: production (the site) and the deployment slot (e.g. `staging`). The
 * traffic map is production's routing: the slot's image gets the share of the `rampUpRules` entry whose
 * `actionHostName` is the slot's hostname, production's image the rest; other rules (another slot's) are
 * kept. Provisioning = the slot gets the image and the app settings, restarts and answers `/health` on its own
 * hostname. Giving the slot's image everything is a swap (then the rule is cleared); taking it back, a swap
 * back: the exact prior routing, images included.
 * @module
 */
import { createHash } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { WebSiteManagementClient, type RampUpRule, type Site, type SiteConfigResource } from '@azure/arm-appservice';
import { armScope } from '../azure/clouds.js';
import { ServiceError } from '../errors.js';
import { ConcurrentEdit, describeTraffic, type TrafficMap, type TrafficTarget } from './rollout.js';

export interface WebAppRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  slot: string;
}

/** What the slot is given when it is provisioned. */
export interface SlotSpec {
  /** `registry/repository:tag`. */
  image: string;
  /** App settings (environment of the container): plain values and Key Vault references, never secret values. */
  appSettings: Record<string, string>;
  /** Longest wait for `/health` on the slot's hostname after the restart (default 10 min: image pulls are slow). */
  warmupTimeoutMs?: number;
  /** User-assigned identity (ARM id) the app reads Key Vault references with; default the system identity. */
  identity?: string;
}

export function webSiteClient(
  credential: TokenCredential,
  subscriptionId: string,
  resourceManager: string,
  /** First retry delay of a 429/5xx (the SDK's exponential back-off; default 800 ms). */
  retryDelayInMs?: number,
) {
  return new WebSiteManagementClient(credential, subscriptionId, {
    endpoint: resourceManager,
    ...(retryDelayInMs !== undefined
      ? { retryOptions: { retryDelayInMs, maxRetryDelayInMs: retryDelayInMs * 8 } }
      : {}),
    credentials: { scopes: [armScope(resourceManager)] },
    userAgentOptions: { userAgentPrefix: 'llmops' },
  });
}

/** Turns the SDK's errors into one clear ServiceError naming what was being done (exit 3). */
export async function call<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (e instanceof ServiceError || e instanceof ConcurrentEdit) throw e;
    const err = e as { statusCode?: number; code?: string; message?: string };
    const role =
      err.statusCode === 403 ? ' (the signed-in identity needs Website Contributor on the web app or its group)' : '';
    throw new ServiceError(
      `App Service: ${what} failed${err.statusCode ? ` (${err.statusCode}${err.code ? ` ${err.code}` : ''})` : ''}: ${firstLine(err.message ?? String(e))}${role}`,
      err.statusCode,
    );
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0].slice(0, 400);
}

export function isNotFound(e: unknown): boolean {
  return (e as { statusCode?: number }).statusCode === 404;
}

export class WebAppTarget implements TrafficTarget {
  private slotHostName?: string;

  constructor(
    readonly client: WebSiteManagementClient,
    readonly ref: WebAppRef,
    readonly spec?: SlotSpec,
    readonly log: (line: string) => void = () => undefined,
  ) {}

  private what(s: string): string {
    return `${s} (web app ${this.ref.name} in resource group ${this.ref.resourceGroup})`;
  }

  async site(): Promise<Site | undefined> {
    try {
      return await this.client.webApps.get(this.ref.resourceGroup, this.ref.name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      return call(this.what('read the web app'), () => Promise.reject(e));
    }
  }

  async slot(): Promise<Site | undefined> {
    try {
      return await this.client.webApps.getSlot(this.ref.resourceGroup, this.ref.name, this.ref.slot);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      return call(this.what(`read slot ${this.ref.slot}`), () => Promise.reject(e));
    }
  }

  /** The slot's own hostname (what its rampUpRule names), read once. */
  async slotHost(): Promise<string> {
    if (this.slotHostName) return this.slotHostName;
    const s = await this.slot();
    if (!s?.defaultHostName)
      throw new ServiceError(`App Service: slot ${this.ref.slot} of ${this.ref.name} has no hostname`);
    this.slotHostName = s.defaultHostName;
    return s.defaultHostName;
  }

  async productionConfig(): Promise<SiteConfigResource> {
    return call(this.what('read the site configuration'), () =>
      this.client.webApps.getConfiguration(this.ref.resourceGroup, this.ref.name),
    );
  }

  async slotConfig(): Promise<SiteConfigResource> {
    return call(this.what(`read the configuration of slot ${this.ref.slot}`), () =>
      this.client.webApps.getConfigurationSlot(this.ref.resourceGroup, this.ref.name, this.ref.slot),
    );
  }

  /** Where things stand: the image of each version and the rules that route part of production to the slot. */
  async routing(): Promise<{ production: string; slot: string; rules: RampUpRule[]; share: number }> {
    const prod = await this.productionConfig();
    const exists = Boolean(await this.slot());
    const slotImage = exists ? imageOf((await this.slotConfig()).linuxFxVersion) : '';
    const rules = prod.experiments?.rampUpRules ?? [];
    const host = exists ? await this.slotHost() : undefined;
    const share = Math.round(rules.find((r) => host && sameHost(r.actionHostName, host))?.reroutePercentage ?? 0);
    return { production: imageOf(prod.linuxFxVersion), slot: slotImage, rules, share };
  }

  /**
   * Versions are images: production's gets 100 − the slot's rule share, the slot's image that share. The tag
   * is a digest of production's image and the rules (not the slot's image: provisioning changes that).
   */
  async readTraffic(): Promise<{ traffic: TrafficMap; etag?: string }> {
    const r = await this.routing();
    const traffic: TrafficMap = {};
    if (r.production) traffic[r.production] = 100 - (r.slot ? r.share : 0);
    if (r.production && r.slot && r.share > 0) traffic[r.slot] = (traffic[r.slot] ?? 0) + r.share;
    for (const v of Object.keys(traffic)) if (traffic[v] <= 0) delete traffic[v];
    return { traffic, etag: routingTag(r.production, r.rules) };
  }

  /**
   * A map over the two images. When production's image is to get nothing, the slot is swapped in first (the
   * rules then route the old image, now in the slot, as before: no request meets an empty version), and the
   * slot's rule is set to its image's share afterwards. A swap back is how a rollback undoes a swap.
   */
  async writeTraffic(traffic: TrafficMap, etag?: string): Promise<void> {
    let r = await this.routing();
    if (etag && routingTag(r.production, r.rules) !== etag)
      throw new ConcurrentEdit(
        `the production image or routing rules of ${this.ref.name} changed since they were read`,
      );
    const unknown = Object.keys(traffic).filter((v) => traffic[v] > 0 && v !== r.production && v !== r.slot);
    if (unknown.length)
      throw new ServiceError(
        `App Service: ${unknown.join(', ')} runs neither in production (${r.production || 'no image'}) nor in slot ${this.ref.slot} (${r.slot || 'no image'}) of ${this.ref.name}`,
      );
    if (r.slot && (traffic[r.production] ?? 0) === 0 && (traffic[r.slot] ?? 0) > 0) {
      await this.swap();
      r = await this.routing();
    }
    const share = r.slot && r.slot !== r.production ? (traffic[r.slot] ?? 0) : 0;
    if (share === r.share) return;
    const host = await this.slotHost();
    const next: RampUpRule[] = [
      ...r.rules.filter((x) => !sameHost(x.actionHostName, host)),
      ...(share > 0 ? [{ name: this.ref.slot, actionHostName: host, reroutePercentage: share }] : []),
    ];
    await call(this.what(`route ${describeTraffic(traffic)}`), () =>
      this.client.webApps.updateConfiguration(this.ref.resourceGroup, this.ref.name, {
        experiments: { rampUpRules: next },
      }),
    );
  }

  /** Hostname a version answers on alone: the slot's for the slot's image, else production's. */
  async hostOf(version: string): Promise<string> {
    const r = await this.routing();
    if (r.slot === version && r.production !== version) return this.slotHost();
    const site = await this.site();
    return site?.defaultHostName ?? '';
  }

  /** The slot (created when absent) runs the image with the settings, restarts, then must answer /health. */
  async provision(version: string): Promise<void> {
    const spec = this.spec;
    if (!spec || version !== spec.image)
      throw new ServiceError(
        `App Service: slot ${this.ref.slot} is provisioned with ${spec?.image ?? 'no image'}, not ${version}`,
      );
    const { resourceGroup: rg, name, slot } = this.ref;
    const siteConfig = {
      linuxFxVersion: `DOCKER|${spec.image}`,
      healthCheckPath: '/health',
      alwaysOn: true,
      http20Enabled: true,
      // An image of an Azure Container Registry is pulled with the app's identity (AcrPull), no registry password.
      acrUseManagedIdentityCreds: /\.azurecr\.(io|cn|us)\//.test(spec.image),
    };
    if (!(await this.slot())) {
      const site = await this.site();
      if (!site) throw new ServiceError(`App Service: web app ${name} does not exist in resource group ${rg}`);
      this.log(`creating slot ${slot} of ${name}`);
      await call(this.what(`create slot ${slot}`), () =>
        this.client.webApps
          .createOrUpdateSlot(rg, name, slot, {
            location: site.location,
            kind: site.kind ?? 'app,linux,container',
            serverFarmId: site.serverFarmId,
            reserved: true,
            httpsOnly: true,
            // The system identity pulls the image; a user-assigned one, when given, reads the Key Vault references.
            ...(spec.identity
              ? {
                  identity: { type: 'SystemAssigned, UserAssigned', userAssignedIdentities: { [spec.identity]: {} } },
                  keyVaultReferenceIdentity: spec.identity,
                }
              : { identity: { type: 'SystemAssigned' } }),
            siteConfig,
          })
          .pollUntilDone(),
      );
    }
    this.slotHostName = undefined;
    await call(this.what(`set the app settings of slot ${slot}`), () =>
      this.client.webApps.updateApplicationSettingsSlot(rg, name, slot, { properties: spec.appSettings }),
    );
    const before = imageOf((await this.slotConfig()).linuxFxVersion);
    await call(this.what(`set the image of slot ${slot}`), () =>
      this.client.webApps.updateConfigurationSlot(rg, name, slot, siteConfig),
    );
    // A new image restarts the container by itself; the same image needs a restart for the new settings.
    if (before === spec.image)
      await call(this.what(`restart slot ${slot}`), () => this.client.webApps.restartSlot(rg, name, slot));
    await this.warmUp(await this.slotHost(), spec.warmupTimeoutMs ?? 10 * 60_000);
  }

  /** Polls `/health` on the slot's own hostname until it answers 200 twice in a row. */
  private async warmUp(host: string, timeoutMs: number): Promise<void> {
    const url = `https://${host}/health`;
    const deadline = Date.now() + timeoutMs;
    let ok = 0;
    let last = 'no answer yet';
    this.log(`warming up slot ${this.ref.slot}: ${url}`);
    while (Date.now() < deadline) {
      const r = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((e: unknown) => e as Error);
      if (!(r instanceof Error) && r.ok) {
        await r.body?.cancel();
        if (++ok >= 2) return;
        continue;
      }
      ok = 0;
      last = r instanceof Error ? (r.cause instanceof Error ? r.cause.message : r.message) : `HTTP ${r.status}`;
      if (!(r instanceof Error)) await r.body?.cancel();
      await new Promise((res) => setTimeout(res, 500));
    }
    throw new ServiceError(
      `App Service: slot ${this.ref.slot} of ${this.ref.name} did not become healthy within ${Math.round(timeoutMs / 1000)} s (${url}: ${last})`,
    );
  }

  async listVersions(): Promise<string[]> {
    const r = await this.routing();
    return [r.slot, r.production].filter(Boolean);
  }

  /** Slots are kept: the staging slot holds the prior image after a swap (what a rollback swaps back). */
  async deleteVersion(): Promise<void> {}

  /** Swaps the slot into production (App Service warms the slot with production's settings, then switches). */
  async swap(): Promise<void> {
    const { resourceGroup: rg, name, slot } = this.ref;
    this.log(`swapping slot ${slot} into production of ${name}`);
    await call(this.what(`swap slot ${slot} with production`), () =>
      this.client.webApps.swapSlotWithProduction(rg, name, { targetSlot: slot, preserveVnet: true }).pollUntilDone(),
    );
  }
}

export function imageOf(linuxFxVersion: string | undefined): string {
  return /^DOCKER\|(.+)$/i.exec(linuxFxVersion ?? '')?.[1] ?? '';
}

function sameHost(a: string | undefined, b: string): boolean {
  return (a ?? '').toLowerCase() === b.toLowerCase();
}

function routingTag(production: string, rules: RampUpRule[]): string {
  const norm = rules
    .map((r) => `${(r.actionHostName ?? '').toLowerCase()}=${r.reroutePercentage ?? 0}`)
    .sort()
    .join(',');
  return createHash('sha256').update(`${production}\n${norm}`).digest('hex').slice(0, 16);
}
