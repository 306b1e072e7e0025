/**
 * Files shipped beside the code (JSON Schemas, the Python worker, report assets). Found by
 * walking up from this module, so the same lookup works from src/ (tests), dist/ (the CLI
 * bundle) and an action bundle that copies the asset folders next to itself.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export function assetPath(relative: string): string {
  let dir = here;
  for (;;) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`llmops is missing its asset ${relative} (looked upward from ${here})`);
    dir = parent;
  }
}
