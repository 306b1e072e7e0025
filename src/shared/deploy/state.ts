/**
 * What a local deployment started, in `<state dir>/deploy/<experiment>-<env>.json`. The file is the source of
 * truth for the live URL (the port changes on every blue/green replace), written atomically and only after the
 * new server passed its smoke test.
 * @module
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { writeJsonAtomic } from '../files.js';

/** One running server. */
export interface LocalInstance {
  /** blue / green: alternates on every deploy. */
  slot: 'blue' | 'green';
  pid: number;
  port: number;
  /** Base URL (http://127.0.0.1:<port>); the scoring URL is `${url}/score`. */
  url: string;
  /** The served flow's name and the variants applied (node → variant id). */
  flow: string;
  variant: Record<string, string>;
  startedAt: string;
  logFile: string;
}

export interface LocalDeploymentState {
  /** `<experiment>-<env>` (or just the experiment without an env). */
  name: string;
  target: 'local';
  live: LocalInstance;
  /** The instance the live one replaced (already stopped), for the record. */
  previous?: LocalInstance;
  /**
   * With a traffic split (a deploy rolled out in stages): the loopback proxy in front of the colours, whose URL
   * is the deployment's stable endpoint, and what it routes where.
   */
  split?: LocalSplit;
  /** During a staged rollout: the new colour, serving its share of the split beside `live`. */
  canary?: LocalInstance;
  /** The split's weights (colour → percent) as last written. */
  traffic?: Record<string, number>;
  updatedAt: string;
}

/** The traffic split process of a local deployment. */
export interface LocalSplit {
  pid: number;
  port: number;
  url: string;
  routesFile: string;
  logFile: string;
}

export function deploymentName(experiment: string, env: string | undefined): string {
  return env ? `${experiment}-${env}` : experiment;
}

export function stateFile(stateDir: string, name: string): string {
  return path.join(stateDir, 'deploy', `${name}.json`);
}

export function readState(stateDir: string, name: string): LocalDeploymentState | undefined {
  const file = stateFile(stateDir, name);
  if (!existsSync(file)) return undefined;
  return parseState(file);
}

export function writeState(stateDir: string, state: LocalDeploymentState): void {
  writeJsonAtomic(stateFile(stateDir, state.name), state);
}

export function removeState(stateDir: string, name: string): void {
  rmSync(stateFile(stateDir, name), { force: true });
}

/** Every state file under `<stateDir>/deploy/`, sorted by name (none when the folder is absent). */
export function readAllStates(stateDir: string): LocalDeploymentState[] {
  const dir = path.join(stateDir, 'deploy');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => parseState(path.join(dir, f)))
    .filter((s) => s.target === 'local' && s.live !== undefined);
}

/** A state file is ours, but a user may have edited or truncated it: say which one is broken. */
function parseState(file: string): LocalDeploymentState {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LocalDeploymentState;
  } catch (e) {
    throw ConfigError.at(
      { file },
      `found ${(e as Error).message}; expected a deployment record written by llmops deploy (delete the file if the deployment is gone)`,
    );
  }
}
