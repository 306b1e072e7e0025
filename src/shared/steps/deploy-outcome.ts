/**
 * What every deploy target other than local does once its rollout has run: the same four outputs, and a rollout
 * that was not promoted turned into the step's exit code.
 */
import type { RolloutResult, TrafficMap } from '../deploy/rollout.js';
import { GateFailed, ServiceError } from '../errors.js';
import type { Host } from '../host/host.js';
import type { DeployOutputs } from './deploy.js';

/** Sets `endpoint`, `deployment-name` (the version rolled out), `deployments` (always `[]`) and `traffic`. */
export function publishRollout(host: Host, endpoint: string, version: string, traffic: TrafficMap): DeployOutputs {
  const outputs = { endpoint, deploymentName: version, deployments: [], traffic: JSON.stringify(traffic) };
  host.setOutput('endpoint', endpoint);
  host.setOutput('deployment-name', version);
  host.setOutput('deployments', '[]');
  host.setOutput('traffic', outputs.traffic);
  return outputs;
}

/**
 * Throws unless the rollout was promoted (or did not run, as in a dry run): a check that failed is a gate (exit 1);
 * an outside failure that was rolled back is the service's (exit 3). `what` names the rollout, `service` the platform.
 */
export function failUnlessPromoted(rollout: RolloutResult | undefined, what: string, service: string): void {
  if (!rollout || rollout.outcome === 'promoted') return;
  const why = `rollout of ${what}: ${rollout.outcome}${rollout.reason ? ` (${rollout.reason})` : ''}`;
  const checkFailed = rollout.steps.some((s) => (s.kind === 'smoke' || s.kind === 'stage') && !s.passed);
  if (checkFailed) throw new GateFailed(why, [rollout.reason ?? rollout.outcome]);
  throw new ServiceError(`${service}: ${why}`);
}
