/**
 * A local deployment rolled out in stages: blue and green `flow serve` processes behind the deployment's traffic
 * split (local-split.ts), the split's URL the stable endpoint. The new colour is started and smoke-tested alone,
 * then given its share at each stage by the rollout core (`rollout.ts`), with its checks (the promotion gate
 * reading both colours' request logs) between stages. Promoted: the old colour is stopped. Anything else: the
 * split is put back exactly as it was (the core's restore, verified by reading the proxy back) and the new
 * colour is stopped. The state file says at every stage which colours serve with which weights.
 * @module
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ServiceError } from '../errors.js';
import {
  isOurProcess,
  readListening,
  smokeAlone,
  startInstance,
  stopInstance,
  stopProcess,
  type DeployLocalOptions,
} from './local.js';
import { readRoutes, splitTarget, writeRoutes } from './local-split.js';
import { planRollout, runRollout, type RolloutCheck, type RolloutResult, type TrafficTarget } from './rollout.js';
import type { SmokeResult } from './smoke-run.js';
import { readState, writeState, type LocalDeploymentState, type LocalInstance, type LocalSplit } from './state.js';

export interface DeployLocalStagedOptions extends DeployLocalOptions {
  /** The new colour's share at each stage before it takes all (default 10, 50). */
  steps?: number[];
  /** The checks between stages, given the request logs the two colours write (each line naming its colour). */
  checks: (requestLogs: string[]) => RolloutCheck[];
}

export interface DeployLocalStagedResult {
  state: LocalDeploymentState;
  /** The split's scoring URL: the deployment's endpoint whichever colour serves. */
  endpoint: string;
  smoke: SmokeResult;
  /** Absent on a first deployment (nothing to shift traffic from). */
  rollout?: RolloutResult;
}

/** Where a colour of a deployment writes its request log. */
export function requestLogOf(stateDir: string, name: string, slot: 'blue' | 'green'): string {
  return path.resolve(stateDir, 'deploy', `${name}-${slot}.requests.jsonl`);
}

export async function deployLocalStaged(o: DeployLocalStagedOptions): Promise<DeployLocalStagedResult> {
  const log = o.log ?? (() => {});
  const before = readState(o.stateDir, o.name);
  const old = before && isOurProcess(before.live.pid, 'serve') ? before.live : undefined;
  const slot = before?.live.slot === 'blue' ? 'green' : 'blue';
  const { split, started } = await ensureSplit(o, before, old);
  if (before?.canary && old) await abandonInterrupted(o, before, old, split);
  const requestLog = requestLogOf(o.stateDir, o.name, slot);
  let fresh: LocalInstance;
  let smoke: SmokeResult;
  try {
    fresh = await startInstance(o, slot, 0, ['--request-log', requestLog, '--deployment', slot]);
    log(`started ${o.name} (${slot}) pid ${fresh.pid} at ${fresh.url}`);
    smoke = await smokeAlone(o, fresh, old, started ? old?.url : `${split.url}/score`);
  } catch (e) {
    // A split started for this deploy is not recorded yet: it goes with it (the old colour serves as before).
    if (started) await stopProcess(split.pid, 'serve-split');
    throw e;
  }
  const endpoint = `${split.url}/score`;
  const save = (s: Omit<LocalDeploymentState, 'name' | 'target' | 'updatedAt' | 'split'>) => {
    const state: LocalDeploymentState = {
      name: o.name,
      target: 'local',
      ...s,
      split,
      updatedAt: new Date().toISOString(),
    };
    writeState(o.stateDir, state);
    return state;
  };

  if (!old) {
    // Nothing serves: the new colour takes all the traffic at once.
    const routes = readRoutes(split.routesFile);
    writeRoutes(split.routesFile, { etag: routes.etag + 1, routes: { [slot]: { url: fresh.url, weight: 100 } } });
    const state = save({ live: fresh, traffic: { [slot]: 100 } });
    return { state, endpoint, smoke };
  }

  const proxy = splitTarget({
    routesFile: split.routesFile,
    splitUrl: split.url,
    servers: () => ({ [old.slot]: old.url, [fresh.slot]: fresh.url }),
  });
  // Every write recorded at once: `deploy --list` shows the colours sharing the traffic while a stage runs.
  const target: TrafficTarget = {
    ...proxy,
    writeTraffic: async (traffic, etag) => {
      await proxy.writeTraffic(traffic, etag);
      save({ live: old, canary: fresh, traffic, previous: before?.previous });
    },
  };
  const prior = (await target.readTraffic()).traffic;
  const plan = planRollout({ target: 'local', endpoint: o.name, newVersion: slot, prior, steps: o.steps });
  const checks = o.checks([requestLogOf(o.stateDir, o.name, old.slot), requestLog]);
  const rollout = await runRollout(plan, target, { checks, log });
  let state: LocalDeploymentState;
  if (rollout.outcome === 'promoted') {
    state = save({ live: fresh, previous: old, traffic: rollout.live });
    await stopInstance(old);
    log(`stopped the previous ${o.name} (${old.slot}) pid ${old.pid}`);
  } else {
    // The core restored the prior split; the state says so before the new colour goes.
    state = save({ live: old, previous: before?.previous, traffic: rollout.live });
    await stopInstance(fresh);
    log(`stopped the rejected ${o.name} (${slot}) pid ${fresh.pid}`);
  }
  return { state, endpoint, smoke, rollout };
}

