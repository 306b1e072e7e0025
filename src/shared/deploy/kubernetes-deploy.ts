/**
 * `deploy --target kubernetes`: blue/green on any cluster with a Gateway API implementation. The colour that
 * serves nothing gets the new image and config (its Secret, Service and Deployment server-side applied), is
 * waited on until available (the pods' status and events quoted when it is not), smoke-tested alone through the
 * Gateway with `x-llmops-colour`, then given weight in stages on the HTTPRoute by the rollout core; any failure
 * puts the exact prior weights back. The serving colour is never touched, so nothing stops serving at any
 * point. The outcome is a state file (for `--rollback`) and a Markdown summary.
 * @module
 */
import { describeAutoscale } from '../config/autoscale.js';
import {
  HPA_API,
  hpaChange,
  horizontalPodAutoscalerManifest,
  putHpa,
  readHpa,
  revertHpas,
  type HpaChange,
} from './kubernetes-autoscale.js';
import { withAutoscale } from './autoscale-target.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Connection } from '../config/connections.js';
import type { KubernetesEntry } from '../config/deployment.js';
import { ConfigError, ServiceError } from '../errors.js';
import { writeJsonAtomic } from '../files.js';
import { connectionOverrideName } from '../serve/flow-setup.js';
import type { KubeClient, KubeObject } from './kubernetes-client.js';
import {
  AUTOSCALED,
  colourOf,
  COLOUR_HEADER,
  COLOURS,
  CONFIG_HASH,
  configHash,
  deploymentManifest,
  secretManifest,
  serviceManifest,
  versionName,
  type Colour,
  type ContainerSpec,
} from './kubernetes-manifests.js';
import { GatewayRoute } from './kubernetes-route.js';
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
import { runSmokeTests } from './smoke-run.js';
import type { SmokeSuite } from './smoke-tests.js';

export interface KubernetesDeployOptions {
  /** More checks at each stage (e.g. the promotion gate). */
  checks?: RolloutCheck[];
  client: KubeClient;
  entry: KubernetesEntry;
  /** `<experiment>-<env>`: the state file's name. */
  name: string;
  image: string;
  connections: readonly Connection[];
  /** Flex flow `__init__` arguments (init.json), given to the container as PF_FLOW_INIT_CONFIG. */
  init?: Record<string, unknown>;
  /** environment/env.yaml resolved, and the secret values among everything loaded. */
  envYaml?: Record<string, string>;
  secrets?: readonly string[];
  smoke: SmokeSuite;
  steps?: number[];
  /** A mirror stage first: this percent of live requests copied to the new colour (RequestMirror). */
  mirrorPercent?: number;
  keep?: number;
  dryRun?: boolean;
  stateDir: string;
  /** How often rollout status is polled. */
  pollMs?: number;
  log: (line: string) => void;
  warn?: (line: string) => void;
}

export interface KubernetesDeployResult {
  plan?: RolloutPlan;
  rollout?: RolloutResult;
  unchanged?: boolean;
  /** The Gateway's scoring URL. */
  url: string;
  deployment: string;
  live: TrafficMap;
  summary: string;
}

export interface KubernetesState {
  target: 'kubernetes';
  namespace: string;
  route: string;
  deployment: string;
  url: string;
  prior: TrafficMap;
  /** The RequestMirror map before the rollout, when it wrote mirrors (restored with `prior`). */
  priorMirror?: TrafficMap;
  live: TrafficMap;
  outcome: string;
  reason?: string;
  steps: RolloutResult['steps'];
  /** The new colour's autoscaler as a promoted rollout changed it: what `--rollback` puts back. */
  autoscale?: HpaChange[];
  updatedAt: string;
}

export function kubernetesStateFile(stateDir: string, name: string): string {
  return path.join(stateDir, 'deploy', `${name}-kubernetes.json`);
}

function readKubernetesState(stateDir: string, name: string): KubernetesState | undefined {
  const file = kubernetesStateFile(stateDir, name);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as KubernetesState) : undefined;
}

