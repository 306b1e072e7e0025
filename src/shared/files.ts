/** File writes that readers never see half-done. */
import { mkdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Write through a temporary file in the same folder, then rename (atomic on one file system). */
export function writeFileAtomic(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** `p` with its symlinks followed; `p` resolved as it is when it does not exist. */
export function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/**
 * The real path of `file` when it lies outside every folder of `roots` (each compared by its own real path), else
 * undefined: how a flow's files, images and datasets are kept inside the folders they may be read from.
 */
export function realPathOutside(file: string, roots: readonly string[]): string | undefined {
  const real = realOrSelf(file);
  const inside = roots
    .map(realOrSelf)
    .some((root) => real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep));
  return inside ? undefined : real;
}
