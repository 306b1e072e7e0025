/**
 * The target-independent rollout core: a plan of traffic stages computed as data from the live traffic map,
 * then run against a `TrafficTarget` (Azure ML online endpoint now; Gateway API, App Service, Container Apps
 * later) with checks between stages. Before the first write the live map is snapshotted; any failure restores
 * exactly that map (verified by reading it back), unless someone else changed the traffic meanwhile, which is
 * reported and never overwritten. Shapes follow Flagger's `stepWeights` and Argo Rollouts' abort semantics.
 * @module
 */
import { isDeepStrictEqual } from 'node:util';
import { ConfigError } from '../errors.js';

/** Deployment (version) name → integer percent; entries at 0 are left out. */
export type TrafficMap = Record<string, number>;

export interface RolloutStage {
  /** Share of the new version at this stage (0 for a mirror stage). */
  weight: number;
  /** The whole map written at this stage. */
  traffic: TrafficMap;
  /**
   * Mirrored traffic written with it (version → percent of live requests copied to it, responses discarded):
   * on a mirror stage, the new version's share; on live stages, what is left of the prior mirror (a version
   * given live traffic is never mirrored to). Absent: the plan has no mirror at all.
   */
  mirror?: TrafficMap;
}

export interface RolloutPlan {
  target: string;
  /** The endpoint (route, app) whose traffic is shifted. */
  endpoint: string;
  newVersion: string;
  /** The live map the plan was computed from; the map restored on failure. */
  prior: TrafficMap;
  /** The mirror map live before (restored with `prior`); present when the plan writes mirrors. */
  priorMirror?: TrafficMap;
  stages: RolloutStage[];
  /** After success, keep this many newest versions (the live ones are never deleted). */
  keep: number;
}

export interface PlanRequest {
  target: string;
  endpoint: string;
  newVersion: string;
  prior: TrafficMap;
  /** Final share of the new version (CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION); default 100. */
  finalWeight?: number;
  /** Who keeps 100 − finalWeight (PRIOR_DEPLOYMENT_NAME); default: the prior versions in proportion. */
  priorVersion?: string;
  /** Intermediate shares of the new version, increasing; those at or above finalWeight are dropped. */
  steps?: number[];
  keep?: number;
  /** A first stage copying this percent of live traffic to the new version (1–50), before it gets any. */
  mirrorPercent?: number;
  /** The mirror map live now (kept on live stages unless it points at a version given traffic). */
  priorMirror?: TrafficMap;
}

/** Azure ML's ceiling for mirrored traffic, and a sane one for any target: a shadow never doubles the load. */
export const MAX_MIRROR_PERCENT = 50;

export const DEFAULT_STEPS = [10, 50];

/** Plans the stages; a plan that cannot be done is a ConfigError before anything is called. */
export function planRollout(r: PlanRequest): RolloutPlan {
  const where = { file: 'rollout plan' };
  const finalWeight = r.finalWeight ?? 100;
  checkMap(r.prior, 'the live traffic');
  if (!Number.isInteger(finalWeight) || finalWeight < 1 || finalWeight > 100)
    throw ConfigError.at(where, `final traffic ${finalWeight}; expected an integer from 1 to 100`);
  const others = Object.keys(r.prior).filter((v) => v !== r.newVersion && r.prior[v] > 0);
  if (r.priorVersion && r.priorVersion === r.newVersion)
    throw ConfigError.at(where, `prior deployment ${r.priorVersion} is the new one; expected another deployment`);
  // Nothing serves yet (a first deployment): the new one takes everything, whatever share was configured.
  if (r.priorVersion && finalWeight < 100 && others.length > 0 && !others.includes(r.priorVersion))
    throw ConfigError.at(
      where,
      `prior deployment ${r.priorVersion} serves no traffic now (live: ${describeTraffic(r.prior)}); expected one of: ${others.join(', ') || 'none'}`,
    );
  const steps = r.steps ?? DEFAULT_STEPS;
  steps.forEach((s, i) => {
    if (!Number.isInteger(s) || s < 1 || s > 100 || (i > 0 && s <= steps[i - 1]))
      throw ConfigError.at(where, `traffic steps ${steps.join(', ')}; expected increasing integers from 1 to 100`);
  });
  const m = r.mirrorPercent;
  if (m !== undefined && (!Number.isInteger(m) || m < 1 || m > MAX_MIRROR_PERCENT))
    throw ConfigError.at(where, `mirrored traffic ${m}%; expected an integer from 1 to ${MAX_MIRROR_PERCENT}`);
  const weights = others.length === 0 ? [100] : [...steps.filter((s) => s < finalWeight), finalWeight];
  const priorMirror = clean(r.priorMirror ?? {});
  // Mirrors are written only when the plan has one or one is live: other plans leave the target's as they are.
  const writesMirror = (m !== undefined && others.length > 0) || Object.keys(priorMirror).length > 0;
  const stages: RolloutStage[] = weights.map((w) => {
    const traffic = clean(
      w === finalWeight && r.priorVersion && finalWeight < 100 && others.length > 0
        ? { [r.newVersion]: w, [r.priorVersion]: 100 - w }
        : withShare(r.prior, r.newVersion, w),
    );
    const mirror = Object.fromEntries(Object.entries(priorMirror).filter(([v]) => !(traffic[v] > 0)));
    return writesMirror ? { weight: w, traffic, mirror } : { weight: w, traffic };
  });
  // Nothing serves yet: there is no live traffic to copy, so no mirror stage.
  if (m !== undefined && others.length > 0)
    stages.unshift({ weight: 0, traffic: clean(r.prior), mirror: { [r.newVersion]: m } });
  return {
    target: r.target,
    endpoint: r.endpoint,
    newVersion: r.newVersion,
    prior: clean(r.prior),
    ...(writesMirror ? { priorMirror } : {}),
    stages,
    keep: r.keep ?? 2,
  };
}

