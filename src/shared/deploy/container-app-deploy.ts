/**
 * `deploy --target container-app`: the serving image as a new revision of an Azure Container App (multiple-
 * revision mode), its suffix the content hash of the template; the revision waited on until healthy, labelled
 * (blue/green), smoke-tested alone through the label's URL, then given traffic in stages with checks between
 * them; any failure restores the exact prior weights; old revisions beyond the newest `keep` deactivated. The
 * outcome is a state file (for `--rollback`) and a Markdown summary.
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describeAutoscale } from '../config/autoscale.js';
import { containerAppScale } from './container-app-autoscale.js';
import type { ContainerAppsAPIClient, EnvironmentVar, Revision, Template } from '@azure/arm-appcontainers';
import type { Connection } from '../config/connections.js';
import type { ContainerAppEntry } from '../config/deployment.js';
import { ConfigError, ServiceError } from '../errors.js';
import { connectionOverrideName } from '../serve/flow-setup.js';
import { containerAppFetch } from './container-app-http.js';
import { ContainerAppTarget, revisionName, serviceError, type WaitOptions } from './container-app.js';
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

export const CONTAINER_APP_TARGET = 'container-app';

export interface ContainerAppDeployOptions {
  /** More checks at each stage (e.g. the promotion gate). */
  checks?: RolloutCheck[];
  client: ContainerAppsAPIClient;
  subscriptionId: string;
  /** The `azure:` block's resource group (default of the entry's). */
  resourceGroup: string;
  entry: ContainerAppEntry;
  /** `<experiment>-<env>`: state file name. */
  name: string;
  connections: readonly Connection[];
  init?: Record<string, unknown>;
  envYaml?: Record<string, string>;
  secrets?: readonly string[];
  /** `--image`; else the entry's IMAGE. */
  image?: string;
  smoke: SmokeSuite;
  steps?: number[];
  keep?: number;
  maxP95Ms?: number;
  dryRun?: boolean;
  stateDir: string;
  wait?: WaitOptions;
  /** The app's URLs are fetched with this (default: containerAppFetch()). */
  fetch?: typeof fetch;
  log: (line: string) => void;
  warn?: (line: string) => void;
}

export interface ContainerAppDeployResult {
  plan?: RolloutPlan;
  rollout?: RolloutResult;
  unchanged?: boolean;
  app: string;
  /** https://<app fqdn> */
  url: string;
  revision: string;
  label?: string;
  live: TrafficMap;
  planText: string;
  summary: string;
}

export interface ContainerAppState {
  target: typeof CONTAINER_APP_TARGET;
  app: string;
  resourceGroup: string;
  revision: string;
  url: string;
  prior: TrafficMap;
  live: TrafficMap;
  outcome: string;
  reason?: string;
  steps: RolloutResult['steps'];
  /**
   * Revisions the rollout (or the rollback) made active that were not before (created or activated): a
   * `--rollback` that leaves them without traffic deactivates them again, so their scale rules run no replicas,
   * as before the rollout.
   */
  activated?: string[];
  updatedAt: string;
}

export function containerAppStateFile(stateDir: string, name: string): string {
  return path.join(stateDir, 'deploy', `${name}-${CONTAINER_APP_TARGET}.json`);
}

export function readContainerAppState(stateDir: string, name: string): ContainerAppState | undefined {
  const file = containerAppStateFile(stateDir, name);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ContainerAppState) : undefined;
}

function writeState(stateDir: string, name: string, s: ContainerAppState): void {
  const file = containerAppStateFile(stateDir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  // Written whole then renamed: a killed step never leaves half a state file.
  writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
}

/** Environment of the container: env.yaml (not its secrets), the entry's variables, secrets by `secretRef` only. */
export function containerEnv(o: ContainerAppDeployOptions): EnvironmentVar[] {
  const e = o.entry;
  const secrets = new Set(o.secrets ?? []);
  const plain: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.envYaml ?? {})) {
    if (secrets.has(v)) {
      o.warn?.(
        `environment/env.yaml: ${k} holds a secret and is not sent to Azure; put it in Key Vault and map it in SECRETS and SECRET_ENVIRONMENT_VARIABLES`,
      );
      continue;
    }
    plain[k] = v;
  }
  Object.assign(plain, e.environmentVariables, {
    PROMPTFLOW_RUN_MODE: 'serving',
    ...(o.init ? { PF_FLOW_INIT_CONFIG: JSON.stringify(o.init) } : {}),
  });
  for (const [k, v] of Object.entries(plain))
    if (secrets.has(v))
      throw ConfigError.at(
        { file: 'deployment_config.json' },
        `container_app_endpoint[${e.index}].ENVIRONMENT_VARIABLES.${k} holds a secret value; expected it in Key Vault, named in SECRETS and mapped in SECRET_ENVIRONMENT_VARIABLES`,
      );
  for (const k of Object.keys(e.secretEnvironmentVariables)) delete plain[k];
  const needed = o.connections.flatMap((c) =>
    Object.keys(c.value)
      .filter((k) => c.secretKeys.includes(k) || (k === 'api_key' && c.type !== 'CustomConnection'))
      .map((k) => connectionOverrideName(c.name, k)),
  );
  for (const v of needed)
    if (!(v in e.secretEnvironmentVariables) && !(v in plain))
      o.warn?.(
        `the flow's connection secret ${v} is not mapped: add it to SECRET_ENVIRONMENT_VARIABLES (and its Key Vault URL to SECRETS), or the app's calls will fail`,
      );
  return [
    ...Object.entries(plain)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, value]) => ({ name, value })),
    ...Object.entries(e.secretEnvironmentVariables)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, secretRef]) => ({ name, secretRef })),
  ];
}

