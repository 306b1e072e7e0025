/**
 * `deploy --target azure-managed | azure-kubernetes`: the flow as a model version and an environment (both by
 * content hash), the endpoint created when absent, a new blue/green deployment provisioned, smoke-tested alone
 * through the `azureml-model-deployment` header, then given traffic in stages with checks between them; any
 * failure puts the exact prior traffic map back. The outcome is a state file (for `--rollback`) and a
 * Markdown summary.
 * @module
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MlWorkspace } from '../azure/workspace.js';
import type { Connection } from '../config/connections.js';
import type { AzureEndpointEntry } from '../config/deployment.js';
import { ConfigError, ServiceError } from '../errors.js';
import type { LoadedFlow } from '../flow/index.js';
import { connectionOverrideName } from '../serve/flow-setup.js';
import { ensureEnvironment, ensureModel, environmentVersion, packageFlow, type FlowPackage } from './azure-assets.js';
import { AzureOnlineEndpoint, type DeploymentSpec, type EndpointSpec } from './azure-endpoint.js';
import { describeAutoscale } from '../config/autoscale.js';
import {
  insightsClient,
  mlDeploymentTarget,
  MonitorAutoscale,
  revertSettings,
  sameSetting,
  type SettingChange,
} from './autoscale-monitor.js';
import { withAutoscale } from './autoscale-target.js';
import {
  describeTraffic,
  isMirrorStage,
  planRollout,
  planText,
  rolloutMarkdown,
  restore,
  runRollout,
  sameTraffic,
  type RolloutCheck,
  type RolloutPlan,
  type RolloutResult,
  type TrafficMap,
} from './rollout.js';
import { DEFAULT_PROBE_REQUESTS, healthOf, judgeHealth, probeEndpoint, RequestRecorder } from './rollout-health.js';
import { runSmokeTests, scoringUrl, type SmokeResult } from './smoke-run.js';
import type { SmokeSuite } from './smoke-tests.js';

export type AzureTarget = 'azure-managed' | 'azure-kubernetes';

/** Names the deployment a request is for, and (in the response) the deployment that answered. */
const DEPLOYMENT_HEADER = 'azureml-model-deployment';

export interface AzureDeployOptions {
  /** More checks after the smoke tests at each point (e.g. the promotion gate). */
  checks?: RolloutCheck[];
  ws: MlWorkspace;
  target: AzureTarget;
  entry: AzureEndpointEntry;
  /** `<experiment>-<env>`: model and environment name, state file name. */
  name: string;
  flow: string | LoadedFlow;
  variants: string[];
  connections: readonly Connection[];
  /** Flex flow `__init__` arguments (init.json), given to the container as PF_FLOW_INIT_CONFIG. */
  init?: Record<string, unknown>;
  /** environment/env.yaml resolved, and the secret values among everything loaded (never sent). */
  envYaml?: Record<string, string>;
  secrets?: readonly string[];
  /** Folder holding the packed CLI the serving image is built with (default: where this code runs from, an
   * installation or a packaged action/task, which ships serve-cli.js beside its bundle). */
  packageRoot?: string;
  /** An image to run instead of our serving image built from the flow's build context. */
  image?: string;
  smoke: SmokeSuite;
  steps?: number[];
  keep?: number;
  /** A stage fails when the new deployment's requests' p95 latency exceeds this (ms). */
  maxP95Ms?: number;
  /** A stage fails when more than this share of the new deployment's requests fail (default 0.01). */
  maxErrorRate?: number;
  /** Requests sent through the endpoint at each stage to measure the new deployment under the split. */
  probeRequests?: number;
  /** A mirror stage first: this percent of live requests copied to the new deployment (managed only). */
  mirrorPercent?: number;
  /** Location of a new endpoint (default: the workspace's). */
  location?: string;
  authMode?: 'Key' | 'AMLToken' | 'AADToken';
  appInsights?: boolean;
  dryRun?: boolean;
  stateDir: string;
  mask: (secret: string) => void;
  log: (line: string) => void;
  warn?: (line: string) => void;
}

