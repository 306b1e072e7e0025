/**
 * Build the bundles at most once per source change: the bundle is rebuilt only when a file
 * under src/ or the packaging scripts is newer than the stamp the last build left.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = process.cwd();

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '__pycache__') continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Run `scripts/<script>` unless `stamp` is newer than every source. */
export function buildOnce(script: 'package.mjs' | 'package-ado.mjs', stamp: string): void {
  const stampFile = path.join(root, stamp);
  const sources = Math.max(
    newestMtime(path.join(root, 'src')),
    newestMtime(path.join(root, 'schemas')),
    statSync(path.join(root, 'scripts', script)).mtimeMs,
    statSync(path.join(root, 'scripts/package.mjs')).mtimeMs,
  );
  if (existsSync(stampFile) && statSync(stampFile).mtimeMs > sources) return;
  execFileSync(process.execPath, [path.join(root, 'scripts', script)], { cwd: root, stdio: 'pipe' });
}