/** `prior` scaled to 100 − share (largest remainder, ties by name), plus the new version at `share`. */
export function withShare(prior: TrafficMap, version: string, share: number): TrafficMap {
  const others = Object.entries(prior).filter(([v, w]) => v !== version && w > 0);
  const total = others.reduce((s, [, w]) => s + w, 0);
  const rest = 100 - share;
  const exact = others.map(([v, w]) => ({ v, x: (w * rest) / total }));
  const out: TrafficMap = Object.fromEntries(exact.map(({ v, x }) => [v, Math.floor(x)]));
  let left = rest - Object.values(out).reduce((s, w) => s + w, 0);
  for (const { v } of [...exact].sort(
    (a, b) => b.x - Math.floor(b.x) - (a.x - Math.floor(a.x)) || (a.v < b.v ? -1 : 1),
  )) {
    if (left <= 0) break;
    out[v]++;
    left--;
  }
  out[version] = share;
  return out;
}

function clean(map: TrafficMap): TrafficMap {
  return Object.fromEntries(
    Object.entries(map)
      .filter(([, w]) => w > 0)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

/** Same map, ignoring 0% entries and order. */
export function sameTraffic(a: TrafficMap, b: TrafficMap): boolean {
  return isDeepStrictEqual(clean(a), clean(b));
}

/** Integers ≥ 0 adding up to 100 (or nothing at all: an endpoint that serves nothing yet). */
export function checkMap(map: TrafficMap, what: string): void {
  const values = Object.values(map);
  const sum = values.reduce((s, w) => s + w, 0);
  if (values.some((w) => !Number.isInteger(w) || w < 0) || (sum !== 100 && sum !== 0))
    throw ConfigError.at(
      { file: 'rollout plan' },
      `${what} is ${describeTraffic(map)}; expected integer shares adding up to 100`,
    );
}

export function describeTraffic(map: TrafficMap, mirror?: TrafficMap): string {
  const entries = Object.entries(clean(map));
  const mirrored = Object.entries(clean(mirror ?? {}));
  return (
    (entries.length ? entries.map(([v, w]) => `${v} ${w}%`).join(', ') : 'no traffic') +
    (mirrored.length ? ` (mirrored: ${mirrored.map(([v, w]) => `${v} ${w}%`).join(', ')})` : '')
  );
}

/** Live traffic and, where the plan writes mirrors, the mirror map: what a stage writes and a rollback restores. */
interface TrafficState {
  traffic: TrafficMap;
  mirror?: TrafficMap;
}

/** The same state; a mirror is compared only when `want` has one (plans without mirrors ignore the target's). */
function sameState(live: TrafficState, want: TrafficState): boolean {
  return sameTraffic(live.traffic, want.traffic) && (!want.mirror || sameTraffic(live.mirror ?? {}, want.mirror));
}

const describeState = (s: TrafficState) => describeTraffic(s.traffic, s.mirror);

/** What a rollout needs from a target. Every method may throw; the core turns that into a rollback. */
export interface TrafficTarget {
  /** The live traffic map, the mirror map (targets that mirror) and a version tag (ETag) for the next write. */
  readTraffic(): Promise<{ traffic: TrafficMap; etag?: string; mirror?: TrafficMap }>;
  /**
   * Writes the whole map only if the traffic is still at `etag`; a concurrent edit throws ConcurrentEdit.
   * `mirror`, when given, is the whole mirror map to set with it (only asked of targets with `mirrors`).
   */
  writeTraffic(traffic: TrafficMap, etag?: string, mirror?: TrafficMap): Promise<void>;
  /** The target can copy a share of live requests to a version (Azure ML mirrorTraffic, Gateway API RequestMirror). */
  readonly mirrors?: boolean;
  /** Creates the new version and waits until it can serve (throws when it failed). */
  provision(version: string): Promise<void>;
  /** Versions that exist, newest first. */
  listVersions(): Promise<string[]>;
  deleteVersion(version: string): Promise<void>;
  /**
   * The new version did not promote and the traffic is back where it was: undo what provisioning set up around
   * it (its autoscale), so a failed deployment leaves scaling as it found it. Answers what it did, for the record.
   */
  discard?(version: string): Promise<string | undefined>;
}

/** The traffic was changed by someone else between our read and our write. */
export class ConcurrentEdit extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConcurrentEdit';
  }
}