export interface AzureDeployResult {
  plan?: RolloutPlan;
  rollout?: RolloutResult;
  /** Nothing to do: the same model and environment already serve as configured. */
  unchanged?: boolean;
  endpoint: string;
  scoringUri: string;
  deployment: string;
  live: TrafficMap;
  planText: string;
  summary: string;
}

export interface AzureDeploymentState {
  target: AzureTarget;
  endpoint: string;
  deployment: string;
  scoringUri: string;
  prior: TrafficMap;
  /** The mirror map before the rollout, when it wrote mirrors. */
  priorMirror?: TrafficMap;
  /** Every traffic (and mirror) map the rollout may write: what a killed one may have left live. */
  stages?: { traffic: TrafficMap; mirror?: TrafficMap }[];
  live: TrafficMap;
  /** A RolloutOutcome; `in-progress` in the file means the step was killed midway. */
  outcome: string;
  reason?: string;
  steps: RolloutResult['steps'];
  /** Autoscale settings the rollout changed and left in place (promoted): what `--rollback` puts back. */
  autoscale?: SettingChange[];
  updatedAt: string;
}

export function azureStateFile(stateDir: string, name: string, target: AzureTarget): string {
  return path.join(stateDir, 'deploy', `${name}-${target}.json`);
}

export function readAzureState(stateDir: string, name: string, target: AzureTarget): AzureDeploymentState | undefined {
  const file = azureStateFile(stateDir, name, target);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as AzureDeploymentState) : undefined;
}

function writeState(stateDir: string, name: string, target: AzureTarget, s: AzureDeploymentState): void {
  const file = azureStateFile(stateDir, name, target);
  mkdirSync(path.dirname(file), { recursive: true });
  // Written whole then renamed: a killed step never leaves half a state file.
  writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
}

/** Environment variables of the deployment: config, env.yaml (not its secrets), connection secrets by reference. */
export function deploymentVariables(
  o: AzureDeployOptions,
  endpoint: string,
  deployment: string,
): Record<string, string> {
  const s = o.ws.settings;
  const vars: Record<string, string> = {};
  const secrets = new Set(o.secrets ?? []);
  for (const [k, v] of Object.entries(o.envYaml ?? {})) {
    if (secrets.has(v)) {
      o.warn?.(
        `environment/env.yaml: ${k} holds a secret and is not sent to Azure; put it in a workspace connection and reference it from ENVIRONMENT_VARIABLES`,
      );
      continue;
    }
    vars[k] = v;
  }
  for (const c of o.connections)
    for (const k of Object.keys(c.value))
      if (c.secretKeys.includes(k) || (k === 'api_key' && c.type !== 'CustomConnection'))
        // The endpoint's identity reads the workspace connection; the secret never travels in a request.
        vars[connectionOverrideName(c.name, k)] = `\${{azureml://connections/${c.name}/credentials/${k}}}`;
  Object.assign(vars, o.entry.environmentVariables, {
    PROMPTFLOW_RUN_MODE: 'serving',
    // Who answers, on each request-log line (monitor --compare, the promotion gate).
    LLMOPS_DEPLOYMENT: deployment,
    ...(o.init ? { PF_FLOW_INIT_CONFIG: JSON.stringify(o.init) } : {}),
    PRT_CONFIG_OVERRIDE: `deployment.subscription_id=${s.subscriptionId},deployment.resource_group=${s.resourceGroup},deployment.workspace_name=${s.workspace},deployment.endpoint_name=${endpoint},deployment.deployment_name=${deployment}`,
  });
  for (const [k, v] of Object.entries(vars))
    if (secrets.has(v))
      throw ConfigError.at(
        { file: 'deployment_config.json' },
        `ENVIRONMENT_VARIABLES.${k} holds a secret value; expected a reference such as \${{azureml://connections/<name>/credentials/<key>}}`,
      );
  return vars;
}

