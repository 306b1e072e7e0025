/**
 * `deploy --target webapp`: App Service (Linux container) through a deployment slot, rampUpRules and a swap.
 * The Azure code is imported only here, when this target is asked for.
 */
import path from 'node:path';
import { azureSettings } from '../azure/settings.js';
import { webAppEntry } from '../config/deployment.js';
import type { UseCase } from '../config/types.js';
import { loadUseCase } from '../config/use-case.js';
import { deploymentName, suiteForUseCase } from '../deploy/index.js';
import { ServiceError } from '../errors.js';
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

export async function deployWebApp(inputs: DeployInputs, host: Host): Promise<DeployOutputs> {
  checkRemoteInputs(inputs, 'webapp', 'App Service deployments are listed in the Azure portal');
  const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'deploy' });
  const name = deploymentName(useCase.name, useCase.envName);
  const file = deploymentConfigFile(useCase);
  const entry = webAppEntry(useCase.deployment, useCase.envName, file);
  const steps = trafficSteps(inputs.trafficSteps);
  const { settings, credential, client } = await signIn(useCase, host, 'deploy --target webapp deploys to it');
  const { ArmClient } = await import('../azure/arm-client.js');
  const { armScope } = await import('../azure/clouds.js');
  const { deployToWebApp, rollbackWebApp } = await import('../deploy/webapp-deploy.js');
  const { ensureImage, ACR_TASKS_API_VERSION } = await import('../deploy/image-build.js');
  if (inputs.rollback) {
    const r = await rollbackWebApp({
      client,
      subscriptionId: settings.subscriptionId,
      entry,
      name,
      stateDir: inputs.stateDir,
      log: (l) => host.info(l),
    });
    await host.appendSummary(r.summary);
    return publishRollout(host, r.state.endpoint, r.state.deployment, r.live);
  }
  const acr = new ArmClient({
    endpoint: settings.resourceManager,
    credential,
    scope: armScope(settings.resourceManager),
    apiVersion: ACR_TASKS_API_VERSION,
    role: 'Contributor on the container registry',
  });
  const warmup = Number(process.env.LLMOPS_WEBAPP_WARMUP_SECONDS);
  const result = await deployToWebApp({
    checks: promotionChecks(inputs, (l) => host.info(l), entry.promote),
    client,
    monitor: { resourceManager: settings.resourceManager, credential },
    subscriptionId: settings.subscriptionId,
    resourceManager: settings.resourceManager,
    entry,
    name,
    flow: useCase.flow.model,
    init: useCase.flow.init,
    variants: variantList(inputs.variant),
    connections: useCase.connections,
    envYaml: useCaseVariables(useCase),
    secrets: useCase.secrets,
    image: inputs.image,
    packageRoot: process.env.LLMOPS_CLI ? path.resolve(path.dirname(process.env.LLMOPS_CLI), '..') : undefined,
    ensureImage: async (c) =>
      (
        await ensureImage({
          client: acr,
          registry: {
            subscriptionId: settings.subscriptionId,
            resourceGroup: entry.registryResourceGroup,
            name: entry.registryName,
          },
          repository: c.repository,
          contextDir: c.dir,
          contextHash: c.hash,
          dryRun: c.dryRun,
          log: (l) => host.info(l),
        })
      ).image,
    smoke: suiteForUseCase(useCase, inputs.tests),
    steps,
    warmupTimeoutMs: warmup > 0 ? warmup * 1000 : undefined,
    dryRun: inputs.dryRun,
    stateDir: inputs.stateDir,
    log: (l) => host.info(l),
    warn: (l) => host.warning(l),
  });
  await host.appendSummary(result.summary);
  const outputs = publishRollout(host, result.endpoint, result.deployment, result.live);
  failUnlessPromoted(result.rollout, `${result.deployment} to ${entry.webAppName}`, 'App Service');
  return outputs;
}

async function signIn(useCase: UseCase, host: Host, why: string) {
  const settings = azureSettings(useCase, why);
  const { createAzureCredential } = await import('../azure/credentials.js');
  const { webSiteClient } = await import('../deploy/webapp-site.js');
  const auth = host.azureAuth?.() ?? {};
  const { credential, choice } = await createAzureCredential({
    ...auth,
    authorityHost:
      settings.customAuthority || settings.cloud !== 'AzurePublicCloud' ? settings.authorityHost : auth.authorityHost,
  });
  host.info(`Azure: ${choice.reason}; Resource Manager ${settings.resourceManager}`);
  return { settings, credential, client: webSiteClient(credential, settings.subscriptionId, settings.resourceManager) };
}

/**
 * `smoke-test --target webapp`: the scoring URL of production (or of one slot alone, `--deployment <slot>`)
 * of the env's webapp_endpoint entry.
 */
export async function webAppScoringUrl(useCase: UseCase, host: Host, slot?: string): Promise<string> {
  const file = deploymentConfigFile(useCase);
  const entry = webAppEntry(useCase.deployment, useCase.envName, file);
  const { settings, client } = await signIn(useCase, host, 'smoke-test --target webapp reads the web app');
  const { WebAppTarget } = await import('../deploy/webapp-site.js');
  const target = new WebAppTarget(client, {
    subscriptionId: settings.subscriptionId,
    resourceGroup: entry.resourceGroup,
    name: entry.webAppName,
    slot: slot ?? entry.slot,
  });
  const site = slot && slot !== 'production' ? await target.slot() : await target.site();
  if (!site?.defaultHostName)
    throw new ServiceError(
      `App Service: ${slot ? `slot ${slot} of ` : ''}web app ${entry.webAppName} does not exist in resource group ${entry.resourceGroup}; deploy first`,
    );
  return `https://${site.defaultHostName}/score`;
}