export interface CheckResult {
  passed: boolean;
  /** One line: what was checked and the figures. */
  detail: string;
}

/** A check of the new version: alone (`stage` undefined, before any traffic) or at a stage. */
export type RolloutCheck = (version: string, stage: RolloutStage | undefined) => Promise<CheckResult>;

export type StepKind = 'provision' | 'smoke' | 'mirror' | 'stage' | 'rollback' | 'prune';

export interface RolloutStep {
  kind: StepKind;
  weight?: number;
  traffic?: TrafficMap;
  passed: boolean;
  detail: string;
  at: string;
}

export type RolloutOutcome =
  | 'promoted'
  | 'rolled-back'
  | 'not-started'
  | 'conflict'
  | 'rollback-failed'
  /** Between the first side effect and the end: what a state file of a killed rollout says. */
  | 'in-progress';

export interface RolloutResult {
  plan: RolloutPlan;
  outcome: RolloutOutcome;
  /** Why it did not promote. */
  reason?: string;
  steps: RolloutStep[];
  /** Live map at the end (read back). */
  live: TrafficMap;
  pruned: string[];
}

export interface RunOptions {
  checks: RolloutCheck[];
  log?: (line: string) => void;
  /** Called after every side effect with what happened so far (the state file). */
  onStep?: (result: RolloutResult) => void;
}

/**
 * Runs the plan: provision, check alone, then each stage (write, verify by read-back, check). A failure at any
 * point restores `plan.prior` exactly; a concurrent edit is reported and left as the other party wrote it.
 */