/**
 * The name of the new deployment: CURRENT_DEPLOYMENT_NAME or its blue/green twin (blue ↔ green,
 * x-blue ↔ x-green, x → x-green or x-blue), one that does not serve (a serving deployment is never updated in
 * place), preferring one that does not exist yet.
 */
export function newDeploymentName(current: string, existing: string[], live: TrafficMap): string {
  const twin = /^(.*?)(-?)(blue|green)$/.exec(current);
  const candidates = [
    current,
    ...(twin
      ? [`${twin[1]}${twin[2]}${twin[3] === 'blue' ? 'green' : 'blue'}`]
      : [`${current.slice(0, 26)}-green`, `${current.slice(0, 27)}-blue`]),
  ];
  const free = candidates.filter((n) => !(live[n] > 0));
  const name = free.find((n) => !existing.includes(n)) ?? free[0];
  if (!name)
    throw ConfigError.at(
      { file: 'deployment_config.json' },
      `${candidates.join(', ')} all serve traffic; expected one of them free for the new deployment`,
    );
  return name;
}

/**
 * Who keeps 100 − CURRENT: PRIOR_DEPLOYMENT_NAME when it serves and is not the new deployment, else (the names
 * swapped roles, blue/green) the deployment serving the most traffic now.
 */
function priorOf(
  named: string | undefined,
  version: string,
  live: TrafficMap,
  log: (l: string) => void,
): string | undefined {
  if (named && named !== version && (live[named] ?? 0) > 0) return named;
  const serving = Object.entries(live)
    .filter(([d, w]) => d !== version && w > 0)
    .sort((a, b) => b[1] - a[1])[0]?.[0];
  if (named && serving)
    log(
      `PRIOR_DEPLOYMENT_NAME ${named} ${named === version ? 'is the new deployment' : 'serves no traffic'}; ${serving} keeps the prior share`,
    );
  return serving;
}