/**
 * A rollout killed between stages left its new colour serving a share: the split goes back to the live colour
 * alone and that colour is stopped, before this deploy starts its own.
 */
async function abandonInterrupted(
  o: DeployLocalStagedOptions,
  before: LocalDeploymentState,
  live: LocalInstance,
  split: LocalSplit,
): Promise<void> {
  const routes = readRoutes(split.routesFile);
  writeRoutes(split.routesFile, { etag: routes.etag + 1, routes: { [live.slot]: { url: live.url, weight: 100 } } });
  writeState(o.stateDir, { ...before, canary: undefined, traffic: { [live.slot]: 100 }, split });
  await stopInstance(before.canary!);
  o.log?.(
    `an earlier rollout of ${o.name} was interrupted: ${live.slot} has all the traffic again, ${before.canary!.slot} (pid ${before.canary!.pid}) stopped`,
  );
}

/**
 * The deployment's split, started when it has none (its routes: the live colour at 100 %, or nothing yet). The
 * preferred port is the split's: it is the endpoint callers keep.
 */
async function ensureSplit(
  o: DeployLocalStagedOptions,
  before: LocalDeploymentState | undefined,
  old: LocalInstance | undefined,
): Promise<{ split: LocalSplit; started: boolean }> {
  if (before?.split && isOurProcess(before.split.pid, 'serve-split')) return { split: before.split, started: false };
  const dir = path.join(o.stateDir, 'deploy');
  mkdirSync(dir, { recursive: true });
  const routesFile = path.resolve(dir, `${o.name}.routes.json`);
  const logFile = path.resolve(dir, `${o.name}-split.log`);
  writeRoutes(routesFile, { etag: 1, routes: old ? { [old.slot]: { url: old.url, weight: 100 } } : {} });
  const fd = openSync(logFile, 'w');
  const command = o.command ?? [process.execPath, process.env.LLMOPS_CLI ?? process.argv[1]];
  const args = [...command.slice(1), 'serve-split', '--routes', routesFile, '--port', String(o.port ?? 0)];
  const child = spawn(command[0], args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new ServiceError(`could not start ${command.join(' ')} serve-split`);
  const deadline = Date.now() + (o.startTimeoutMs ?? 60_000);
  for (;;) {
    const listening = readListening(logFile);
    if (listening) {
      const url = listening.url;
      o.log?.(`started the traffic split of ${o.name} pid ${pid} at ${url}`);
      return { split: { pid, port: Number(new URL(url).port), url, routesFile, logFile }, started: true };
    }
    if (!isOurProcess(pid, 'serve-split') || Date.now() > deadline) {
      if (isOurProcess(pid, 'serve-split')) process.kill(pid, 'SIGKILL');
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
      throw new ServiceError(`the traffic split of ${o.name} did not start; last log lines (${logFile}):\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
