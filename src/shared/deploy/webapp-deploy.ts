/**
 * `deploy --target webapp`: the flow's serving image (built by ACR from its build context, or `--image`) goes
 * to the web app's deployment slot with its app settings (env.yaml, the entry's variables, secrets as Key
 * Vault references), is warmed up and smoke-tested on the slot's own hostname, then receives a share of
 * production's traffic in stages through `rampUpRules`, and is swapped into production; any failure restores
 * the exact prior routing (swapping back when the swap was done). The outcome is a state file (for
 * `--rollback`) and a Markdown summary.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { WebSiteManagementClient } from '@azure/arm-appservice';
import type { Connection } from '../config/connections.js';
import type { WebAppEntry } from '../config/deployment.js';
import { ConfigError, ServiceError } from '../errors.js';
import { writeJsonAtomic } from '../files.js';
import type { LoadedFlow } from '../flow/index.js';
import { packageFlow } from './azure-assets.js';
import { imageRepository } from './image-build.js';
import {
  describeTraffic,
  planRollout,
  planText,
  rolloutMarkdown,
  runRollout,
  sameTraffic,
  type RolloutCheck,
  type RolloutPlan,
  type RolloutResult,
  type TrafficMap,
} from './rollout.js';
import { runSmokeTests, type SmokeResult } from './smoke-run.js';
import type { SmokeSuite } from './smoke-tests.js';
import { WebAppTarget, type WebAppRef } from './webapp-site.js';
import type { TokenCredential } from '@azure/core-auth';
import { describeAutoscale } from '../config/autoscale.js';
import {
  appServicePlanTarget,
  insightsClient,
  MonitorAutoscale,
  revertSettings,
  sameSetting,
  type SettingChange,
} from './autoscale-monitor.js';
import { withAutoscale } from './autoscale-target.js';

export interface WebAppDeployOptions {
  client: WebSiteManagementClient;
  subscriptionId: string;
  /** Resource Manager endpoint: picks the Key Vault DNS suffix of the cloud. */
  resourceManager?: string;
  entry: WebAppEntry;
  /** Signs in to Resource Manager for the plan's autoscale setting (needed when the entry has AUTOSCALE). */
  monitor?: { resourceManager: string; credential: TokenCredential };
  /** `<experiment>-<env>`: the image repository and the state file name. */
  name: string;
  flow: string | LoadedFlow;
  variants: string[];
  connections: readonly Connection[];
  init?: Record<string, unknown>;
  envYaml?: Record<string, string>;
  secrets?: readonly string[];
  packageRoot?: string;
  /** An image to run instead of building ours (the --image input; else the entry's IMAGE). */
  image?: string;
  /** Builds (or finds) the serving image of the build context; called unless an image is given. */
  ensureImage?: (context: { dir: string; hash: string; repository: string; dryRun: boolean }) => Promise<string>;
  smoke: SmokeSuite;
  /** More checks after the smoke tests at each point (e.g. an error-rate gate). */
  checks?: RolloutCheck[];
  steps?: number[];
  maxP95Ms?: number;
  warmupTimeoutMs?: number;
  dryRun?: boolean;
  stateDir: string;
  log: (line: string) => void;
  warn?: (line: string) => void;
}

export interface WebAppDeploymentState {
  target: 'webapp';
  webApp: string;
  resourceGroup: string;
  slot: string;
  /** Production's scoring URL. */
  endpoint: string;
  /** The image rolled out (the version name in the traffic maps). */
  deployment: string;
  prior: TrafficMap;
  live: TrafficMap;
  outcome: string;
  reason?: string;
  steps: RolloutResult['steps'];
  /** The plan's autoscale setting as the rollout changed it (promoted): what `--rollback` puts back. */
  autoscale?: SettingChange[];
  updatedAt: string;
}

export interface WebAppDeployResult {
  plan?: RolloutPlan;
  rollout?: RolloutResult;
  unchanged?: boolean;
  endpoint: string;
  deployment: string;
  live: TrafficMap;
  planText: string;
  summary: string;
}

export function webAppStateFile(stateDir: string, name: string): string {
  return path.join(stateDir, 'deploy', `${name}-webapp.json`);
}