export async function deployToAzure(o: AzureDeployOptions): Promise<AzureDeployResult> {
  const e = o.entry;
  const kind = o.target === 'azure-kubernetes' ? 'kubernetes' : 'managed';
  const interrupted = interruptedRollout(o.stateDir, o.name, o.target);
  let recovered = '';
  if (interrupted && o.dryRun)
    recovered = `a rollout of ${interrupted.deployment} was killed midway: its prior traffic (${describeTraffic(interrupted.prior, interrupted.priorMirror)}) is restored first`;
  else if (interrupted) recovered = await recoverInterrupted(o.ws, o.target, o.stateDir, o.name, interrupted, o.log);
  const pkg: FlowPackage = packageFlow({
    flow: o.flow,
    variants: o.variants,
    connections: o.connections,
    output: path.join(o.stateDir, 'deploy', `${o.name}-${o.target}-context`),
    packageRoot: o.packageRoot,
  });
  const spec: EndpointSpec = {
    name: e.endpointName,
    kind,
    authMode: o.authMode ?? 'Key',
    location: o.location ?? '',
    description: e.endpointDescription,
    tags: { created_by: 'llmops' },
    compute: e.computeName,
  };
  if (o.mirrorPercent !== undefined && kind === 'kubernetes')
    throw ConfigError.at(
      { file: 'deployment_config.json' },
      'MIRROR_TRAFFIC_PERCENT (or mirror-percent) on a Kubernetes online endpoint; expected it only for azure_managed_endpoint (Azure ML mirrors traffic on managed endpoints only)',
    );
  const probe = new AzureOnlineEndpoint(o.ws, spec);
  const { resource } = await probe.read();
  const live: TrafficMap = { ...(resource?.properties.traffic ?? {}) };
  const liveMirror: TrafficMap = { ...(resource?.properties.mirrorTraffic ?? {}) };
  const deployments = resource ? await probe.deployments() : [];
  const modelVersion = pkg.modelHash.slice(0, 16);
  const modelId = `${o.ws.id}/models/${o.name}/versions/${modelVersion}`;
  const environmentId = `${o.ws.id}/environments/${o.name}-serving/versions/${environmentVersion(o.image ? { image: o.image } : { pkg })}`;
  // Managed deployments only: Kubernetes online deployments scale by their own scaleSettings.
  const autoscaleOf = (deployment: string) =>
    e.autoscale && kind === 'managed'
      ? new MonitorAutoscale(
          insightsClient(o.ws),
          mlDeploymentTarget({
            workspaceId: o.ws.id,
            endpoint: e.endpointName,
            deployment,
            location: resource?.location ?? spec.location,
          }),
        )
      : undefined;
  const unchanged = deployments.find(
    (d) =>
      d.properties.provisioningState === 'Succeeded' &&
      d.properties.model === modelId &&
      d.properties.environmentId === environmentId &&
      (live[d.name] ?? 0) > 0,
  );
  if (unchanged) {
    let text = `${unchanged.name} already serves model ${o.name}:${modelVersion} with this environment (${live[unchanged.name]}% of ${e.endpointName}); nothing to deploy`;
    // The autoscale may have changed alone: its setting is put again (one whole PUT; traffic is not touched).
    if (autoscaleOf(unchanged.name) && !o.dryRun) {
      const change = await autoscaleOf(unchanged.name)!.change(e.autoscale!);
      text += `; ${describeAutoscale(e.autoscale!)} applied`;
      // A setting that really changed is this deploy's change: recorded so `--rollback` puts the earlier one back.
      // The same setting put again (a re-run) changes nothing and keeps the last rollout's record.
      if (!sameSetting(change.before, change.after)) {
        writeState(o.stateDir, o.name, o.target, {
          target: o.target,
          endpoint: e.endpointName,
          deployment: unchanged.name,
          scoringUri: resource?.properties.scoringUri ?? '',
          prior: live,
          live,
          outcome: 'promoted',
          reason: `only the autoscale setting of ${unchanged.name} changed`,
          steps: [],
          autoscale: [change],
          updatedAt: new Date().toISOString(),
        });
        text += ` (the earlier setting is kept for --rollback)`;
      }
    }
    o.log(text);
    return {
      unchanged: true,
      endpoint: e.endpointName,
      scoringUri: resource?.properties.scoringUri ?? '',
      deployment: unchanged.name,
      live,
      planText: text,
      summary: `## Deploy ${o.name} (${o.target})\n\n${text}. Live traffic: ${describeTraffic(live)}.\n`,
    };
  }
  const version = newDeploymentName(
    e.currentName,
    deployments.map((d) => d.name),
    live,
  );
  const plan = planRollout({
    target: o.target,
    endpoint: e.endpointName,
    newVersion: version,
    prior: live,
    finalWeight: e.currentTraffic,
    priorVersion: e.currentTraffic < 100 ? priorOf(e.priorName, version, live, o.log) : undefined,
    steps: o.steps,
    keep: o.keep,
    mirrorPercent: o.mirrorPercent,
    priorMirror: liveMirror,
  });
  const text = [
    ...(recovered ? [recovered] : []),
    `model ${o.name}:${modelVersion} (flow ${pkg.flowDir}), environment ${o.image ? `image ${o.image}` : `build context ${pkg.contextHash.slice(0, 16)}`}`,
    resource
      ? `endpoint ${e.endpointName} exists`
      : `endpoint ${e.endpointName} will be created (${kind}, auth ${spec.authMode})`,
    ...(autoscaleOf(version)
      ? [
          `${version}: ${describeAutoscale(e.autoscale!)} (Azure Monitor autoscale setting ${autoscaleOf(version)!.target.settingName}, applied once it is provisioned, before any traffic)`,
        ]
      : []),
    planText(plan),
  ].join('\n');
  if (o.dryRun) {
    o.log(text);
    return {
      plan,
      endpoint: e.endpointName,
      scoringUri: resource?.properties.scoringUri ?? '',
      deployment: version,
      live,
      planText: text,
      summary: `## Deploy ${o.name} (${o.target}): dry run\n\n\`\`\`\n${text}\n\`\`\`\n`,
    };
  }

  if (!resource && !spec.location) spec.location = await workspaceLocation(o.ws);
  const model = await ensureModel(o.ws, o.name, pkg);
  o.log(`model ${model.name}:${model.version} ${model.created ? 'registered' : 'already registered'}`);
  const env = await ensureEnvironment(o.ws, `${o.name}-serving`, o.image ? { image: o.image } : { pkg });
  o.log(`environment ${env.name}:${env.version} ${env.created ? 'registered' : 'already registered'}`);
  const deployment: DeploymentSpec = {
    model: model.id,
    environmentId: env.id,
    instanceType: e.vmSize,
    instanceCount: e.instanceCount,
    environmentVariables: deploymentVariables(o, e.endpointName, version),
    appInsightsEnabled: o.appInsights ?? false,
    description: e.deploymentDescription,
    tags: { model_hash: pkg.modelHash },
    cpu: e.cpu,
    memory: e.memory,
  };
  const target = new AzureOnlineEndpoint(o.ws, spec, deployment);
  const ensured = await target.ensure();
  o.log(`endpoint ${e.endpointName} ${ensured.created ? 'created' : 'exists'}: ${ensured.scoringUri}`);
  const scoringUri = ensured.scoringUri || (await target.read()).resource?.properties.scoringUri || '';
  const authMode = (await target.read()).resource?.properties.authMode ?? spec.authMode;
  const apiKey = await scoringCredential(o.ws, target, authMode, o.mask);

  // Every request of a check goes through the recorder: the new deployment's figures come from what it answered.
  const recorder = new RequestRecorder(DEPLOYMENT_HEADER);
  const smokeChecks: RolloutCheck = async (v, stage) => {
    recorder.take();
    const alone = await runSmokeTests(o.smoke, {
      endpoint: scoringUri,
      apiKey,
      headers: { [DEPLOYMENT_HEADER]: v },
      fetch: recorder.fetch,
    });
    const results: [string, SmokeResult][] = [[`${v} alone`, alone]];
    if (stage && !isMirrorStage(stage))
      results.push(['endpoint', await runSmokeTests(o.smoke, { endpoint: scoringUri, apiKey, fetch: recorder.fetch })]);
    const parts = results.map(([who, r]) => {
      const passed = r.tests.filter((t) => t.passed).length;
      const failures = r.tests.flatMap((t) => t.failures.map((f) => `${t.name}: ${f}`));
      return {
        ok: r.passed,
        text: `${who}: ${passed}/${r.tests.length} smoke tests passed${failures.length ? ` (${failures.slice(0, 3).join('; ')})` : ''}`,
      };
    });
    let probed = '';
    if (stage && (o.probeRequests ?? DEFAULT_PROBE_REQUESTS) > 0) {
      const count = o.probeRequests ?? DEFAULT_PROBE_REQUESTS;
      // Through the split: at a live stage the new deployment answers its share; on a mirror stage the endpoint
      // copies them to it and discards its answers, so its figures are those of the requests naming it, under that load.
      await probeEndpoint({
        url: scoringUrl(scoringUri),
        headers: { authorization: `Bearer ${apiKey}` },
        bodies: o.smoke.tests.map((t) => (typeof t.request === 'string' ? t.request : JSON.stringify(t.request))),
        count,
        doFetch: recorder.fetch,
        timeoutMs: o.smoke.timeoutMs,
      });
      probed = `, ${count} probe requests through the endpoint`;
    }
    const health = judgeHealth(healthOf(recorder.take(), v), { maxErrorRate: o.maxErrorRate, maxP95Ms: o.maxP95Ms });
    parts.push({ ok: health.passed, text: `${health.detail}${probed}` });
    return { passed: parts.every((p) => p.ok), detail: parts.map((p) => p.text).join('; ') };
  };

  // The new deployment's setting as it was before (a reused deployment name may have had one) and as applied.
  let changed: SettingChange | undefined;
  const save = (r: RolloutResult) =>
    writeState(o.stateDir, o.name, o.target, {
      target: o.target,
      endpoint: e.endpointName,
      deployment: version,
      scoringUri,
      prior: plan.prior,
      ...(plan.priorMirror ? { priorMirror: plan.priorMirror } : {}),
      stages: plan.stages.map((st) =>
        st.mirror ? { traffic: st.traffic, mirror: st.mirror } : { traffic: st.traffic },
      ),
      live: r.live,
      outcome: r.outcome,
      reason: r.reason,
      steps: r.steps,
      ...(changed ? { autoscale: [changed] } : {}),
      updatedAt: new Date().toISOString(),
    });
  const scaled = autoscaleOf(version)
    ? withAutoscale(target, {
        apply: async (v) => {
          changed = await autoscaleOf(v)!.change(e.autoscale!);
          o.log(`${v}: ${describeAutoscale(e.autoscale!)} applied (${autoscaleOf(v)!.target.settingName})`);
        },
        remove: async (v) => autoscaleOf(v)!.restore(undefined),
        discard: async (v) => {
          if (!changed) return undefined;
          await autoscaleOf(v)!.restore(changed.before ?? undefined);
          const what = `autoscale setting ${autoscaleOf(v)!.target.settingName} ${changed.before ? 'put back as it was' : 'removed'}`;
          changed = undefined;
          o.log(`${v}: ${what}`);
          return what;
        },
      })
    : target;
  const rollout = await runRollout(plan, scaled, {
    checks: [smokeChecks, ...(o.checks ?? [])],
    log: o.log,
    onStep: save,
  });
  save(rollout);
  return {
    plan,
    rollout,
    endpoint: e.endpointName,
    scoringUri,
    deployment: version,
    live: rollout.live,
    planText: text,
    summary: `${recovered ? `> ${recovered}\n\n` : ''}${rolloutMarkdown(rollout)}\nScoring URI: \`${scoringUri}\`\n${autoscaleOf(version) ? `\n${version}: ${describeAutoscale(e.autoscale!)} (Azure Monitor autoscale setting \`${autoscaleOf(version)!.target.settingName}\`).\n` : ''}`,
  };
}

/** The state of a rollout that was killed midway (its file still says in-progress), if any. */
function interruptedRollout(stateDir: string, name: string, target: AzureTarget): AzureDeploymentState | undefined {
  const state = readAzureState(stateDir, name, target);
  if (state?.outcome !== 'in-progress') return undefined;
  // Killed after its last stage passed (pruning, or writing the end): it is done, nothing to undo.
  const passed = state.steps.filter((st) => (st.kind === 'stage' || st.kind === 'mirror') && st.passed).length;
  if (state.stages && passed === state.stages.length) {
    const live = state.stages.at(-1)?.traffic ?? state.live;
    writeState(stateDir, name, target, { ...state, live, outcome: 'promoted', updatedAt: new Date().toISOString() });
    return undefined;
  }
  return state;
}

/**
 * Puts back exactly the traffic (and mirror) a killed rollout found, as its own failure would have: the live
 * map must be the prior one or one the rollout may have written (its stages); anything else was changed by
 * someone since, and is left alone (ServiceError: a person decides). The state file then says what was done.
 */
async function recoverInterrupted(
  ws: MlWorkspace,
  target: AzureTarget,
  stateDir: string,
  name: string,
  state: AzureDeploymentState,
  log: (l: string) => void,
): Promise<string> {
  const endpoint = new AzureOnlineEndpoint(ws, {
    name: state.endpoint,
    kind: target === 'azure-kubernetes' ? 'kubernetes' : 'managed',
    authMode: 'Key',
    location: '',
  });
  log(`a rollout of ${state.deployment} to ${state.endpoint} was killed midway; restoring its prior traffic`);
  const plan: RolloutPlan = {
    target,
    endpoint: state.endpoint,
    newVersion: state.deployment,
    prior: state.prior,
    ...(state.priorMirror ? { priorMirror: state.priorMirror } : {}),
    stages: [],
    keep: 0,
  };
  const r = await restore(plan, endpoint, state.stages ?? [{ traffic: state.live }], log);
  // A killed rollout is a failed one: the autoscale it applied goes too, once no traffic reaches its deployment.
  const scaling =
    r.outcome === 'rolled-back' && state.autoscale?.length
      ? (await revertSettings(insightsClient(ws), state.autoscale)).lines
      : [];
  const reason = `the rollout of ${state.deployment} was killed midway; ${[r.detail, ...scaling].join('; ')}`;
  writeState(stateDir, name, target, {
    ...state,
    live: r.live,
    outcome: r.outcome === 'rolled-back' ? 'rolled-back' : 'conflict',
    reason,
    ...(scaling.length ? { autoscale: [] } : {}),
    updatedAt: new Date().toISOString(),
  });
  if (r.outcome !== 'rolled-back') throw new ServiceError(`Azure ML: ${reason}`);
  log(reason);
  return reason;
}

/** `deploy --rollback`: the traffic map before the last rollout, if nobody changed the traffic since. */
export async function rollbackAzure(o: {
  ws: MlWorkspace;
  target: AzureTarget;
  entry: AzureEndpointEntry;
  name: string;
  stateDir: string;
  log: (l: string) => void;
}): Promise<{ live: TrafficMap; summary: string; state: AzureDeploymentState }> {
  const state = readAzureState(o.stateDir, o.name, o.target);
  if (!state)
    throw ConfigError.at(
      { file: azureStateFile(o.stateDir, o.name, o.target) },
      'no rollout recorded here; expected a deploy of this target before --rollback',
    );
  if (state.outcome === 'in-progress') {
    const reason = await recoverInterrupted(o.ws, o.target, o.stateDir, o.name, state, o.log);
    return {
      live: state.prior,
      state: readAzureState(o.stateDir, o.name, o.target)!,
      summary: `## Rollback of ${state.endpoint} (${o.target})\n\n${reason}. Traffic: ${describeTraffic(state.prior, state.priorMirror)}.\n`,
    };
  }
  const target = new AzureOnlineEndpoint(o.ws, {
    name: state.endpoint,
    kind: o.target === 'azure-kubernetes' ? 'kubernetes' : 'managed',
    authMode: 'Key',
    location: '',
  });
  const { traffic, etag } = await target.readTraffic();
  if (sameTraffic(traffic, state.prior)) {
    o.log(`${state.endpoint} already has the prior traffic (${describeTraffic(state.prior)})`);
  } else {
    if (!sameTraffic(traffic, state.live))
      throw new ServiceError(
        `Azure ML: the traffic of ${state.endpoint} is ${describeTraffic(traffic)}, not what the last rollout left (${describeTraffic(state.live)}); someone changed it since, so it is not rolled back`,
      );
    const missing = Object.keys(state.prior).filter((d) => !traffic[d] && state.prior[d] > 0);
    const existing = await target.listVersions();
    const gone = missing.filter((d) => !existing.includes(d));
    if (gone.length)
      throw new ServiceError(
        `Azure ML: cannot roll back ${state.endpoint}: deployment ${gone.join(', ')} no longer exists`,
      );
    await target.writeTraffic(state.prior, etag);
    const back = await target.readTraffic();
    if (!sameTraffic(back.traffic, state.prior))
      throw new ServiceError(
        `Azure ML: traffic of ${state.endpoint} read back as ${describeTraffic(back.traffic)} after the rollback`,
      );
    o.log(`${state.endpoint}: traffic back to ${describeTraffic(state.prior)}`);
  }
  // Scaling goes back with the traffic: the settings the rollout changed are put back as they were.
  const scaling = state.autoscale?.length
    ? await revertSettings(insightsClient(o.ws), state.autoscale)
    : { reverted: [], lines: [] };
  for (const l of scaling.lines) o.log(`${state.endpoint}: ${l}`);
  const next: AzureDeploymentState = {
    ...state,
    prior: state.live,
    live: state.prior,
    outcome: 'rolled-back',
    reason: 'deploy --rollback',
    ...(state.autoscale ? { autoscale: scaling.reverted } : {}),
    updatedAt: new Date().toISOString(),
  };
  writeState(o.stateDir, o.name, o.target, next);
  return {
    live: state.prior,
    state: next,
    summary: `## Rollback of ${state.endpoint} (${o.target})\n\nTraffic: ${describeTraffic(state.live)} → ${describeTraffic(state.prior)}.\n${scaling.lines.map((l) => `\n${l[0].toUpperCase()}${l.slice(1)}.\n`).join('')}`,
  };
}

