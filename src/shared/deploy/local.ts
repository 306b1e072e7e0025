/**
 * The `local` deployment target: `llmops flow serve` as a detached background process, replaced blue/green.
 *
 * A deploy starts the new server on another port, waits for /health, smoke-tests it, then records it as live
 * in the state file and stops the old one. If the new server does not come up or fails its smoke test, it is
 * stopped, the old one keeps serving and the state file is untouched. The live URL is read from the state file
 * (or the step's `endpoint` output): there is no proxy on a fixed port. A deployment rolled out in stages
 * (`--promote-when`) has one instead, a traffic split in front of both colours (local-rollout.ts).
 * @module
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ExitCode, GateFailed, ServiceError, type Problem } from '../errors.js';
import { runSmokeTests, type SmokeResult } from './smoke-run.js';
import type { SmokeSuite } from './smoke-tests.js';
import {
  readAllStates,
  readState,
  removeState,
  writeState,
  type LocalDeploymentState,
  type LocalInstance,
} from './state.js';

export interface DeployLocalOptions {
  /** `<experiment>-<env>`: the state file name. */
  name: string;
  /** State root (default .llmops): the state goes to `<stateDir>/deploy/<name>.json`, logs beside it. */
  stateDir: string;
  /** experiment.yaml and env: the server loads the use case's flow and connections itself (secrets stay in env). */
  config: string;
  env?: string;
  /** `${node.variant_id}` specs to apply. */
  variants?: string[];
  /** Preferred port; used unless the live server holds it (then any free port). Default: any free port. */
  port?: number;
  /** Smoke tests the new server must pass before it goes live. */
  smoke: SmokeSuite;
  /** Variable holding an API key the server requires (passed through as --api-key-env). */
  apiKeyEnv?: string;
  /** Its value as the step read it (the environment or .env); handed to the server in that variable. */
  apiKey?: string;
  /** The CLI to start: default `node $LLMOPS_CLI` or this process's own script. */
  command?: string[];
  /** Time for the new server to answer /health (ms). Default 60000. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface DeployLocalResult {
  state: LocalDeploymentState;
  /** The scoring URL of the live server. */
  endpoint: string;
  smoke: SmokeResult;
  replaced?: LocalInstance;
}

/** Deploys (first time or blue/green replace). GateFailed when the new server fails its smoke test. */
export async function deployLocal(o: DeployLocalOptions): Promise<DeployLocalResult> {
  const log = o.log ?? (() => {});
  const old = readState(o.stateDir, o.name);
  const oldAlive = old && isAlive(old.live.pid) ? old.live : undefined;
  const slot = old?.live.slot === 'blue' ? 'green' : 'blue';
  const port = o.port !== undefined && o.port !== oldAlive?.port ? o.port : 0;
  const fresh = await startInstance(o, slot, port);
  log(`started ${o.name} (${slot}) pid ${fresh.pid} at ${fresh.url}`);
  const smoke = await smokeAlone(o, fresh, oldAlive);
  const state: LocalDeploymentState = {
    name: o.name,
    target: 'local',
    live: fresh,
    previous: oldAlive,
    updatedAt: new Date().toISOString(),
  };
  writeState(o.stateDir, state);
  if (oldAlive) {
    await stopInstance(oldAlive);
    log(`stopped the previous ${o.name} (${oldAlive.slot}) pid ${oldAlive.pid}`);
  }
  return { state, endpoint: `${fresh.url}/score`, smoke, replaced: oldAlive };
}

/**
 * The new server's smoke test, alone (before it gets any traffic); a failure stops it and throws GateFailed
 * (with the smoke result), naming what keeps serving.
 */
