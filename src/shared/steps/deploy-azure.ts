/**
 * `deploy --target azure-managed | azure-kubernetes`: an Azure ML online endpoint. The Azure code is imported
 * only here, when an Azure target is asked for, so local deploys never load the Azure HTTP pipeline.
 */
import { azureSettings } from '../azure/settings.js';
import { loadUseCase } from '../config/use-case.js';
import { azureEndpointEntry } from '../config/deployment.js';
import { deploymentName, suiteForUseCase } from '../deploy/index.js';
import { ConfigError } from '../errors.js';
import type { Host } from '../host/host.js';
import { variantList, type DeployInputs, type DeployOutputs } from './deploy.js';
import {
  checkRemoteInputs,
  deploymentConfigFile,
  failUnlessPromoted,
  publishRollout,
  trafficSteps,
  promotionChecks,
  useCaseVariables,
} from './deploy-remote.js';

const AZURE_TARGETS = { 'azure-managed': 'azure_managed_endpoint', 'azure-kubernetes': 'kubernetes_endpoint' } as const;
type AzureTargetName = keyof typeof AZURE_TARGETS;

export function isAzureTarget(target: string): target is AzureTargetName {
  return target in AZURE_TARGETS;
}

/** `--target azure-managed | azure-kubernetes`: the rollout, `--dry-run` its plan, `--rollback` the prior traffic. */
export async function deployAzure(
  inputs: DeployInputs & { target: AzureTargetName },
  host: Host,
): Promise<DeployOutputs> {
  checkRemoteInputs(inputs, inputs.target, 'Azure deployments are listed in Azure ML studio');
  const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'deploy' });
  const name = deploymentName(useCase.name, useCase.envName);
  const file = deploymentConfigFile(useCase);
  const entry = azureEndpointEntry(useCase.deployment, AZURE_TARGETS[inputs.target], useCase.envName, file);
  const steps = trafficSteps(inputs.trafficSteps);
  if (inputs.maxErrorRate !== undefined && !(inputs.maxErrorRate >= 0 && inputs.maxErrorRate <= 1))
    throw ConfigError.at(
      { file: 'input "max-error-rate"' },
      `found ${inputs.maxErrorRate}; expected a share of failed requests from 0 to 1 (e.g. 0.01)`,
    );
  for (const [name, value, min] of [
    ['max-p95-ms', inputs.maxP95Ms, 1],
    ['probe-requests', inputs.probeRequests, 0],
  ] as const)
    if (value !== undefined && value < min)
      throw ConfigError.at({ file: `input "${name}"` }, `found ${value}; expected a whole number >= ${min}`);
  const settings = azureSettings(useCase, `deploy --target ${inputs.target} deploys to it`);
  // Loaded only for Azure targets: local deploys never load the Azure HTTP pipeline.
  const { openWorkspace } = await import('../azure/workspace.js');
  const { deployToAzure, rollbackAzure } = await import('../deploy/azure-deploy.js');
  const ws = await openWorkspace(settings, host.azureAuth?.() ?? {}, {
    log: (m) => host.info(m),
    mask: (secret) => host.mask(secret),
  });
  if (inputs.rollback) {
    const r = await rollbackAzure({
      ws,
      target: inputs.target,
      entry,
      name,
      stateDir: inputs.stateDir,
      log: (l) => host.info(l),
    });
    await host.appendSummary(r.summary);
    return publishRollout(host, r.state.scoringUri, r.state.deployment, r.live);
  }
  const variants = variantList(inputs.variant);
  const result = await deployToAzure({
    checks: promotionChecks(inputs, (l) => host.info(l), entry.promote),
    ws,
    target: inputs.target,
    entry,
    name,
    flow: useCase.flow.model,
    init: useCase.flow.init,
    variants,
    connections: useCase.connections,
    envYaml: useCaseVariables(useCase),
    secrets: useCase.secrets,
    image: inputs.image,
    smoke: suiteForUseCase(useCase, inputs.tests),
    steps,
    mirrorPercent: inputs.mirrorPercent ?? entry.mirrorPercent,
    maxErrorRate: inputs.maxErrorRate ?? entry.maxErrorRate,
    maxP95Ms: inputs.maxP95Ms ?? entry.maxP95Ms,
    probeRequests: inputs.probeRequests,
    appInsights: entry.appInsights,
    authMode: entry.authMode,
    keep: inputs.keep,
    location: inputs.location,
    dryRun: inputs.dryRun,
    stateDir: inputs.stateDir,
    mask: (s) => host.mask(s),
    log: (l) => host.info(l),
    warn: (l) => host.warning(l),
  });
  await host.appendSummary(result.summary);
  const outputs = publishRollout(host, result.scoringUri, result.deployment, result.live);
  failUnlessPromoted(result.rollout, `${result.deployment} to ${result.endpoint}`, 'Azure ML');
  return outputs;
}