/** Scoring URI of an existing endpoint and the credential to call it: its key (listKeys) or an Entra token, masked. */
export async function azureScoring(
  ws: MlWorkspace,
  target: AzureTarget,
  entry: AzureEndpointEntry,
  mask: (s: string) => void,
): Promise<{ scoringUri: string; apiKey: string; traffic: TrafficMap }> {
  const endpoint = new AzureOnlineEndpoint(ws, {
    name: entry.endpointName,
    kind: target === 'azure-kubernetes' ? 'kubernetes' : 'managed',
    authMode: 'Key',
    location: '',
  });
  const { resource } = await endpoint.read();
  if (!resource?.properties.scoringUri)
    throw new ServiceError(
      `Azure ML: online endpoint ${entry.endpointName} ${resource ? 'has no scoring URI yet' : 'does not exist'} in workspace ${ws.settings.workspace}; deploy first`,
    );
  const apiKey = await scoringCredential(ws, endpoint, resource.properties.authMode, mask);
  return { scoringUri: resource.properties.scoringUri, apiKey, traffic: { ...(resource.properties.traffic ?? {}) } };
}

async function workspaceLocation(ws: MlWorkspace): Promise<string> {
  const r = await ws.client.get<{ location?: string }>(ws.id, {
    what: `read workspace ${ws.settings.workspace}`,
    accept: [404],
  });
  if (r.status === 404 || !r.body?.location)
    throw ConfigError.at(
      { file: 'input "location"' },
      'the workspace location could not be read; expected the Azure region for the new endpoint',
    );
  return r.body.location;
}

/** What a caller sends as `Bearer`: the key (Key), an Azure ML token (AMLToken) or an Entra token (AADToken); masked. */
function scoringCredential(
  ws: MlWorkspace,
  endpoint: AzureOnlineEndpoint,
  authMode: string,
  mask: (s: string) => void,
): Promise<string> {
  if (authMode === 'Key') return endpoint.key(mask);
  if (authMode === 'AMLToken') return endpoint.token(mask);
  return entraToken(ws, mask);
}

/** Entra token for an AADToken endpoint (scope of Azure ML data plane), masked. */
async function entraToken(ws: MlWorkspace, mask: (s: string) => void): Promise<string> {
  const t = await ws.credential.getToken('https://ml.azure.com/.default');
  if (!t) throw new ServiceError('Azure sign-in returned no token for https://ml.azure.com');
  mask(t.token);
  return t.token;
}