/** The revision template (no suffix): one container, probes on /health, resources, scale. */
export function revisionTemplate(o: ContainerAppDeployOptions, image: string): Template {
  const e = o.entry;
  const probe = (type: 'Liveness' | 'Readiness' | 'Startup') => ({
    type,
    httpGet: { path: '/health', port: e.targetPort },
    periodSeconds: type === 'Startup' ? 2 : 10,
    failureThreshold: type === 'Startup' ? 60 : 3,
    timeoutSeconds: 2,
  });
  return {
    containers: [
      {
        name: 'flow',
        image,
        env: containerEnv(o),
        resources: { cpu: e.cpu, memory: e.memory },
        probes: [probe('Startup'), probe('Readiness'), probe('Liveness')],
      },
    ],
    scale: containerAppScale(e),
  };
}

/** Suffix from the content: the same image and settings give the same revision. */
export function contentSuffix(template: Template, secrets: unknown, unique: boolean): string {
  const hash = createHash('sha256').update(JSON.stringify({ template, secrets })).digest('hex').slice(0, 10);
  return unique ? `${hash}-${Date.now().toString(36)}` : hash;
}

/** The ARM id and name of the managed environment. */
function environmentOf(o: ContainerAppDeployOptions, rg: string): { id: string; rg: string; name: string } {
  const e = o.entry;
  if (e.environmentId) {
    const m = /\/resourceGroups\/([^/]+)\/providers\/Microsoft\.App\/managedEnvironments\/([^/]+)$/i.exec(
      e.environmentId,
    );
    return { id: e.environmentId, rg: m![1], name: m![2] };
  }
  const name = e.environmentName!;
  return {
    id: `/subscriptions/${o.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.App/managedEnvironments/${name}`,
    rg,
    name,
  };
}

/** A revision that failed, or is active and unhealthy: not reused for its content. */
function brokenRevision(r: Revision): boolean {
  const failed = [r.provisioningState, r.runningState].some((x) => (x ?? '').toLowerCase() === 'failed');
  return failed || (Boolean(r.active) && (r.healthState ?? '').toLowerCase() === 'unhealthy');
}

/** The label the new revision gets: blue or green, whichever the most-served revision does not hold. */
export function pickLabel(labels: Map<string, string>, live: TrafficMap, version: string): string {
  if (labels.get(version)) return labels.get(version)!;
  const top = Object.entries(live).sort((a, b) => b[1] - a[1])[0]?.[0];
  return top && labels.get(top) === 'green' ? 'blue' : 'green';
}