export async function smokeAlone(
  o: DeployLocalOptions,
  fresh: LocalInstance,
  oldAlive: LocalInstance | undefined,
  serving = oldAlive?.url,
): Promise<SmokeResult> {
  let smoke: SmokeResult;
  try {
    smoke = await runSmokeTests(
      { ...o.smoke, warmupMs: Math.min(o.smoke.warmupMs, 10_000) },
      { endpoint: `${fresh.url}/score`, apiKey: o.apiKey ?? (o.apiKeyEnv ? process.env[o.apiKeyEnv] : undefined) },
    );
  } catch (e) {
    await stopInstance(fresh);
    throw e;
  }
  if (!smoke.passed) {
    await stopInstance(fresh);
    const failures = smoke.tests.filter((t) => !t.passed).flatMap((t) => t.failures.map((f) => `${t.name}: ${f}`));
    throw Object.assign(
      new GateFailed(
        `the new deployment of ${o.name} failed its smoke test; ${oldAlive ? `the previous one keeps serving at ${serving}` : 'nothing is deployed'}`,
        failures,
      ),
      { smoke },
    );
  }
  return smoke;
}

/** Stops the servers of a deployment (both colours and its split, if any) and removes its state. */
export async function stopLocalDeployment(stateDir: string, name: string): Promise<boolean> {
  const state = readState(stateDir, name);
  if (!state) return false;
  await Promise.all([
    stopInstance(state.live),
    state.canary ? stopInstance(state.canary) : undefined,
    state.split ? stopProcess(state.split.pid, 'serve-split') : undefined,
  ]);
  removeState(stateDir, name);
  return true;
}

/** One recorded local deployment as `deploy --list` shows it. */
export interface LocalDeploymentListing {
  name: string;
  target: 'local';
  /** running: its server process is alive; stopped: it exited (the record stays until `--stop`). */
  status: 'running' | 'stopped';
  /** Scoring URL. */
  endpoint: string;
  slot: 'blue' | 'green';
  pid: number;
  flow: string;
  variant: Record<string, string>;
  startedAt: string;
  logFile: string;
  /** With a traffic split: every colour serving, with its share of the requests. */
  colours?: { slot: 'blue' | 'green'; pid: number; url: string; weight: number; status: 'running' | 'stopped' }[];
}

/** Every deployment recorded under `stateDir`, by name, with whether its server still runs. */
export function listLocalDeployments(stateDir: string): LocalDeploymentListing[] {
  return readAllStates(stateDir).map((s) => ({
    name: s.name,
    target: s.target,
    status: isOurServer(s.live) ? 'running' : 'stopped',
    endpoint: `${s.live.url}/score`,
    slot: s.live.slot,
    pid: s.live.pid,
    flow: s.live.flow,
    variant: s.live.variant,
    startedAt: s.live.startedAt,
    logFile: s.live.logFile,
    ...(s.split
      ? {
          endpoint: `${s.split.url}/score`,
          status: isOurProcess(s.split.pid, 'serve-split') ? ('running' as const) : ('stopped' as const),
          colours: [s.live, ...(s.canary ? [s.canary] : [])].map((i) => ({
            slot: i.slot,
            pid: i.pid,
            url: i.url,
            weight: s.traffic?.[i.slot] ?? 0,
            status: isOurServer(i) ? ('running' as const) : ('stopped' as const),
          })),
        }
      : {}),
  }));
}

/** The recorded live scoring URL (the split's, when the deployment has one), when its process still runs. */
export function liveEndpoint(stateDir: string, name: string): string | undefined {
  const s = readState(stateDir, name);
  if (s?.split) return isAlive(s.split.pid) ? `${s.split.url}/score` : undefined;
  return s && isAlive(s.live.pid) ? `${s.live.url}/score` : undefined;
}

