/**
 * Every file generated from the step registry, computed in memory: `npm run generate` writes
 * them, and a test compares them with what is on disk (a stale file fails the build).
 * @module
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { actionYaml, rootAction, stepAction } from './action-yml.js';
import { adoEntrySource, gitHubEntrySource, rootGitHubEntrySource } from './entries.js';
import { actionDir, adoEntry, gitHubEntry, ROOT_GITHUB_ENTRY, taskDir } from './layout.js';
import { type PackagedStep, packagedSteps } from './steps.js';
import { taskJson } from './task-json.js';
import { extensionManifest } from './vss-extension.js';

const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

/** The package version, which the task and extension versions follow. */
export function packageVersion(root: string): string {
  return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Relative path → content of every generated file. */
export function generatedFiles(version: string, steps: readonly PackagedStep[] = packagedSteps): Map<string, string> {
  const files = new Map<string, string>();
  for (const p of steps) {
    const name = p.step.name;
    const source = `src/shared/steps/${name}.ts`;
    files.set(`${actionDir(name)}/action.yml`, actionYaml(stepAction(p.step), source));
    files.set(`${taskDir(name)}/task.json`, json(taskJson(p, version)));
    files.set(gitHubEntry(name), gitHubEntrySource(name));
    files.set(adoEntry(name), adoEntrySource(name));
  }
  files.set('action.yml', actionYaml(rootAction(steps), 'src/packaging/steps.ts'));
  files.set(ROOT_GITHUB_ENTRY, rootGitHubEntrySource());
  files.set('vss-extension.json', json(extensionManifest(steps, version)));
  return files;
}