export async function deployToContainerApp(o: ContainerAppDeployOptions): Promise<ContainerAppDeployResult> {
  const e = o.entry;
  const image = o.image ?? e.image;
  if (!image)
    throw ConfigError.at(
      { file: 'deployment_config.json' },
      `container_app_endpoint[${e.index}]: no image and no registry to build one; expected the --image input or IMAGE in the entry (the serving image built from \`llmops flow build-context\`), or REGISTRY_NAME (an Azure Container Registry that builds it)`,
    );
  const rg = e.resourceGroup ?? o.resourceGroup;
  const env = environmentOf(o, rg);
  let environment;
  try {
    environment = await o.client.managedEnvironments.get(env.rg, env.name);
  } catch (err) {
    throw serviceError(err, `read managed environment ${env.name} in resource group ${env.rg}`);
  }
  const domain = environment.defaultDomain;
  if (!domain) throw new ServiceError(`Container Apps: managed environment ${env.name} has no default domain`);
  const template = revisionTemplate(o, image);
  const secrets = Object.entries(e.secrets).map(([name, keyVaultUrl]) => ({
    name,
    keyVaultUrl,
    identity: e.identity ?? 'system',
  }));
  let suffix = contentSuffix(template, secrets, e.revisionSuffix === 'unique');
  let version = revisionName(e.appName, suffix);
  const target = new ContainerAppTarget(
    o.client,
    {
      resourceGroup: rg,
      name: e.appName,
      environmentId: env.id,
      location: e.location ?? environment.location ?? '',
      identity: e.identity,
      registryServer: e.registryServer,
      targetPort: e.targetPort,
      template,
      secrets,
    },
    o.wait,
    o.log,
  );
  const existing = await target.read();
  const live: TrafficMap = existing ? (await target.readTraffic()).traffic : {};
  const label = pickLabel(target.labels(), live, version);
  target.label = label;
  const url = `https://${existing?.configuration?.ingress?.fqdn ?? `${e.appName}.${domain}`}`;
  const labelUrl = `https://${e.appName}---${label}.${domain}`;

  let revision = existing ? await target.revision(version) : undefined;
  if (revision && brokenRevision(revision)) {
    // A suffix names one revision for good: content whose revision failed gets a fresh one to try again.
    o.log(
      `revision ${version} of this content is ${revision.runningState ?? revision.provisioningState}/${revision.healthState ?? '?'}; a new revision is made`,
    );
    suffix = `${suffix}-${Date.now().toString(36)}`;
    version = revisionName(e.appName, suffix);
    revision = undefined;
  }
  const serving = live[version] ?? 0;
  if (revision?.active && serving > 0 && serving >= Math.min(e.currentTraffic, 100)) {
    const text = `${version} already serves this image and these settings (${serving}% of ${e.appName}); nothing to deploy`;
    o.log(text);
    return {
      unchanged: true,
      app: e.appName,
      url,
      revision: version,
      live,
      planText: text,
      summary: `## Deploy ${o.name} (${CONTAINER_APP_TARGET})\n\n${text}. Live traffic: ${describeTraffic(live)}.\n`,
    };
  }
  const others = Object.entries(live)
    .filter(([v, w]) => v !== version && w > 0)
    .sort((a, b) => b[1] - a[1]);
  const plan = planRollout({
    target: CONTAINER_APP_TARGET,
    endpoint: e.appName,
    newVersion: version,
    prior: live,
    finalWeight: e.currentTraffic,
    priorVersion: e.currentTraffic < 100 ? others[0]?.[0] : undefined,
    steps: o.steps,
    // KEEP_REVISIONS in the entry wins over the step's keep input (which always has a value).
    keep: e.keep ?? o.keep,
  });
  const text = [
    `image ${image}, revision ${version} (${revision ? (revision.active ? 'exists' : 'exists, inactive: activated') : 'new'}), label ${label} (${labelUrl})`,
    existing
      ? `container app ${e.appName} exists (${existing.configuration?.activeRevisionsMode ?? 'Single'} revision mode${existing.configuration?.activeRevisionsMode === 'Multiple' ? '' : ': switched to Multiple'})`
      : `container app ${e.appName} will be created in ${env.name} (multiple-revision mode, no traffic until the rollout gives it some)`,
    ...(e.autoscale ? [`revision ${version}: ${describeAutoscale(e.autoscale)} (template.scale)`] : []),
    planText(plan).replace('delete old deployments', 'deactivate old revisions'),
  ].join('\n');
  if (o.dryRun) {
    o.log(text);
    return {
      plan,
      app: e.appName,
      url,
      revision: version,
      label,
      live,
      planText: text,
      summary: `## Deploy ${o.name} (${CONTAINER_APP_TARGET}): dry run\n\n\`\`\`\n${text}\n\`\`\`\n`,
    };
  }

  const ensured = await target.ensure(suffix);
  o.log(`container app ${e.appName} ${ensured.created ? 'created' : 'exists'}: ${url}`);
  const appUrl = ensured.app.configuration?.ingress?.fqdn ? `https://${ensured.app.configuration.ingress.fqdn}` : url;
  const doFetch = o.fetch ?? containerAppFetch();

  const smokeCheck: RolloutCheck = async (_v, stage) => {
    const results: [string, SmokeResult][] = [
      [`label ${label}`, await runSmokeTests(o.smoke, { endpoint: labelUrl, fetch: doFetch })],
    ];
    if (stage) results.push(['app', await runSmokeTests(o.smoke, { endpoint: appUrl, fetch: doFetch })]);
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
  // A smoke run that cannot reach the app at all is a failed check, not a crash of the rollout.
  const check: RolloutCheck = async (v, stage) => {
    try {
      return await smokeCheck(v, stage);
    } catch (err) {
      return { passed: false, detail: err instanceof Error ? err.message : String(err) };
    }
  };

  const save = (r: RolloutResult) =>
    writeState(o.stateDir, o.name, {
      target: CONTAINER_APP_TARGET,
      app: e.appName,
      resourceGroup: rg,
      revision: version,
      url: appUrl,
      prior: plan.prior,
      live: r.live,
      outcome: r.outcome,
      reason: r.reason,
      steps: r.steps,
      ...(target.startedRevision ? { activated: [target.startedRevision] } : {}),
      updatedAt: new Date().toISOString(),
    });
  const rollout = await runRollout(plan, target, { checks: [check, ...(o.checks ?? [])], log: o.log, onStep: save });
  save(rollout);
  return {
    plan,
    rollout,
    app: e.appName,
    url: appUrl,
    revision: version,
    label,
    live: rollout.live,
    planText: text,
    summary: `${rolloutMarkdown(rollout).replace('Deleted old deployments', 'Deactivated old revisions')}\nApp URL: \`${appUrl}\`; label ${label}: \`${labelUrl}\`\n${e.autoscale ? `\nRevision ${version}: ${describeAutoscale(e.autoscale)}.\n` : ''}`,
  };
}

/** `deploy --rollback`: the weights before the last rollout, if nobody changed the traffic since. */
export async function rollbackContainerApp(o: {
  client: ContainerAppsAPIClient;
  name: string;
  stateDir: string;
  wait?: WaitOptions;
  log: (l: string) => void;
}): Promise<{ live: TrafficMap; summary: string; state: ContainerAppState }> {
  const state = readContainerAppState(o.stateDir, o.name);
  if (!state)
    throw ConfigError.at(
      { file: containerAppStateFile(o.stateDir, o.name) },
      'no rollout recorded here; expected a deploy of this target before --rollback',
    );
  const target = new ContainerAppTarget(
    o.client,
    {
      resourceGroup: state.resourceGroup,
      name: state.app,
      environmentId: '',
      location: '',
      targetPort: 8080,
      template: {},
      secrets: [],
    },
    o.wait,
    o.log,
  );
  const { traffic } = await target.readTraffic();
  const activated: string[] = [];
  if (sameTraffic(traffic, state.prior)) {
    o.log(`${state.app} already has the prior traffic (${describeTraffic(state.prior)})`);
  } else {
    if (!sameTraffic(traffic, state.live))
      throw new ServiceError(
        `Container Apps: the traffic of ${state.app} is ${describeTraffic(traffic)}, not what the last rollout left (${describeTraffic(state.live)}); someone changed it since, so it is not rolled back`,
      );
    // A prior revision deactivated since (kept-N policy) is activated and waited on before it gets weight again.
    for (const v of Object.keys(state.prior).filter((r) => state.prior[r] > 0)) {
      const r = await target.revision(v);
      if (!r) throw new ServiceError(`Container Apps: cannot roll back ${state.app}: revision ${v} no longer exists`);
      if (!r.active) {
        o.log(`activating ${v} before it gets traffic back`);
        await target.activate(v);
        await target.waitHealthy(v);
        activated.push(v);
      }
    }
    await target.readTraffic();
    await target.writeTraffic(state.prior);
    const back = await target.readTraffic();
    if (!sameTraffic(back.traffic, state.prior))
      throw new ServiceError(
        `Container Apps: traffic of ${state.app} read back as ${describeTraffic(back.traffic)} after the rollback`,
      );
    o.log(`${state.app}: traffic back to ${describeTraffic(state.prior)}`);
  }
  // Scaling goes back with the traffic: a revision the rollout made active runs its scale rules' replicas, so one
  // left without traffic is deactivated again (revisions cannot be deleted; a second rollback activates it).
  const lines: string[] = [];
  for (const v of state.activated ?? []) {
    if (state.prior[v] > 0) continue;
    const r = await target.revision(v);
    if (!r?.active) continue;
    await target.deleteVersion(v);
    lines.push(`revision ${v} deactivated (it was not active before the rollout; its scale rules run no replicas)`);
    o.log(lines.at(-1)!);
  }
  const next: ContainerAppState = {
    ...state,
    prior: state.live,
    live: state.prior,
    outcome: 'rolled-back',
    reason: 'deploy --rollback',
    activated,
    updatedAt: new Date().toISOString(),
  };
  writeState(o.stateDir, o.name, next);
  return {
    live: state.prior,
    state: next,
    summary: `## Rollback of ${state.app} (${CONTAINER_APP_TARGET})\n\nTraffic: ${describeTraffic(state.live)} → ${describeTraffic(state.prior)}.\n${lines.map((l) => `\n${l[0].toUpperCase()}${l.slice(1)}.\n`).join('')}`,
  };
}
