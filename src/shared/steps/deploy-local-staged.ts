/**
 * `deploy --target local` in stages: the new colour beside the live one behind the deployment's traffic split,
 * given its share stage by stage with `promote-when` deciding from the two colours' request logs. Used when
 * promote-when is given, and for every later deploy of a deployment that has a split (its endpoint stays).
 */
import { rolloutMarkdown, describeTraffic } from '../deploy/rollout.js';
import { deployLocalStaged, type DeployLocalStagedOptions } from '../deploy/local-rollout.js';
import { smokeMarkdown } from '../deploy/index.js';
import type { Host } from '../host/host.js';
import type { DeployInputs } from './deploy.js';
import { failUnlessPromoted, promotionChecks, trafficSteps } from './deploy-remote.js';

export async function deployLocalInStages(
  inputs: DeployInputs,
  host: Host,
  o: Omit<DeployLocalStagedOptions, 'checks' | 'steps'>,
): Promise<{ endpoint: string; traffic: Record<string, number> }> {
  const steps = trafficSteps(inputs.trafficSteps);
  // Without promote-log, the gate reads the logs the two colours write (the split's deployments name them).
  // Without promote-when (a later deploy of a deployment with a split), the stages run without a gate.
  const checks = (logs: string[]) =>
    promotionChecks(
      { ...inputs, promoteLog: inputs.promoteLog ?? (inputs.promoteWhen?.trim() ? logs.join(',') : undefined) },
      (l) => host.info(l),
    );
  let result;
  try {
    result = await deployLocalStaged({ ...o, steps, checks });
  } catch (e) {
    const r = (e as { smoke?: Parameters<typeof smokeMarkdown>[0] }).smoke;
    if (r) await host.appendSummary(`## Deploy ${o.name} (local): new deployment rejected\n\n${smokeMarkdown(r)}`);
    throw e;
  }
  const { state, rollout } = result;
  const traffic = state.traffic ?? {};
  host.info(`${o.name}: ${result.endpoint} routes ${describeTraffic(traffic)}`);
  await host.appendSummary(
    `## Deploy ${o.name} (local, staged)\n\nEndpoint: \`${result.endpoint}\` (traffic split, ${describeTraffic(traffic)})\n\n${smokeMarkdown(result.smoke)}${rollout ? `\n${rolloutMarkdown(rollout)}` : ''}`,
  );
  failUnlessPromoted(
    rollout,
    `${o.name} (${state.canary?.slot ?? rollout?.plan.newVersion ?? state.live.slot})`,
    'local traffic split',
  );
  return { endpoint: result.endpoint, traffic };
}