/** Plain variables and secret ones (connections' secrets, env.yaml values that are secrets). */
export function containerVariables(o: KubernetesDeployOptions): Omit<ContainerSpec, 'image'> {
  const secrets = new Set(o.secrets ?? []);
  const env: Record<string, string> = {};
  const secretEnv: Record<string, string> = {};
  const put = (k: string, v: string) => {
    if (secrets.has(v)) secretEnv[k] = v;
    else env[k] = v;
  };
  for (const [k, v] of Object.entries(o.envYaml ?? {})) put(k, v);
  for (const [k, v] of Object.entries(o.entry.environmentVariables)) put(k, v);
  for (const c of o.connections)
    for (const [k, v] of Object.entries(c.value))
      if (c.secretKeys.includes(k) || (k === 'api_key' && c.type !== 'CustomConnection'))
        // The serving image's connection files read `${env:<CONN>_<KEY>}`: the value comes from the Secret.
        secretEnv[connectionOverrideName(c.name, k)] = String(v);
  env.PROMPTFLOW_RUN_MODE = 'serving';
  if (o.init) env.PF_FLOW_INIT_CONFIG = JSON.stringify(o.init);
  for (const k of Object.keys(secretEnv)) delete env[k];
  return { env, secretEnv };
}

/** The colour to deploy: one serving nothing, preferring one that does not exist yet; blue first. */
export function pickColour(entry: KubernetesEntry, existing: string[], live: TrafficMap): Colour {
  const free = COLOURS.filter((c) => !(live[versionName(entry, c)] > 0));
  const colour = free.find((c) => !existing.includes(versionName(entry, c))) ?? free[0];
  if (!colour)
    throw ConfigError.at(
      { file: entry.file },
      `kubernetes[${entry.index}]: both ${versionName(entry, 'blue')} and ${versionName(entry, 'green')} serve traffic (${describeTraffic(live)}); expected one of them at 0% for the new deployment (set CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION to 100, or deploy --rollback)`,
    );
  return colour;
}

