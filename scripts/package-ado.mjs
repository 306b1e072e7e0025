// `npm run package:ado`: one ESM bundle per Azure DevOps task, inside its own folder
// (ado-tasks/<step>/dist/, gitignored: a task folder is shipped alone in the .vsix, so it carries
// its assets too), then `tfx extension create` packs every task into dist/llmops-<version>.vsix.
// Fails when a task bundle holds more than one copy of azure-pipelines-task-lib: its module-level
// state (the secret vault, loaded variables) must be shared by everything in the task.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleOptions, cliEntry, copyAssets, root, STEPS_WITH_CLI } from './package.mjs';

/** Inputs of the bundle that are a task-lib `task.js`: exactly one path is allowed. */
export function taskLibCopies(metafile) {
  return Object.keys(metafile.inputs).filter((p) => /(^|\/)node_modules\/azure-pipelines-task-lib\/task\.js$/.test(p));
}

export async function bundleTasks() {
  const dir = path.join(root, 'src/packaging/entries/ado');
  const steps = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3));
  const report = [];
  for (const step of steps) {
    const out = path.join(root, 'ado-tasks', step, 'dist');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const entries = { index: path.join(dir, `${step}.ts`), ...(STEPS_WITH_CLI.includes(step) ? cliEntry() : {}) };
    const { metafile } = await build(bundleOptions(entries, out));
    const copies = taskLibCopies(metafile);
    if (copies.length !== 1)
      throw new Error(
        `ado-tasks/${step}: expected exactly one azure-pipelines-task-lib, found ${copies.length}: ${copies.join(', ')}`,
      );
    copyAssets(out);
    mkdirSync(path.join(root, 'dist'), { recursive: true });
    writeFileSync(path.join(root, 'dist', `ado-meta-${step}.json`), JSON.stringify(metafile));
    report.push({ step, bytes: Object.values(metafile.outputs).reduce((n, o) => n + o.bytes, 0) });
  }
  return report;
}

/** Pack the extension with tfx (offline). Returns the .vsix path. */
export function createVsix() {
  const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  const outputPath = path.join(root, 'dist', `llmops-${version}.vsix`);
  const tfx = path.join(root, 'node_modules/tfx-cli/_build/tfx-cli.js');
  execFileSync(
    process.execPath,
    [
      tfx,
      'extension',
      'create',
      '--root',
      root,
      '--manifest-globs',
      'vss-extension.json',
      '--output-path',
      outputPath,
      '--no-prompt',
      '--json',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return outputPath;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const started = Date.now();
  for (const { step, bytes } of await bundleTasks())
    process.stdout.write(`ado-tasks/${step}/dist  ${(bytes / 1024).toFixed(0)} kB\n`);
  process.stdout.write(`${createVsix()} in ${Date.now() - started} ms\n`);
}
