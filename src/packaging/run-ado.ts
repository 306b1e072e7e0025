/** Runs a packaged step as an Azure DevOps task: the ADO side of the error boundary (run-step.ts). */
import { AdoHost } from '../shared/host/ado.js';
import { adoHostInputs } from './host-inputs.js';
import { relaunchForStep } from './relaunch.js';
import { runStep } from './run-step.js';
import type { AnyStep } from './steps.js';

/** Run the step on an AdoHost; the task result and `process.exitCode` follow the exit-code contract. */
export async function runStepOnAdo(step: AnyStep): Promise<number> {
  // A heavy step runs in a node started again with a smaller young generation (relaunch.ts).
  const relaunched = relaunchForStep(step.name);
  if (relaunched) return relaunched;
  const host = new AdoHost(step.name);
  const code = await runStep(step, host, adoHostInputs);
  host.finish();
  return code;
}
