// `node scripts/step-repos.mjs <out-dir> [--owner llmops] [--source-repo <owner>/llmops]`: the contents of one
// repository per step (<out-dir>/<step>/: action.yml, README.md, dist/ with the step's own bundle
// and the assets it finds beside it), which the release workflow pushes to <owner>/<step> so
// `uses: <owner>/<step>@v1` works. Generated from the step declarations (src/packaging/step-repo.ts).
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleOptions, copyAssets, gitHubEntries, root } from './package.mjs';

/** Writes every step repository under `outDir`; returns the step names. */
export async function writeStepRepos(outDir, options = {}) {
  const helper = path.join(root, 'dist/.packaging/step-repo.mjs');
  await build({
    absWorkingDir: root,
    stdin: {
      contents:
        "export { stepRepoFiles, STEP_REPO_BUNDLE } from './src/packaging/step-repo.ts'; export { packagedSteps } from './src/packaging/steps.ts';",
      resolveDir: root,
      loader: 'ts',
    },
    outfile: helper,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
  const { stepRepoFiles, STEP_REPO_BUNDLE, packagedSteps } = await import(
    `${pathToFileURL(helper).href}?t=${Date.now()}`
  );
  const version =
    options.version ??
    `v${JSON.parse((await import('node:fs')).readFileSync(path.join(root, 'package.json'), 'utf8')).version}`;
  const entries = gitHubEntries();
  const names = [];
  for (const { step } of packagedSteps) {
    const dir = path.join(outDir, step.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [file, content] of stepRepoFiles(step, {
      owner: options.owner,
      version,
      sourceRepo: options.sourceRepo,
    }))
      writeFileSync(path.join(dir, file), content);
    const dist = path.join(dir, path.dirname(STEP_REPO_BUNDLE));
    await build(bundleOptions({ index: entries[`${step.name}/index`] }, dist));
    copyAssets(dist);
    names.push(step.name);
  }
  return names;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const args = process.argv.slice(2);
  const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const outDir = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
  if (!outDir) {
    process.stderr.write(
      'usage: node scripts/step-repos.mjs <out-dir> [--owner llmops] [--source-repo <owner>/llmops] [--version vX.Y.Z]\n',
    );
    process.exit(2);
  }
  const names = await writeStepRepos(path.resolve(outDir), {
    owner: flag('--owner'),
    sourceRepo: flag('--source-repo'),
    version: flag('--version'),
  });
  process.stdout.write(`${names.length} step repositories in ${outDir}: ${names.join(', ')}\n`);
}