/** Starts `llmops flow serve` for a colour; `extraArgs` go to it as given (a request log, a deployment name). */
export async function startInstance(
  o: DeployLocalOptions,
  slot: 'blue' | 'green',
  port: number,
  extraArgs: string[] = [],
): Promise<LocalInstance> {
  const dir = path.join(o.stateDir, 'deploy');
  mkdirSync(dir, { recursive: true });
  const logFile = path.resolve(dir, `${o.name}-${slot}.log`);
  const fd = openSync(logFile, 'w');
  const command = o.command ?? [process.execPath, process.env.LLMOPS_CLI ?? process.argv[1]];
  const args = [
    ...command.slice(1),
    'flow',
    'serve',
    '--config',
    path.resolve(o.config),
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
  ];
  if (o.env) args.push('--env', o.env);
  for (const v of o.variants ?? []) args.push('--variant', v);
  if (o.apiKeyEnv) args.push('--api-key-env', o.apiKeyEnv);
  args.push(...extraArgs);
  const env = o.apiKeyEnv && o.apiKey !== undefined ? { ...process.env, [o.apiKeyEnv]: o.apiKey } : process.env;
  const child = spawn(command[0], args, { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  // Exit 2: the server refused the flow (its configuration or the user's Python): the user's to fix, not ours.
  let exitCode: number | null | undefined;
  child.on('exit', (code) => (exitCode = code));
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new ServiceError(`could not start ${command.join(' ')}`);
  const deadline = Date.now() + (o.startTimeoutMs ?? 60_000);
  // The server prints {"msg":"listening","url":...} once it listens; its port is only known then (port 0).
  for (;;) {
    const listening = readListening(logFile);
    if (listening) {
      const url = listening.url;
      if (await healthy(url)) {
        const variant = Object.fromEntries(
          (o.variants ?? [])
            .map((v) => /^\$\{([^.]+)\.([^}]+)\}$/.exec(v.trim()))
            .filter((m): m is RegExpExecArray => m !== null)
            .map((m) => [m[1], m[2]]),
        );
        return {
          slot,
          pid,
          port: Number(new URL(url).port),
          url,
          flow: listening.flow ?? '',
          variant,
          startedAt: new Date().toISOString(),
          logFile,
        };
      }
    }
    if (!isAlive(pid) || Date.now() > deadline) {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      const log = readFileSync(logFile, 'utf8');
      if (exitCode === ExitCode.InvalidInput) throw refusedFlow(o.name, logFile, log);
      const tail = log.trim().split('\n').slice(-5).join('\n');
      throw new ServiceError(
        `the new server of ${o.name} did not become healthy${isAlive(pid) ? ' in time' : ' (it exited)'}; last log lines (${logFile}):\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The problems a server that exited 2 printed (`file:line[:column]: error: message`), as its own ConfigError. */
function refusedFlow(name: string, logFile: string, log: string): ConfigError {
  const problems: Problem[] = [];
  for (const line of log.split('\n')) {
    const m = /^(.+?)(?::(\d+))?(?::(\d+))?: error: (.*)$/.exec(line);
    if (!m) continue;
    problems.push({
      file: m[1],
      line: m[2] ? Number(m[2]) : undefined,
      column: m[3] ? Number(m[3]) : undefined,
      message: m[4],
    });
  }
  if (problems.length > 0) return new ConfigError(problems);
  return ConfigError.at({ file: logFile }, `the new server of ${name} refused its flow (exit 2); see this log`);
}

export function readListening(logFile: string): { url: string; flow?: string } | undefined {
  const text = readFileSync(logFile, 'utf8');
  for (const line of text.split('\n')) {
    if (!line.includes('"listening"')) continue;
    try {
      const v = JSON.parse(line) as { msg?: string; url?: string; flow?: string };
      if (v.msg === 'listening' && v.url) return { url: v.url, flow: v.flow };
    } catch {
      // a partial line: read again on the next poll
    }
  }
  return undefined;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    await r.text();
    return r.ok;
  } catch {
    return false;
  }
}

/** SIGTERM (the server drains in-flight requests), SIGKILL after 30 s. */
export async function stopInstance(i: LocalInstance): Promise<void> {
  if (!isOurServer(i)) return;
  await stopProcess(i.pid, 'serve');
}

/** SIGTERM, SIGKILL after 30 s, to a process of ours running the command `word` (see isOurProcess). */
export async function stopProcess(pid: number, word: string): Promise<void> {
  if (!isOurProcess(pid, word)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Alive, and (where /proc tells) still a `flow serve` process: a recorded PID whose server died
 * long ago may now belong to an unrelated process, which a stop must never signal.
 */
function isOurServer(i: LocalInstance): boolean {
  return isOurProcess(i.pid, 'serve') && isOurProcess(i.pid, 'flow');
}

/** Alive and (where /proc tells) running a command line with the argument `word`. */
export function isOurProcess(pid: number, word: string): boolean {
  if (!isAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // no /proc (macOS, Windows): the PID is all there is
  }
  return cmdline.split('\0').includes(word);
}