export async function runRollout(plan: RolloutPlan, target: TrafficTarget, o: RunOptions): Promise<RolloutResult> {
  const log = o.log ?? (() => undefined);
  const result: RolloutResult = { plan, outcome: 'not-started', steps: [], live: plan.prior, pruned: [] };
  const record = (s: Omit<RolloutStep, 'at'>) => {
    result.steps.push({ ...s, at: new Date().toISOString() });
    o.onStep?.(result);
  };
  const runChecks = async (stage: RolloutStage | undefined): Promise<CheckResult> => {
    const details: string[] = [];
    for (const check of o.checks) {
      const r = await check(plan.newVersion, stage);
      details.push(r.detail);
      if (!r.passed) return { passed: false, detail: details.join('; ') };
    }
    return { passed: true, detail: details.join('; ') || 'no checks' };
  };

  const prior: TrafficState = { traffic: plan.prior, mirror: plan.priorMirror };
  if (plan.stages.some((s) => s.mirror && Object.keys(s.mirror).length) && !target.mirrors)
    throw ConfigError.at(
      { file: 'rollout plan' },
      `${plan.target} cannot mirror traffic; expected a plan without a mirror stage`,
    );
  let read = await target.readTraffic();
  let { traffic: live, etag } = read;
  if (!sameState(read, prior)) {
    result.outcome = 'conflict';
    result.reason = `the live traffic (${describeState(read)}) is not the planned prior one (${describeState(prior)}); plan again`;
    result.live = live;
    return result;
  }
  result.outcome = 'in-progress';
  o.onStep?.(result);
  // Every state we wrote or tried to: after a failed write the live one may be this one or the one before.
  const written: TrafficState[] = [];
  try {
    log(`provisioning ${plan.newVersion} on ${plan.endpoint}`);
    await target.provision(plan.newVersion);
    record({ kind: 'provision', passed: true, detail: `${plan.newVersion} provisioned` });
    const alone = await runChecks(undefined);
    record({ kind: 'smoke', weight: 0, passed: alone.passed, detail: alone.detail });
    if (!alone.passed)
      throw new StageFailed(`${plan.newVersion} failed its checks before receiving traffic: ${alone.detail}`);
    for (const stage of plan.stages) {
      const mirroring = isMirrorStage(stage);
      log(`${mirroring ? 'mirroring' : 'shifting'} traffic: ${describeState(stage)}`);
      written.push(stage);
      if (stage.mirror) await target.writeTraffic(stage.traffic, etag, stage.mirror);
      else await target.writeTraffic(stage.traffic, etag);
      read = await target.readTraffic();
      ({ traffic: live, etag } = read);
      if (!sameState(read, stage))
        throw new ConcurrentEdit(`traffic read back as ${describeState(read)} after writing ${describeState(stage)}`);
      const checked = await runChecks(stage);
      record({
        kind: mirroring ? 'mirror' : 'stage',
        weight: mirroring ? stage.mirror![plan.newVersion] : stage.weight,
        traffic: stage.traffic,
        passed: checked.passed,
        detail: checked.detail,
      });
      if (!checked.passed)
        throw new StageFailed(
          `checks failed ${mirroring ? `while mirroring ${stage.mirror![plan.newVersion]}%` : `at ${stage.weight}%`}: ${checked.detail}`,
        );
    }
    result.outcome = 'promoted';
    result.live = live;
  } catch (e) {
    result.reason = e instanceof Error ? e.message : String(e);
    log(`rollout of ${plan.newVersion} failed: ${result.reason}`);
    const restored = await restore(plan, target, written, log).catch((err: unknown) => ({
      outcome: 'rollback-failed' as const,
      live: written.at(-1)?.traffic ?? plan.prior,
      detail: `restoring ${describeTraffic(plan.prior)} failed: ${err instanceof Error ? err.message : String(err)}`,
    }));
    result.outcome = restored.outcome;
    result.live = restored.live;
    if (restored.detail) result.reason += `; ${restored.detail}`;
    // Only once no traffic can reach the new version (a conflict may have sent some to it: left as it is).
    let detail = restored.detail;
    if (restored.outcome === 'rolled-back' && target.discard) {
      const undone = await target.discard(plan.newVersion).catch((err: unknown) => {
        result.outcome = 'rollback-failed';
        return `undoing the autoscale of ${plan.newVersion} failed: ${err instanceof Error ? err.message : String(err)}`;
      });
      if (undone) {
        detail += `; ${undone}`;
        result.reason += `; ${undone}`;
      }
    }
    record({
      kind: 'rollback',
      traffic: restored.live,
      passed: result.outcome === 'rolled-back',
      detail,
    });
    return result;
  }
  try {
    result.pruned = await prune(plan, target, live);
    if (result.pruned.length) record({ kind: 'prune', passed: true, detail: `deleted ${result.pruned.join(', ')}` });
  } catch (e) {
    // The new version is live; an old one left behind is reported, not a failed rollout.
    record({ kind: 'prune', passed: false, detail: e instanceof Error ? e.message : String(e) });
  }
  return result;
}

class StageFailed extends Error {}

/** A stage that copies requests to the new version without giving it any. */
export function isMirrorStage(stage: RolloutStage): boolean {
  return stage.weight === 0 && Boolean(stage.mirror && Object.keys(stage.mirror).length);
}

/** Attempts at restoring the prior map: it is the write that matters most, so it outlasts a passing outage. */
const RESTORE_ATTEMPTS = 3;