/** The Gateway's external URL: the entry's URL, else https://HOST, else the Gateway's status address and listener port. */
export async function gatewayUrl(client: KubeClient, entry: KubernetesEntry): Promise<string> {
  if (entry.url) return entry.url;
  const gw = await client.read<KubeObject>(
    'gateway.networking.k8s.io/v1',
    'Gateway',
    entry.gateway.namespace,
    entry.gateway.name,
  );
  if (!gw)
    throw ConfigError.at(
      { file: entry.file },
      `kubernetes[${entry.index}].GATEWAY_NAME: Gateway ${entry.gateway.namespace}/${entry.gateway.name} does not exist in the cluster ${client.server}; expected an existing Gateway`,
    );
  const listeners = (
    (gw.spec as { listeners?: { name: string; port: number; protocol: string }[] })?.listeners ?? []
  ).filter((l) => !entry.gateway.sectionName || l.name === entry.gateway.sectionName);
  const listener = listeners.find((l) => l.protocol === 'HTTPS') ?? listeners.find((l) => l.protocol === 'HTTP');
  const scheme = listener?.protocol === 'HTTPS' ? 'https' : 'http';
  if (entry.host && !entry.host.startsWith('*.')) return `${scheme}://${entry.host}`;
  const address = (gw.status as { addresses?: { value: string }[] } | undefined)?.addresses?.[0]?.value;
  if (!address || !listener)
    throw ConfigError.at(
      { file: entry.file },
      `kubernetes[${entry.index}]: Gateway ${entry.gateway.namespace}/${entry.gateway.name} has ${listener ? 'no address in its status yet' : 'no HTTP or HTTPS listener'}; expected URL (the Gateway's external URL) in the entry`,
    );
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  const defaultPort = scheme === 'https' ? 443 : 80;
  return `${scheme}://${host}${listener.port === defaultPort ? '' : `:${listener.port}`}`;
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

/**
 * Waits as `kubectl rollout status` does: the new generation observed, every replica updated and available, no
 * old one left; ProgressDeadlineExceeded or our timeout fails with the pods' state and events quoted.
 */
export async function waitAvailable(
  client: KubeClient,
  entry: KubernetesEntry,
  name: string,
  generation: number,
  pollMs = 500,
): Promise<void> {
  const deadline = Date.now() + entry.rolloutTimeoutSeconds * 1000;
  for (;;) {
    const d = await client.read<KubeObject>('apps/v1', 'Deployment', entry.namespace, name);
    if (!d) throw new ServiceError(`Kubernetes: Deployment ${entry.namespace}/${name} disappeared while rolling out`);
    const s = (d.status ?? {}) as DeploymentStatus;
    const want = (d.spec as { replicas?: number }).replicas ?? 1;
    if ((s.observedGeneration ?? 0) >= generation) {
      const stuck = s.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
      if (stuck)
        throw new ServiceError(
          await notAvailable(client, entry, name, `${stuck.message ?? 'progress deadline exceeded'}`),
        );
      if (
        (s.updatedReplicas ?? 0) >= want &&
        (s.replicas ?? 0) <= (s.updatedReplicas ?? 0) &&
        (s.availableReplicas ?? 0) >= (s.updatedReplicas ?? 0)
      )
        return;
    }
    if (Date.now() > deadline)
      throw new ServiceError(
        await notAvailable(
          client,
          entry,
          name,
          `not available after ${entry.rolloutTimeoutSeconds} s (${s.availableReplicas ?? 0}/${want} available, ${s.updatedReplicas ?? 0} updated)`,
        ),
      );
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The Deployment's failure with each pod's state and its last events. */
async function notAvailable(client: KubeClient, entry: KubernetesEntry, name: string, why: string): Promise<string> {
  const colour = colourOf(entry, name);
  const lines = [`Kubernetes: Deployment ${entry.namespace}/${name} ${why}`];
  try {
    const pods = await client.list<KubeObject>('v1', 'Pod', entry.namespace, {
      labelSelector: `app.kubernetes.io/name=${entry.name}${colour ? `,llmops.dev/colour=${colour}` : ''}`,
    });
    for (const p of pods.slice(0, 5)) {
      const st = (p.status ?? {}) as {
        phase?: string;
        containerStatuses?: {
          ready?: boolean;
          restartCount?: number;
          state?: { waiting?: { reason?: string; message?: string } };
        }[];
      };
      const c = st.containerStatuses?.[0];
      const waiting = c?.state?.waiting;
      lines.push(
        `  pod ${p.metadata?.name}: ${st.phase ?? 'Unknown'}${c ? `, ready ${c.ready ? 'yes' : 'no'}, restarts ${c.restartCount ?? 0}` : ''}${waiting?.reason ? `, waiting: ${waiting.reason}${waiting.message ? ` (${waiting.message.trim().slice(0, 300)})` : ''}` : ''}`,
      );
      const events = await client.list<KubeObject>('v1', 'Event', entry.namespace, {
        fieldSelector: `involvedObject.name=${p.metadata?.name}`,
      });
      for (const e of events.slice(-3))
        lines.push(
          `    event ${String(e.type ?? '')} ${String(e.reason ?? '')}: ${String(e.message ?? '').slice(0, 300)}`,
        );
    }
  } catch (e) {
    lines.push(`  (the pods could not be read: ${(e as Error).message})`);
  }
  return lines.join('\n');
}

export async function deployToKubernetes(o: KubernetesDeployOptions): Promise<KubernetesDeployResult> {
  const e = o.entry;
  const where = `${e.namespace}/${e.name}`;
  const vars = containerVariables(o);
  const container: ContainerSpec = { image: o.image, ...vars };
  const probe = new GatewayRoute(o.client, e);
  const { traffic: live, mirror: liveMirror } = await probe.readTraffic();
  const deployments = await o.client.list<KubeObject>('apps/v1', 'Deployment', e.namespace, {
    labelSelector: `app.kubernetes.io/name=${e.name},app.kubernetes.io/managed-by=llmops`,
  });
  const hash = configHash(e, container);
  const same = deployments.find(
    (d) =>
      d.metadata?.annotations?.[CONFIG_HASH] === hash &&
      (live[String(d.metadata?.name)] ?? 0) >= Math.min(100, e.currentTraffic),
  );
  const url = o.dryRun ? (e.url ?? '') : await gatewayUrl(o.client, e);
  if (same) {
    const text = `${same.metadata?.name} already serves image ${o.image} with this configuration (${describeTraffic(live)}); nothing to deploy`;
    o.log(text);
    return {
      unchanged: true,
      url,
      deployment: String(same.metadata?.name),
      live,
      summary: `## Deploy ${o.name} (kubernetes)\n\n${text}.\n`,
    };
  }
  const colour = pickColour(
    e,
    deployments.map((d) => String(d.metadata?.name)),
    live,
  );
  const version = versionName(e, colour);
  const serving = Object.entries(live)
    .filter(([v, w]) => v !== version && w > 0)
    .sort((a, b) => b[1] - a[1])[0]?.[0];
  const plan = planRollout({
    target: 'kubernetes',
    endpoint: `HTTPRoute ${where}`,
    newVersion: version,
    prior: live,
    finalWeight: e.currentTraffic,
    priorVersion: e.currentTraffic < 100 ? serving : undefined,
    steps: o.steps,
    keep: o.keep,
    mirrorPercent: o.mirrorPercent,
    priorMirror: liveMirror,
  });
  const secretKeys = Object.keys(vars.secretEnv);
  const text = [
    `image ${o.image} as ${version} (Deployment, Service${secretKeys.length ? `, Secret with ${secretKeys.join(', ')}` : ''}${e.autoscale ? ', HorizontalPodAutoscaler' : ''}) in namespace ${e.namespace}, ${e.replicas} replica${e.replicas > 1 ? 's' : ''}`,
    ...(e.autoscale ? [`${version}: ${describeAutoscale(e.autoscale)} (HorizontalPodAutoscaler ${version})`] : []),
    `HTTPRoute ${where} on Gateway ${e.gateway.namespace}/${e.gateway.name}; ${version} reachable alone with ${COLOUR_HEADER}: ${colour}`,
    planText(plan),
  ].join('\n');
  if (o.dryRun) {
    // Built and validated like the real thing, sent nowhere.
    deploymentManifest(e, colour, container, new Date().toISOString());
    serviceManifest(e, colour);
    if (e.autoscale) horizontalPodAutoscalerManifest(e, colour);
    o.log(text);
    return {
      plan,
      url,
      deployment: version,
      live,
      summary: `## Deploy ${o.name} (kubernetes): dry run\n\n\`\`\`\n${text}\n\`\`\`\n`,
    };
  }

  const wasAutoscaled =
    deployments.find((d) => d.metadata?.name === version)?.metadata?.annotations?.[AUTOSCALED] === 'true';
  // The colour's autoscaler as it was (a colour is reused every other deploy) and as the rollout changed it.
  const hpaBefore = e.autoscale || wasAutoscaled ? await readHpa(o.client, e.namespace, version) : null;
  let scaling: HpaChange | undefined;
  // Set once the colour's Deployment may run the new pods: from then on an autoscaler of the colour scales them.
  let podsReplaced = false;
  const provision = async (v: string) => {
    if (secretKeys.length) await o.client.apply(secretManifest(e, colour, vars.secretEnv), `apply Secret of ${v}`);
    await o.client.apply(serviceManifest(e, colour), `apply Service ${v}`);
    podsReplaced = true;
    const applied = await o.client.apply<KubeObject>(
      deploymentManifest(e, colour, container, new Date().toISOString()),
      `apply Deployment ${v}`,
    );
    // Before any traffic: a refused autoscaler fails the provisioning, and the rollout leaves the route as it was.
    if (e.autoscale) {
      const hpa = await o.client.apply<KubeObject>(
        horizontalPodAutoscalerManifest(e, colour),
        `apply HorizontalPodAutoscaler ${v}`,
      );
      scaling = hpaChange(hpaBefore, hpa, v, e.namespace);
    }
    // AUTOSCALE removed: the colour's earlier autoscaler goes (clusters never autoscaled see no HPA call at all).
    else if (wasAutoscaled) {
      await o.client.delete(HPA_API, 'HorizontalPodAutoscaler', e.namespace, v);
      if (hpaBefore) scaling = hpaChange(hpaBefore, null, v, e.namespace);
    }
    o.log(
      `${v}: waiting for ${e.replicas} available replica${e.replicas > 1 ? 's' : ''} (generation ${applied.metadata?.generation})`,
    );
    await waitAvailable(o.client, e, v, applied.metadata?.generation ?? 1, o.pollMs);
    const existing = (await route.listVersions()).map((x) => colourOf(e, x)!);
    await route.applyColours([...new Set([...existing, colour])]);
  };
  const route = new GatewayRoute(o.client, e, provision);
  // A rollout that does not promote leaves no autoscaler on the failed colour. The one it had before (a colour is
  // reused every other deploy) is not put back: it names the colour's Deployment, whose pods are now the failed
  // version's, so it would scale those. The serving colour is never touched and keeps its own.
  const target =
    e.autoscale || wasAutoscaled
      ? withAutoscale(route, {
          apply: () => Promise.resolve(),
          discard: async (v) => {
            if (!podsReplaced) return undefined;
            podsReplaced = false;
            scaling = undefined;
            if (!(await readHpa(o.client, e.namespace, v))) return undefined;
            await putHpa(o.client, e.namespace, v, null);
            const what = `HorizontalPodAutoscaler ${v} removed (it would scale the failed pods)`;
            o.log(what);
            return what;
          },
        })
      : route;
  const smoke: RolloutCheck = async (v, stage) => {
    const c = colourOf(e, v)!;
    const alone = await runSmokeTests(o.smoke, { endpoint: url, headers: { [COLOUR_HEADER]: c } });
    const results: [string, typeof alone][] = [[`${v} alone`, alone]];
    if (stage) results.push(['route', await runSmokeTests(o.smoke, { endpoint: url })]);
    const parts = results.map(([who, r]) => {
      const passed = r.tests.filter((t) => t.passed).length;
      const p95 = Math.max(0, ...r.tests.map((t) => t.p95Ms ?? 0));
      const failures = r.tests.flatMap((t) => t.failures.map((f) => `${t.name}: ${f}`));
      return {
        ok: r.passed,
        text: `${who}: ${passed}/${r.tests.length} smoke tests passed, p95 ${Math.round(p95)} ms${failures.length ? ` (${failures.slice(0, 3).join('; ')})` : ''}`,
      };
    });
    return { passed: parts.every((p) => p.ok), detail: parts.map((p) => p.text).join('; ') };
  };
  const save = (r: RolloutResult) =>
    writeJsonAtomic(kubernetesStateFile(o.stateDir, o.name), {
      target: 'kubernetes',
      namespace: e.namespace,
      route: e.name,
      deployment: version,
      url,
      prior: plan.prior,
      ...(plan.priorMirror ? { priorMirror: plan.priorMirror } : {}),
      live: r.live,
      outcome: r.outcome,
      reason: r.reason,
      steps: r.steps,
      ...(scaling && r.outcome === 'promoted' ? { autoscale: [scaling] } : {}),
      updatedAt: new Date().toISOString(),
    } satisfies KubernetesState);
  const rollout = await runRollout(plan, target, { checks: [smoke, ...(o.checks ?? [])], log: o.log, onStep: save });
  save(rollout);
  return {
    plan,
    rollout,
    url,
    deployment: version,
    live: rollout.live,
    summary: `${rolloutMarkdown(rollout)}\nGateway URL: \`${url}\` (a colour alone: header \`${COLOUR_HEADER}\`)\n${e.autoscale ? `\n${version}: ${describeAutoscale(e.autoscale)} (HorizontalPodAutoscaler).\n` : ''}`,
  };
}

/** `deploy --rollback`: the weights before the last rollout, if nobody changed the route since. */
export async function rollbackKubernetes(o: {
  client: KubeClient;
  entry: KubernetesEntry;
  name: string;
  stateDir: string;
  log: (l: string) => void;
}): Promise<{ live: TrafficMap; summary: string; state: KubernetesState }> {
  const state = readKubernetesState(o.stateDir, o.name);
  if (!state)
    throw ConfigError.at(
      { file: kubernetesStateFile(o.stateDir, o.name) },
      'no rollout recorded here; expected a deploy --target kubernetes before --rollback',
    );
  const target = new GatewayRoute(o.client, o.entry);
  const { traffic, etag } = await target.readTraffic();
  if (sameTraffic(traffic, state.prior)) {
    o.log(`HTTPRoute ${state.route} already has the prior traffic (${describeTraffic(state.prior)})`);
  } else {
    if (!sameTraffic(traffic, state.live))
      throw new ServiceError(
        `Kubernetes: the traffic of HTTPRoute ${state.namespace}/${state.route} is ${describeTraffic(traffic)}, not what the last rollout left (${describeTraffic(state.live)}); someone changed it since, so it is not rolled back`,
      );
    const existing = await target.listVersions();
    const gone = Object.keys(state.prior).filter((v) => state.prior[v] > 0 && !existing.includes(v));
    if (gone.length)
      throw new ServiceError(
        `Kubernetes: cannot roll back HTTPRoute ${state.route}: Deployment ${gone.join(', ')} no longer exists`,
      );
    for (const v of Object.keys(state.prior).filter((x) => state.prior[x] > 0))
      await waitAvailable(o.client, o.entry, v, 0, 250);
    // The prior mirror too, to the colours that still exist (a pruned one has no Service left to copy to).
    const mirror = state.priorMirror
      ? Object.fromEntries(Object.entries(state.priorMirror).filter(([v]) => existing.includes(v)))
      : undefined;
    await target.writeTraffic(state.prior, etag, mirror);
    const back = await target.readTraffic();
    if (!sameTraffic(back.traffic, state.prior))
      throw new ServiceError(
        `Kubernetes: HTTPRoute ${state.route} read back as ${describeTraffic(back.traffic)} after the rollback`,
      );
    o.log(`HTTPRoute ${state.route}: traffic back to ${describeTraffic(state.prior)}`);
  }
  // Scaling goes back with the traffic: the autoscalers the rollout changed are put back as they were.
  const scaling = state.autoscale?.length ? await revertHpas(o.client, state.autoscale) : { reverted: [], lines: [] };
  for (const l of scaling.lines) o.log(l);
  const next: KubernetesState = {
    ...state,
    prior: state.live,
    live: state.prior,
    outcome: 'rolled-back',
    reason: 'deploy --rollback',
    ...(state.autoscale ? { autoscale: scaling.reverted } : {}),
    updatedAt: new Date().toISOString(),
  };
  writeJsonAtomic(kubernetesStateFile(o.stateDir, o.name), next);
  return {
    live: state.prior,
    state: next,
    summary: `## Rollback of HTTPRoute ${state.namespace}/${state.route} (kubernetes)\n\nTraffic: ${describeTraffic(state.live)} → ${describeTraffic(state.prior)}.\n${scaling.lines.map((l) => `\n${l}.\n`).join('')}`,
  };
}

/** What `smoke-test --target kubernetes` calls: the Gateway URL and the live weights. */
export async function kubernetesScoring(
  client: KubeClient,
  entry: KubernetesEntry,
): Promise<{ url: string; traffic: TrafficMap }> {
  const { traffic } = await new GatewayRoute(client, entry).readTraffic();
  return { url: await gatewayUrl(client, entry), traffic };
}