export function readWebAppState(stateDir: string, name: string): WebAppDeploymentState | undefined {
  const file = webAppStateFile(stateDir, name);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as WebAppDeploymentState) : undefined;
}

/** `https://<vault>.vault.azure.net` (or the national cloud's suffix). */
export function keyVaultUrl(vault: string, resourceManager = 'https://management.azure.com'): string {
  const host = new URL(resourceManager).hostname;
  const suffix = host.endsWith('chinacloudapi.cn')
    ? 'vault.azure.cn'
    : host.endsWith('usgovcloudapi.net')
      ? 'vault.usgovcloudapi.net'
      : 'vault.azure.net';
  return `https://${vault.toLowerCase()}.${suffix}`;
}

/** A Key Vault secret's name for a setting: letters, digits and '-' only (AOAI_API_KEY → AOAI-API-KEY). */
export function secretName(setting: string): string {
  return setting.replace(/[^A-Za-z0-9-]/g, '-');
}

/**
 * The app settings of the slot: what the image needs to serve on 8080, env.yaml and the entry's variables in
 * plain text, and every secret (connection keys, env.yaml secrets) as a Key Vault reference — never its value.
 */
export function webAppSettings(o: WebAppDeployOptions, needed: string[]): Record<string, string> {
  const file = 'deployment_config.json';
  const secrets = new Set(o.secrets ?? []);
  const refs: string[] = [];
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.envYaml ?? {})) {
    if (secrets.has(v)) refs.push(k);
    else out[k] = v;
  }
  for (const s of needed) refs.push(s);
  const known = new Set(needed.map((s) => s.toUpperCase()));
  for (const c of o.entry.connectionNames) {
    const setting = `${c}_API_KEY`.toUpperCase().replace(/ /g, '_');
    if (!known.has(setting))
      o.warn?.(
        `webapp_endpoint[${o.entry.index}].CONNECTION_NAMES: the flow does not use connection ${c}; ${setting} is not set`,
      );
  }
  for (const [k, v] of Object.entries(o.entry.environmentVariables)) {
    if (secrets.has(v))
      throw ConfigError.at(
        { file },
        `webapp_endpoint[${o.entry.index}].ENVIRONMENT_VARIABLES.${k} holds a secret value; expected it in Key Vault ${o.entry.keyVaultName ?? '(KEY_VAULT_NAME)'} as secret ${secretName(k)}, read by the app as a Key Vault reference (remove it here)`,
      );
    out[k] = v;
  }
  if (refs.length && !o.entry.keyVaultName)
    throw ConfigError.at(
      { file },
      `webapp_endpoint[${o.entry.index}]: the app needs the secrets ${refs.join(', ')} and KEY_VAULT_NAME is missing; expected the Key Vault that holds them (as ${refs.map(secretName).join(', ')})`,
    );
  const vault = o.entry.keyVaultName ? keyVaultUrl(o.entry.keyVaultName, o.resourceManager) : '';
  for (const k of refs) out[k] = `@Microsoft.KeyVault(SecretUri=${vault}/secrets/${secretName(k)}/)`;
  Object.assign(out, {
    WEBSITES_PORT: '8080',
    PORT: '8080',
    PROMPTFLOW_RUN_MODE: 'serving',
    ...(o.init ? { PF_FLOW_INIT_CONFIG: JSON.stringify(o.init) } : {}),
  });
  return out;
}

