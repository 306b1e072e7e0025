/**
 * The packed CLI a serving image runs, wherever this code was loaded from: the serving CLI (`serve-cli.js`, only
 * `flow serve`) of an installation's dist/ or shipped beside a packaged action's or Azure DevOps task's bundle
 * (the deploy step builds the image's context from it, so a pipeline needs nothing but the action), else an
 * installation's whole CLI (`dist/cli.js`). Each is esbuild output
 * with code splitting: the entry loads chunks by relative import, so the files copied are the entry's whole
 * import closure (static and on-demand imports), read from the bundled code itself, without source maps.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';

/** Where the CLI entry may sit under a package root, smallest first: a packaged bundle's folder, an installation's dist/. */
const ENTRY_CANDIDATES = ['serve-cli.js', 'dist/serve-cli.js', 'dist/cli.js'];

/** The CLI entry under `root`; ConfigError naming what is missing when neither layout holds one. */
export function packedCliEntry(root: string): string {
  for (const rel of ENTRY_CANDIDATES) {
    const file = path.join(root, rel);
    if (existsSync(file)) return file;
  }
  throw ConfigError.at(
    { file: path.join(root, 'dist', 'cli.js') },
    'the packed CLI is missing; expected dist/cli.js or dist/serve-cli.js (run npm run build), or the serve-cli.js a packaged action ships',
  );
}

/**
 * Whether the match at `index` sits on a comment line: bundled dependencies keep their JSDoc, whose type references
 * (`@param {import('../../types/client.js').Options}`) look like imports. esbuild starts no code line with `*` or `//`.
 */
function inComment(code: string, index: number): boolean {
  const line = code.slice(code.lastIndexOf('\n', index) + 1, index).trimStart();
  return line.startsWith('*') || line.startsWith('/*') || line.startsWith('//');
}

// esbuild writes relative imports as `from "./chunks/x.js"`, `import "./x.js"` and `import("./chunks/x.js")`.
const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.\.?\/[^"'\s]+\.js)["']/g;

/**
 * The files the entry loads, as paths relative to the entry's folder (the entry itself first). An import that leaves
 * that folder, or names a file that is not there, is an error: the copy would not start.
 */
export function packedCliFiles(entry: string): string[] {
  const base = path.dirname(entry);
  const seen = new Set<string>();
  const pending = [path.basename(entry)];
  while (pending.length) {
    const rel = pending.pop()!;
    if (seen.has(rel)) continue;
    seen.add(rel);
    const code = readFileSync(path.join(base, rel), 'utf8');
    for (const m of code.matchAll(RELATIVE_IMPORT)) {
      if (inComment(code, m.index)) continue;
      const next = path.posix.normalize(path.posix.join(path.posix.dirname(rel), m[1]));
      if (next.startsWith('..') || !existsSync(path.join(base, next)))
        throw ConfigError.at(
          { file: path.join(base, rel) },
          `the packed CLI imports ${m[1]}, which is not beside it; expected a complete bundle (rebuild it)`,
        );
      pending.push(next);
    }
  }
  return [...seen];
}