/**
 * Puts the prior map back. The live map is read first each time: if it is neither the prior map nor one we
 * wrote, someone else changed it and it is left alone (conflict). A failed write is tried again from a fresh
 * read (a write that failed may still have applied).
 */
export async function restore(
  plan: RolloutPlan,
  target: TrafficTarget,
  written: readonly TrafficState[],
  log: (l: string) => void,
): Promise<{ outcome: RolloutOutcome; live: TrafficMap; detail: string }> {
  const prior: TrafficState = { traffic: plan.prior, mirror: plan.priorMirror };
  for (let attempt = 0; ; attempt++) {
    const read = await target.readTraffic();
    const { traffic: live, etag } = read;
    if (sameState(read, prior))
      return { outcome: 'rolled-back', live, detail: `traffic is back to ${describeState(prior)}` };
    if (!written.some((w) => sameState(read, w)))
      return {
        outcome: 'conflict',
        live,
        detail: `traffic was changed by someone else (now ${describeState(read)}); left as it is, prior was ${describeState(prior)}`,
      };
    log(`restoring traffic: ${describeState(prior)}`);
    try {
      if (prior.mirror) await target.writeTraffic(prior.traffic, etag, prior.mirror);
      else await target.writeTraffic(prior.traffic, etag);
    } catch (e) {
      if (attempt + 1 >= RESTORE_ATTEMPTS) throw e;
      log(`restoring failed (${e instanceof Error ? e.message : String(e)}); reading the traffic again`);
    }
  }
}

async function prune(plan: RolloutPlan, target: TrafficTarget, live: TrafficMap): Promise<string[]> {
  const versions = await target.listVersions();
  const serving = new Set(Object.keys(live).filter((v) => live[v] > 0));
  const keepers = new Set([plan.newVersion, ...serving]);
  const extra = versions.filter((v) => !keepers.has(v));
  const room = Math.max(0, plan.keep - keepers.size);
  const doomed = extra.slice(room);
  for (const v of doomed) await target.deleteVersion(v);
  return doomed;
}

/** A Markdown summary: the plan, each step, the outcome. */
export function rolloutMarkdown(r: RolloutResult): string {
  const p = r.plan;
  const icon = r.outcome === 'promoted' ? '✅' : '❌';
  const rows = r.steps.map(
    (s) =>
      `| ${s.kind}${s.weight !== undefined && s.kind !== 'smoke' ? ` ${s.weight}%` : ''} | ${s.traffic ? describeTraffic(s.traffic) : ''} | ${s.passed ? 'passed' : 'failed'} | ${s.detail.replace(/\|/g, '\\|')} |`,
  );
  return [
    `## Rollout of ${p.newVersion} to ${p.endpoint} (${p.target}): ${icon} ${r.outcome}`,
    '',
    `Prior traffic: ${describeTraffic(p.prior, p.priorMirror)}. Stages: ${p.stages.map((s) => (isMirrorStage(s) ? `mirror ${s.mirror![p.newVersion]}%` : `${s.weight}%`)).join(' → ')}.`,
    r.reason ? `\nReason: ${r.reason}\n` : '',
    '| step | traffic | result | detail |',
    '|---|---|---|---|',
    ...rows,
    '',
    `Live traffic: ${describeTraffic(r.live)}.${r.pruned.length ? ` Deleted old deployments: ${r.pruned.join(', ')}.` : ''}`,
    '',
  ].join('\n');
}

/** The plan as text, for --dry-run. */
export function planText(p: RolloutPlan): string {
  return [
    `rollout of ${p.newVersion} to ${p.endpoint} (${p.target})`,
    `  prior traffic: ${describeTraffic(p.prior)}`,
    `  1. provision ${p.newVersion} and wait until it succeeds`,
    `  2. smoke-test ${p.newVersion} alone (no traffic)`,
    ...p.stages.map((s, i) =>
      isMirrorStage(s)
        ? `  ${i + 3}. mirror ${s.mirror![p.newVersion]}% of live requests to ${p.newVersion} (responses discarded), then checks`
        : `  ${i + 3}. traffic ${describeTraffic(s.traffic, s.mirror)}, then checks`,
    ),
    `  ${p.stages.length + 3}. delete old deployments beyond the newest ${p.keep} (never a serving one)`,
    `  on any failure: traffic back to ${describeTraffic(p.prior, p.priorMirror)}`,
  ].join('\n');
}