export async function deployToWebApp(o: WebAppDeployOptions): Promise<WebAppDeployResult> {
  const e = o.entry;
  const ref: WebAppRef = {
    subscriptionId: o.subscriptionId,
    resourceGroup: e.resourceGroup,
    name: e.webAppName,
    slot: e.slot,
  };
  const pkg = packageFlow({
    flow: o.flow,
    variants: o.variants,
    connections: o.connections,
    output: path.join(o.stateDir, 'deploy', `${o.name}-webapp-context`),
    packageRoot: o.packageRoot,
  });
  const repository = imageRepository(o.name);
  const given = o.image ?? e.image;
  const settings = webAppSettings(o, pkg.settings);
  const probe = new WebAppTarget(o.client, ref, undefined, o.log);
  const site = await probe.site();
  if (!site)
    throw new ServiceError(
      `App Service: web app ${e.webAppName} does not exist in resource group ${e.resourceGroup}; create it (plan ${e.appPlanName}, Linux) before deploying`,
    );
  const endpoint = `https://${site.defaultHostName}/score`;
  const planAutoscale = planAutoscaleOf(o, site);
  const image =
    given ??
    (o.ensureImage
      ? await o.ensureImage({ dir: pkg.contextDir, hash: pkg.contextHash, repository, dryRun: Boolean(o.dryRun) })
      : undefined);
  if (!image)
    throw ConfigError.at(
      { file: 'input "image"' },
      'no image and no registry to build one; expected --image or REGISTRY_NAME',
    );
  /** The state file of this deploy: what the site is, with what the rollout (or the autoscale alone) did. */
  const record = (
    done: Omit<
      WebAppDeploymentState,
      'target' | 'webApp' | 'resourceGroup' | 'slot' | 'endpoint' | 'deployment' | 'updatedAt'
    >,
  ) =>
    writeJsonAtomic(webAppStateFile(o.stateDir, o.name), {
      target: 'webapp',
      webApp: e.webAppName,
      resourceGroup: e.resourceGroup,
      slot: e.slot,
      endpoint,
      deployment: image,
      ...done,
      updatedAt: new Date().toISOString(),
    } satisfies WebAppDeploymentState);
  const { traffic: live } = await probe.readTraffic();
  const routing = await probe.routing();
  if (routing.production === image && !(live[routing.slot] > 0)) {
    let text = `production of ${e.webAppName} already runs ${image}; nothing to deploy`;
    // The autoscale may have changed alone: the plan's setting is put again (one whole PUT; no traffic change).
    if (planAutoscale && !o.dryRun) {
      const change = await planAutoscale.change(e.autoscale!);
      text += `; ${describeAutoscale(e.autoscale!)} applied to plan ${e.appPlanName}`;
      // A setting that really changed is this deploy's change: recorded so `--rollback` puts the earlier one back.
      // The same setting put again (a re-run) changes nothing and keeps the last rollout's record.
      if (!sameSetting(change.before, change.after)) {
        record({
          prior: live,
          live,
          outcome: 'promoted',
          reason: `only the autoscale setting of plan ${e.appPlanName} changed`,
          steps: [],
          autoscale: [change],
        });
        text += ' (the earlier setting is kept for --rollback)';
      }
    }
    o.log(text);
    return {
      unchanged: true,
      endpoint,
      deployment: image,
      live,
      planText: text,
      summary: `## Deploy ${o.name} (webapp)\n\n${text}. Live traffic: ${describeTraffic(live)}.\n`,
    };
  }
  if (routing.slot && routing.share > 0 && routing.slot !== routing.production)
    throw new ServiceError(
      `App Service: slot ${e.slot} of ${e.webAppName} already receives ${routing.share}% of production (${routing.slot}); finish or roll back that rollout first (deploy --rollback)`,
    );
  const plan = planRollout({
    target: 'webapp',
    endpoint: e.webAppName,
    newVersion: image,
    prior: live,
    steps: o.steps,
    keep: 2,
  });
  const text = [
    `image ${image}${given ? '' : ` (build context ${pkg.contextHash.slice(0, 16)})`}`,
    `web app ${e.webAppName}: production runs ${routing.production || 'no image'}; slot ${e.slot} ${routing.slot ? `runs ${routing.slot}` : (await probe.slot()) ? 'runs no image' : 'will be created'}`,
    `app settings: ${Object.keys(settings).sort().join(', ')}`,
    planText(plan)
      .replace(/provision (\S+) and wait until it succeeds/, `slot ${e.slot} gets $1, restarts, answers /health`)
      .replace(/delete old deployments beyond.*$/m, `the prior image stays in slot ${e.slot} (for --rollback)`),
    `  the 100% stage swaps slot ${e.slot} into production and clears its routing rule`,
    ...(planAutoscale
      ? [
          `plan ${e.appPlanName}: ${describeAutoscale(e.autoscale!)} (Azure Monitor autoscale setting ${planAutoscale.target.settingName}, applied once slot ${e.slot} answers, before any traffic; put back as it was if the rollout fails)`,
        ]
      : []),
  ].join('\n');
  if (o.dryRun) {
    o.log(text);
    return {
      plan,
      endpoint,
      deployment: image,
      live,
      planText: text,
      summary: `## Deploy ${o.name} (webapp): dry run\n\n\`\`\`\n${text}\n\`\`\`\n`,
    };
  }

  const target = new WebAppTarget(
    o.client,
    ref,
    {
      image,
      appSettings: settings,
      warmupTimeoutMs: o.warmupTimeoutMs,
      identity: e.userManagedIdentity
        ? `/subscriptions/${o.subscriptionId}/resourceGroups/${e.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${e.userManagedIdentity}`
        : undefined,
    },
    o.log,
  );
  const productionHost = site.defaultHostName ?? '';
  const smokeChecks: RolloutCheck = async (v, stage) => {
    const alone = await runSmokeTests(o.smoke, { endpoint: `https://${await target.hostOf(v)}/score` });
    const results: [string, SmokeResult][] = [[`${v} alone`, alone]];
    if (stage)
      results.push(['production', await runSmokeTests(o.smoke, { endpoint: `https://${productionHost}/score` })]);
    const parts = results.map(([who, r]) => {
      const passed = r.tests.filter((t) => t.passed).length;
      const p95 = Math.max(0, ...r.tests.map((t) => t.p95Ms ?? 0));
      const slow = o.maxP95Ms !== undefined && p95 > o.maxP95Ms;
      const failures = r.tests.flatMap((t) => t.failures.map((f) => `${t.name}: ${f}`));
      return {
        ok: r.passed && !slow,
        text: `${who}: ${passed}/${r.tests.length} smoke tests passed, p95 ${Math.round(p95)} ms${slow ? ` > ${o.maxP95Ms} ms` : ''}${failures.length ? ` (${failures.slice(0, 3).join('; ')})` : ''}`,
      };
    });
    return { passed: parts.every((p) => p.ok), detail: parts.map((p) => p.text).join('; ') };
  };
  // The plan's autoscale is shared by production and the slot: the setting it replaces is kept, and put back
  // when the rollout does not promote, so a failed rollout leaves the plan scaling as before.
  let replaced: SettingChange | undefined;
  const save = (r: RolloutResult) =>
    record({
      prior: plan.prior,
      live: r.live,
      outcome: r.outcome,
      reason: r.reason,
      steps: r.steps,
      ...(replaced && r.outcome === 'promoted' ? { autoscale: [replaced] } : {}),
    });
  const scaled = planAutoscale
    ? withAutoscale(target, {
        apply: async () => {
          replaced = await planAutoscale.change(e.autoscale!);
          o.log(
            `plan ${e.appPlanName}: ${describeAutoscale(e.autoscale!)} applied (${planAutoscale.target.settingName})`,
          );
        },
      })
    : target;
  const rollout = await runRollout(plan, scaled, {
    checks: [smokeChecks, ...(o.checks ?? [])],
    log: o.log,
    onStep: save,
  });
  if (replaced && planAutoscale && rollout.outcome !== 'promoted') {
    await planAutoscale.restore(replaced.before ?? undefined);
    o.log(`plan ${e.appPlanName}: autoscale setting put back as it was before the rollout`);
  }
  save(rollout);
  return {
    plan,
    rollout,
    endpoint,
    deployment: image,
    live: rollout.live,
    planText: text,
    summary: `${rolloutMarkdown(rollout)}\nProduction: \`${endpoint}\`; slot ${e.slot}: \`https://${await target.slotHost().catch(() => '?')}\`\n${planAutoscale ? `\nPlan ${e.appPlanName}: ${rollout.outcome === 'promoted' ? describeAutoscale(e.autoscale!) : 'autoscale setting put back as it was'} (Azure Monitor autoscale setting \`${planAutoscale.target.settingName}\`).\n` : ''}`,
  };
}

/** `deploy --rollback`: the routing (and images) from before the last rollout, if nobody changed it since. */
export async function rollbackWebApp(o: {
  client: WebSiteManagementClient;
  subscriptionId: string;
  entry: WebAppEntry;
  name: string;
  stateDir: string;
  log: (l: string) => void;
  /** Resource Manager sign-in for the plan's autoscale setting (needed when the rollout changed it). */
  monitor?: { resourceManager: string; credential: TokenCredential };
}): Promise<{ live: TrafficMap; summary: string; state: WebAppDeploymentState }> {
  const state = readWebAppState(o.stateDir, o.name);
  if (!state)
    throw ConfigError.at(
      { file: webAppStateFile(o.stateDir, o.name) },
      'no rollout recorded here; expected a deploy of this target before --rollback',
    );
  const target = new WebAppTarget(
    o.client,
    { subscriptionId: o.subscriptionId, resourceGroup: state.resourceGroup, name: state.webApp, slot: state.slot },
    undefined,
    o.log,
  );
  const { traffic, etag } = await target.readTraffic();
  if (sameTraffic(traffic, state.prior)) {
    o.log(`${state.webApp} already has the prior routing (${describeTraffic(state.prior)})`);
  } else {
    if (!sameTraffic(traffic, state.live))
      throw new ServiceError(
        `App Service: the routing of ${state.webApp} is ${describeTraffic(traffic)}, not what the last rollout left (${describeTraffic(state.live)}); someone changed it since, so it is not rolled back`,
      );
    await target.writeTraffic(state.prior, etag);
    const back = await target.readTraffic();
    if (!sameTraffic(back.traffic, state.prior))
      throw new ServiceError(
        `App Service: routing of ${state.webApp} read back as ${describeTraffic(back.traffic)} after the rollback`,
      );
    o.log(`${state.webApp}: back to ${describeTraffic(state.prior)}`);
  }
  // The plan scales as it did before the rollout (the setting it replaced is put back, or removed).
  let scaling: { reverted: SettingChange[]; lines: string[] } = { reverted: [], lines: [] };
  if (state.autoscale?.length) {
    if (!o.monitor) throw new Error('webapp --rollback of an autoscale setting needs the Resource Manager sign-in');
    scaling = await revertSettings(
      insightsClient({ settings: { resourceManager: o.monitor.resourceManager }, credential: o.monitor.credential }),
      state.autoscale,
    );
    for (const l of scaling.lines) o.log(`plan of ${state.webApp}: ${l}`);
  }
  const next: WebAppDeploymentState = {
    ...state,
    prior: state.live,
    live: state.prior,
    outcome: 'rolled-back',
    reason: 'deploy --rollback',
    ...(state.autoscale ? { autoscale: scaling.reverted } : {}),
    updatedAt: new Date().toISOString(),
  };
  writeJsonAtomic(webAppStateFile(o.stateDir, o.name), next);
  return {
    live: state.prior,
    state: next,
    summary: `## Rollback of ${state.webApp} (webapp)\n\nTraffic: ${describeTraffic(state.live)} → ${describeTraffic(state.prior)}.\n${scaling.lines.map((l) => `\nPlan: ${l}.\n`).join('')}`,
  };
}

/** The plan's autoscale setting when the entry has AUTOSCALE (the plan is the site's own serverFarmId). */
function planAutoscaleOf(
  o: WebAppDeployOptions,
  site: { location?: string; serverFarmId?: string; id?: string },
): MonitorAutoscale | undefined {
  const e = o.entry;
  if (!e.autoscale) return undefined;
  if (!o.monitor) throw new Error('webapp AUTOSCALE needs the Resource Manager sign-in (monitor option)');
  const planId =
    site.serverFarmId ??
    `/subscriptions/${o.subscriptionId}/resourceGroups/${e.resourceGroup}/providers/Microsoft.Web/serverfarms/${e.appPlanName}`;
  const siteId = `/subscriptions/${o.subscriptionId}/resourceGroups/${e.resourceGroup}/providers/Microsoft.Web/sites/${e.webAppName}`;
  return new MonitorAutoscale(
    insightsClient({ settings: { resourceManager: o.monitor.resourceManager }, credential: o.monitor.credential }),
    appServicePlanTarget({ planId, siteId, location: site.location ?? '' }),
  );
}
