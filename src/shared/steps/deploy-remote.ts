/**
 * What every deploy target other than local shares around its own rollout: the inputs it refuses, the traffic
 * steps it reads, where its deployment_config.json is, the same four outputs, and a rollout that was not promoted
 * turned into the step's exit code.
 */
import path from 'node:path';
import type { PromoteSettings } from '../config/deployment.js';
import type { UseCase } from '../config/types.js';
import type { RolloutCheck, RolloutResult, TrafficMap } from '../deploy/rollout.js';
import { parseMargins } from '../monitor/compare.js';
import { promoteWhenCheck } from '../monitor/promote.js';
import { ConfigError, GateFailed, ServiceError } from '../errors.js';
import { REDACT_PII_ENV } from '../safety/redact-everywhere.js';
import type { Host } from '../host/host.js';
import type { DeployInputs, DeployOutputs } from './deploy.js';

/**
 * Refuses what only target local does (list, stop; `listedWhere` says where this target's deployments are listed
 * instead) and dry-run with rollback together.
 */
export function checkRemoteInputs(inputs: DeployInputs, target: string, listedWhere: string): void {
  if (inputs.list || inputs.stop)
    throw ConfigError.at(
      { file: `input "${inputs.list ? 'list' : 'stop'}"` },
      `found it with target ${target}; expected target local (${listedWhere})`,
    );
  if (inputs.dryRun && inputs.rollback)
    throw ConfigError.at({ file: 'input "rollback"' }, 'found both dry-run and rollback; expected one of them');
}

/**
 * The variables a deployment takes from its use case: env.yaml's, and the kinds of its `redaction:` block as
 * LLMOPS_REDACT_PII, so the served flow redacts its logs, request log and telemetry as the use case's CI runs do
 * (an ENVIRONMENT_VARIABLES entry of the target's config still overrides both).
 */
export function useCaseVariables(useCase: UseCase): Record<string, string> | undefined {
  if (!useCase.redaction) return useCase.environmentVariables;
  return { [REDACT_PII_ENV]: useCase.redaction.kinds.join(','), ...useCase.environmentVariables };
}

/**
 * `promote-when` as a rollout check (none without it): the step's inputs, else the entry's PROMOTE_* settings.
 * ConfigError when they are not what the gate needs.
 */
export function promotionChecks(
  inputs: DeployInputs,
  log: (line: string) => void,
  entry?: PromoteSettings,
): RolloutCheck[] {
  const when = inputs.promoteWhen?.trim() || entry?.when;
  const logs = inputs.promoteLog ?? entry?.log;
  const whenAt = inputs.promoteWhen?.trim() ? 'input "promote-when"' : 'deployment_config.json PROMOTE_WHEN';
  const logAt =
    inputs.promoteLog !== undefined || !entry?.when
      ? 'input "promote-log"'
      : 'deployment_config.json PROMOTE_LOG (or input "promote-log")';
  if (!when) {
    if (logs) throw ConfigError.at({ file: logAt }, 'found it without promote-when; expected both or neither');
    return [];
  }
  if (when !== 'better' && when !== 'not-worse')
    throw ConfigError.at({ file: whenAt }, `found "${when}"; expected better or not-worse`);
  const sources = (logs ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (sources.length === 0)
    throw ConfigError.at(
      { file: logAt },
      'missing; expected the request logs (files or folders) the versions write, each line naming the version that answered',
    );
  // The input's default (30) stands for "not given": the entry's value wins over it.
  const minRequests =
    inputs.promoteMinRequests !== undefined && inputs.promoteMinRequests !== 30
      ? inputs.promoteMinRequests
      : (entry?.minRequests ?? inputs.promoteMinRequests ?? 30);
  if (!Number.isInteger(minRequests) || minRequests < 2)
    throw ConfigError.at({ file: 'input "promote-min-requests"' }, `found ${minRequests}; expected an integer ≥ 2`);
  const margin =
    inputs.promoteMargin !== undefined && inputs.promoteMargin !== '0.05'
      ? inputs.promoteMargin
      : (entry?.margin ?? inputs.promoteMargin ?? '0.05');
  return [
    promoteWhenCheck({
      requirement: when,
      sources,
      margins: parseMargins(margin, 'input "promote-margin"'),
      minRequests,
      onCompare: (_stage, r) => log(r.summary),
    }),
  ];
}

/** The deployment_config.json a use case's entries come from (for their error positions). */
export function deploymentConfigFile(useCase: UseCase): string {
  return useCase.deploymentFile ?? path.join(useCase.baseDir, 'configs', 'deployment_config.json');
}

/** `--traffic-steps`: the new version's share at each stage before the final one. */
export function trafficSteps(text: string | undefined): number[] {
  const steps = (text ?? '10,50')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (steps.some((s) => !Number.isInteger(s) || s < 1 || s > 99))
    throw ConfigError.at(
      { file: 'input "traffic-steps"' },
      `found "${text}"; expected whole percentages from 1 to 99, comma-separated (e.g. 10,50)`,
    );
  return steps;
}

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
