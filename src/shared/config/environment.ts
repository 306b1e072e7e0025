/**
 * Where configuration values come from: the process environment (CI secrets), then a `.env`
 * file at the repository root that never overrides what CI already set.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';

export interface Environment {
  get(name: string): string | undefined;
  /** Where a variable came from, for messages (never its value). */
  origin(name: string): 'environment' | '.env' | undefined;
  /**
   * Told of a placeholder's variable that is not set; true when the caller only lists such variables (a dry
   * run, which reads no secret) instead of failing on them.
   */
  unset?(name: string): boolean;
}

/** The nearest folder upward holding `.git`; the start folder when there is none. */
export function findRepositoryRoot(startDirectory: string): string {
  let dir = path.resolve(startDirectory);
  for (;;) {
    if (existsSync(path.join(dir, '.git'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(startDirectory);
    dir = parent;
  }
}

export function loadEnvironment(repositoryRoot: string, processEnv: NodeJS.ProcessEnv = process.env): Environment {
  const dotenvFile = path.join(repositoryRoot, '.env');
  const fromFile: Record<string, string> = existsSync(dotenvFile) ? parseDotenv(readFileSync(dotenvFile)) : {};
  return {
    get: (name) => processEnv[name] ?? fromFile[name],
    origin: (name) =>
      processEnv[name] !== undefined ? 'environment' : fromFile[name] !== undefined ? '.env' : undefined,
  };
}

/** `${x}` exactly (the seed's placeholder form) → `x`; anything else → undefined. */
export function placeholderName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^\$\{([^{}]+)\}$/.exec(value.trim());
  return m ? m[1].trim() : undefined;
}

/** The environment variable a connection placeholder reads: `<CONNECTION>_<KEY>`, upper case, other characters as `_`. */
export function connectionVariable(connectionName: string, key: string): string {
  return `${connectionName}_${key}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}
