// `npm run package`: one ESM bundle per GitHub action (dist/actions/<step>/index.js, plus the
// root action's dist/actions/_root/index.js), with the assets a bundle finds by walking up
// (schemas/, the Python worker) copied to dist/actions/. `npm run generate` (this script with
// `generate`) rewrites action.yml, task.json, vss-extension.json and the entry files.
//
// Bundler: esbuild, not ncc. ncc 0.45 resolves @actions/core 3 (ESM-only) with the "require"
// condition from our NodeNext TypeScript and fails, and takes 15-50 s per bundle where esbuild
// takes about a second for all of them. ESM output with code splitting keeps what a step rarely
// needs (@actions/artifact, @actions/github, @azure/identity) in chunks loaded on demand, so
// cold start stays small.
import { build } from 'esbuild';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ASSETS = ['schemas', 'src/shared/engine/python', 'src/shared/eval/judges', 'docker/serve.Dockerfile'];

/**
 * Steps whose bundle carries the serving CLI (src/serve-cli.ts: `flow serve` only) as one more entry,
 * `serve-cli.js` beside it: deploy builds the serving image's context from it (serve/packed-cli.ts), so a
 * pipeline needs no installed CLI. As an entry of the same build it shares its chunks with the step's bundle.
 */
export const STEPS_WITH_CLI = ['deploy'];
export const cliEntry = () => ({ 'serve-cli': path.join(root, 'src/serve-cli.ts') });

/** CommonJS dependencies inside an ESM bundle still call require() for Node built-ins. */
const banner = {
  js: "import { createRequire as __llmopsRequire } from 'node:module'; const require = __llmopsRequire(import.meta.url);",
};

/**
 * Replaces src/packaging/precompiled-schemas.ts (empty from source) with ajv's standalone code
 * for the user-file schemas, so a packaged step does not compile them at start.
 */
let precompiledSource;
export const precompiledSchemas = {
  name: 'precompiled-schemas',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]packaging[\\/]precompiled-schemas\.ts$/ }, async () => {
      if (precompiledSource === undefined) {
        const outfile = path.join(root, 'dist/.packaging/precompile-schemas.mjs');
        await build({
          absWorkingDir: root,
          entryPoints: ['src/packaging/precompile-schemas.ts'],
          outfile,
          bundle: true,
          platform: 'node',
          format: 'esm',
          packages: 'external',
          logLevel: 'warning',
        });
        const { precompiledSchemasSource } = await import(pathToFileURL(outfile).href);
        precompiledSource = precompiledSchemasSource(root);
      }
      return { contents: precompiledSource, loader: 'js', resolveDir: root };
    });
  },
};

/** esbuild options shared by the action and task bundles. */
export function bundleOptions(entryPoints, outdir) {
  return {
    plugins: [precompiledSchemas],
    absWorkingDir: root,
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node22',
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
    banner,
  };
}

/** Copy the run-time assets under `dir`, where `assetPath` finds them from a bundle below it. */
export function copyAssets(dir) {
  for (const asset of ASSETS) {
    cpSync(path.join(root, asset), path.join(dir, asset), {
      recursive: true,
      filter: (src) => !src.includes('__pycache__'),
    });
  }
  // The bundles are ESM; this marks every .js below as such, wherever the folder is copied.
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
}

/** The GitHub entry files, generated from the step registry (src/packaging/entries/github/). */
export function gitHubEntries() {
  const dir = path.join(root, 'src/packaging/entries/github');
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => [`${f.slice(0, -3)}/index`, path.join(dir, f)]),
  );
}

export async function bundleActions() {
  const out = path.join(root, 'dist/actions');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // One build for every action: they share dist/actions/, so one serve-cli.js serves all (deploy and the root action).
  const result = await build(bundleOptions({ ...gitHubEntries(), ...cliEntry() }, out));
  copyAssets(out);
  writeFileSync(path.join(root, 'dist/actions-meta.json'), JSON.stringify(result.metafile));
  return result.metafile;
}

/** Run src/packaging/generate-cli.ts (bundled on the fly: the repository has no TypeScript runner). */
export async function generate() {
  const outfile = path.join(root, 'dist/.packaging/generate.mjs');
  await build({
    absWorkingDir: root,
    entryPoints: ['src/packaging/generate-cli.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
  await import(pathToFileURL(outfile).href);
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  if (process.argv[2] === 'generate') await generate();
  else {
    const started = Date.now();
    const meta = await bundleActions();
    const entries = Object.entries(meta.outputs).filter(([, o]) => o.entryPoint);
    for (const [file, o] of entries)
      process.stdout.write(`${path.relative(root, path.resolve(root, file))}  ${(o.bytes / 1024).toFixed(0)} kB\n`);
    process.stdout.write(`${entries.length} action bundle(s) in ${Date.now() - started} ms\n`);
  }
}
