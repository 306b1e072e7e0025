/** Runs a packaged step on a GitHub runner: the GitHub side of the error boundary (run-step.ts). */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { GitHubHost } from '../shared/host/github.js';
import { gitHubHostInputs } from './host-inputs.js';
import { relaunchForStep } from './relaunch.js';
import { runStep, type StepChoice } from './run-step.js';

/** Run the step on a GitHubHost; sets `process.exitCode` per the exit-code contract and returns it. */
export async function runStepOnGitHub(step: StepChoice): Promise<number> {
  const host = new GitHubHost();
  const code = await runStep(step, host, gitHubHostInputs);
  host.finish();
  return code;
}

/**
 * The `run` export of an action entry. The runner executes the bundle as the main module, so
 * it runs at once; @github/local-action imports the bundle and calls `run` itself.
 */
export function startGitHubAction(step: StepChoice, moduleUrl: string): () => Promise<number> {
  const run = () => runStepOnGitHub(step);
  // The root action's step is its `step` input (INPUT_STEP); a heavy one runs in a node started again.
  const name = typeof step === 'function' ? process.env.INPUT_STEP?.trim() : step.name;
  if (isMainModule(moduleUrl) && !relaunchForStep(name)) void run();
  return run;
}

function isMainModule(moduleUrl: string): boolean {
  const main = process.argv[1];
  if (!main) return false;
  try {
    return pathToFileURL(realpathSync(main)).href === moduleUrl;
  } catch {
    return false;
  }
}
