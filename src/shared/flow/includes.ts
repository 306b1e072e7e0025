/**
 * `additional_includes` (§1.11): files and folders from outside the flow folder that Prompt Flow
 * copies into the flow's root, by base name, before running.
 * @module
 */
import { cpSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import { ConfigError, type Problem, type SourceLocation } from '../errors.js';
import { realPathOutside } from '../files.js';
import type { IncludeEntry, LoadedFlow } from './model.js';

/** An include entry as written, made absolute against the flow file's folder. */
export function includeEntry(path: string, flowFileDir: string, at: SourceLocation): IncludeEntry {
  return { path, absolute: isAbsolute(path) ? path : resolve(flowFileDir, path), at };
}

/** The problem of an include entry that does not exist, if it does not. */
export function missingInclude(entry: IncludeEntry): Problem | undefined {
  if (existsSync(entry.absolute)) return undefined;
  const zipHint =
    entry.path.endsWith('.zip') && existsSync(entry.absolute.slice(0, -4))
      ? ' (zipping a folder on the fly is not supported: list the folder itself)'
      : '';
  return {
    ...entry.at,
    message: `additional_includes: found ${JSON.stringify(entry.path)}, but no such file or folder exists${zipHint}; expected a path relative to the flow folder or absolute`,
  };
}

/**
 * Where `relPath` (a `source.path`) will be once the flow is materialized: an include copied
 * under the same base name wins (it is copied last), else the working directory's own file.
 */
export function findFlowFile(
  workingDir: string,
  includes: readonly IncludeEntry[],
  relPath: string,
): string | undefined {
  if (isAbsolute(relPath)) return isFile(relPath) ? relPath : undefined;
  const normalized = relPath.replace(/\\/g, '/').replace(/^\.\//, '');
  for (let i = includes.length - 1; i >= 0; i--) {
    const inc = includes[i];
    const base = basename(inc.absolute);
    if (normalized === base && isFile(inc.absolute)) return inc.absolute;
    if (normalized.startsWith(base + '/') && isDirectory(inc.absolute)) {
      const inside = join(inc.absolute, ...normalized.slice(base.length + 1).split('/'));
      if (isFile(inside)) return inside;
    }
  }
  const own = resolve(workingDir, ...normalized.split('/'));
  return isFile(own) ? own : undefined;
}

/**
 * The real path of `file` (symlinks followed) when it lies outside the flow folder and every declared include —
 * the only places a flow may read from — else undefined. Includes count by their own real paths.
 */
export function outsideFlow(file: string, flowDir: string, includes: readonly IncludeEntry[] = []): string | undefined {
  return realPathOutside(file, [flowDir, ...includes.map((inc) => inc.absolute)]);
}

/** The message for a path that leaves the flow (never the file's content: only where it points). */
export function outsideMessage(what: string, written: string, real: string): string {
  return `${what}: found ${JSON.stringify(written)}, which resolves to ${real}, outside the flow folder and its additional_includes; expected a file inside the flow folder (symlinks count where they point) or list its folder in additional_includes`;
}

/** A flow's code laid out on disk the way it runs. */
export interface MaterializedFlow {
  /** The directory to run in: a fresh temp copy, or the flow's own working directory when nothing is included. */
  workingDir: string;
  /** True when `workingDir` is a temp copy that `dispose()` removes. */
  temporary: boolean;
  /** e.g. two includes with the same base name (the later one wins). */
  warnings: Problem[];
  dispose(): void;
}

/**
 * Copies the working directory and every include (by base name; folders recursively) into a temp
 * directory. A no-op for flows without additional_includes (and for prompty flows).
 */
export function materializeFlow(flow: LoadedFlow, options: { tempRoot?: string } = {}): MaterializedFlow {
  const includes = flow.kind === 'prompty' ? [] : flow.additionalIncludes;
  if (includes.length === 0) return { workingDir: flow.workingDir, temporary: false, warnings: [], dispose() {} };
  const missing = includes.map(missingInclude).filter((p): p is Problem => p !== undefined);
  if (missing.length > 0) throw new ConfigError(missing);
  const dir = mkdtempSync(join(options.tempRoot ?? tmpdir(), 'llmops-flow-'));
  const warnings: Problem[] = [];
  try {
    cpSync(flow.workingDir, dir, { recursive: true, filter: (src) => !src.split(sep).includes('__pycache__') });
    const copied = new Map<string, string>();
    for (const inc of includes) {
      const base = basename(inc.absolute);
      const earlier = copied.get(base);
      if (earlier !== undefined) {
        warnings.push({
          ...inc.at,
          message: `additional_includes: found ${JSON.stringify(inc.path)} with the same name as ${JSON.stringify(earlier)}; the later entry overwrites the earlier one`,
        });
      }
      copied.set(base, inc.path);
      cpSync(inc.absolute, join(dir, base), { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { workingDir: dir, temporary: true, warnings, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
