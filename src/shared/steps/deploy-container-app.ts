/**
 * `deploy --target container-app`: an Azure Container App (multiple-revision mode). The Azure SDK is imported
 * only here, when this target is asked for, so other deploys never load it.
 */
import { azureSettings } from '../azure/settings.js';
import { loadUseCase } from '../config/use-case.js';
import { containerAppEntry } from '../config/deployment.js';
import { deploymentName, suiteForUseCase } from '../deploy/index.js';
import { ConfigError, ServiceError } from '../errors.js';
import type { Host } from '../host/host.js';
import type { UseCase } from '../config/types.js';
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

export async function deployContainerApp(inputs: DeployInputs, host: Host): Promise<DeployOutputs> {
  checkRemoteInputs(inputs, 'container-app', 'container app revisions are listed in the Azure portal');
  const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'deploy' });
  const name = deploymentName(useCase.name, useCase.envName);
  const file = deploymentConfigFile(useCase);
  const entry = containerAppEntry(useCase.deployment, useCase.envName, file);
  const steps = trafficSteps(inputs.trafficSteps);
  const given = inputs.image ?? entry.image;
  if (!given && !entry.registryName && !inputs.rollback)
    throw ConfigError.at(
      { file },
      `container_app_endpoint[${entry.index}]: no image and no registry to build one; expected the --image input or IMAGE in the entry (the serving image built from \`llmops flow build-context\`), or REGISTRY_NAME (an Azure Container Registry that builds it)`,
    );
  const { client, settings, credential } = await openContainerApps(
    useCase,
    host,
    'deploy --target container-app deploys to it',
  );
  const { deployToContainerApp, rollbackContainerApp } = await import('../deploy/container-app-deploy.js');
  const wait = waitFromEnv();
  if (inputs.rollback) {
    const r = await rollbackContainerApp({ client, name, stateDir: inputs.stateDir, wait, log: (l) => host.info(l) });
    await host.appendSummary(r.summary);
    return publishRollout(host, r.state.url, r.state.revision, r.live);
  }
  let image = given;
  let registryServer = entry.registryServer;
  if (!image && entry.registryName) {
    const { buildServingImage } = await import('./deploy-image.js');
    image = await buildServingImage({
      useCase,
      host,
      settings,
      credential,
      registry: { name: entry.registryName, resourceGroup: entry.registryResourceGroup ?? settings.resourceGroup },
      name,
      stateDir: inputs.stateDir,
      target: 'container-app',
      variants: variantList(inputs.variant),
      dryRun: Boolean(inputs.dryRun),
    });
    // The app pulls what was built from that registry, with its identity.
    registryServer ??= image.split('/')[0];
  }
  const result = await deployToContainerApp({
    checks: promotionChecks(inputs, (l) => host.info(l), entry.promote),
    client,
    subscriptionId: settings.subscriptionId,
    resourceGroup: settings.resourceGroup,
    entry: { ...entry, registryServer, location: entry.location ?? inputs.location },
    name,
    init: useCase.flow.init,
    connections: useCase.connections,
    envYaml: useCaseVariables(useCase),
    secrets: useCase.secrets,
    image,
    smoke: suiteForUseCase(useCase, inputs.tests),
    steps,
    keep: inputs.keep,
    dryRun: inputs.dryRun,
    stateDir: inputs.stateDir,
    wait,
    log: (l) => host.info(l),
    warn: (l) => host.warning(l),
  });
  await host.appendSummary(result.summary);
  const outputs = publishRollout(host, result.url, result.revision, result.live);
  failUnlessPromoted(result.rollout, `${result.revision} to ${result.app}`, 'Container Apps');
  return outputs;
}

/** The Container Apps client of the use case's `azure:` block, signed in with the host's credential chain. */
async function openContainerApps(useCase: UseCase, host: Host, what: string) {
  const settings = azureSettings(useCase, what, { needsWorkspace: false });
  // Loaded only for this target: other steps never load the Azure SDK.
  const { createAzureCredential } = await import('../azure/credentials.js');
  const { armScope } = await import('../azure/clouds.js');
  const { ContainerAppsAPIClient } = await import('@azure/arm-appcontainers');
  const auth = host.azureAuth?.() ?? {};
  const { credential, choice } = await createAzureCredential({
    ...auth,
    authorityHost:
      settings.customAuthority || settings.cloud !== 'AzurePublicCloud' ? settings.authorityHost : auth.authorityHost,
  });
  host.info(`Azure: ${choice.reason}; Resource Manager ${settings.resourceManager}`);
  const client = new ContainerAppsAPIClient(credential, settings.subscriptionId, {
    endpoint: settings.resourceManager,
    credentials: { scopes: [armScope(settings.resourceManager)] },
    userAgentOptions: { userAgentPrefix: 'llmops' },
  });
  return { client, settings, credential };
}

/**
 * `smoke-test --target container-app`: the app's URL, or with `revision` that revision's own URL (tested alone,
 * whatever its traffic), and the fetch that reaches them (LLMOPS_CONTAINER_APPS_CONNECT_TO honoured).
 */
export async function containerAppSmokeTarget(
  useCase: UseCase,
  host: Host,
  revision?: string,
): Promise<{ url: string; fetch: typeof fetch }> {
  const file = deploymentConfigFile(useCase);
  const entry = containerAppEntry(useCase.deployment, useCase.envName, file);
  const { client, settings } = await openContainerApps(
    useCase,
    host,
    'smoke-test --target container-app reads the app',
  );
  const { serviceError } = await import('../deploy/container-app.js');
  const { containerAppFetch } = await import('../deploy/container-app-http.js');
  const rg = entry.resourceGroup ?? settings.resourceGroup;
  const what = `read container app ${entry.appName} in resource group ${rg}`;
  const app = await client.containerApps.get(rg, entry.appName).catch((e: unknown) => {
    throw serviceError(e, what);
  });
  let fqdn = app.configuration?.ingress?.fqdn;
  if (revision) {
    const r = await client.containerAppsRevisions.getRevision(rg, entry.appName, revision).catch((e: unknown) => {
      throw serviceError(e, `read revision ${revision} of ${entry.appName}`);
    });
    fqdn = r.fqdn;
    const weight = (app.configuration?.ingress?.traffic ?? [])
      .filter((t) => t.revisionName === revision)
      .reduce((sum, t) => sum + (t.weight ?? 0), 0);
    if (!weight) host.info(`${revision} receives no traffic now; tested alone through its own URL`);
  }
  if (!fqdn)
    throw new ServiceError(
      `Container Apps: ${revision ? `revision ${revision}` : `container app ${entry.appName}`} has no URL (is ingress enabled?)`,
    );
  return { url: `https://${fqdn}`, fetch: containerAppFetch() };
}

/**
 * Revision wait and polling intervals: Azure's pace by default; LLMOPS_CONTAINER_APPS_POLL_MS shortens them
 * (an environment that answers fast, or the loopback emulator).
 */
function waitFromEnv(): { pollMs?: number; lroPollMs?: number; timeoutMs?: number } {
  const poll = Number(process.env.LLMOPS_CONTAINER_APPS_POLL_MS);
  const timeout = Number(process.env.LLMOPS_CONTAINER_APPS_TIMEOUT_MS);
  return {
    ...(poll > 0 ? { pollMs: poll, lroPollMs: poll } : {}),
    ...(timeout > 0 ? { timeoutMs: timeout } : {}),
  };
}
