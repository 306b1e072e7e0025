/**
 * `deploy --target kubernetes`: the env's `kubernetes` entry of deployment_config.json on the cluster of
 * `--kubeconfig` / KUBECONFIG. The Kubernetes client is imported only here, when this target is asked for.
 */
import { azureSettings } from '../azure/settings.js';
import { kubernetesEntry, type KubernetesEntry } from '../config/deployment.js';
import type { UseCase } from '../config/types.js';
import { loadUseCase } from '../config/use-case.js';
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

export function kubernetesEntryOf(useCase: UseCase): KubernetesEntry {
  const file = deploymentConfigFile(useCase);
  return kubernetesEntry(useCase.deployment, useCase.envName, file);
}

export async function deployKubernetes(inputs: DeployInputs, host: Host): Promise<DeployOutputs> {
  checkRemoteInputs(inputs, 'kubernetes', `kubectl get deployments lists the cluster's`);
  const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'deploy' });
  const name = deploymentName(useCase.name, useCase.envName);
  const entry = kubernetesEntryOf(useCase);
  const given = inputs.image ?? entry.image;
  if (inputs.variant && given)
    throw ConfigError.at(
      { file: 'input "variant"' },
      'found a variant with an image given; expected none (the image holds the flow with its variants applied: llmops flow build-context --variant), or REGISTRY_NAME and no image to build the image with that variant',
    );
  if (!given && !entry.registryName && !inputs.rollback)
    throw ConfigError.at(
      { file: entry.file },
      `kubernetes[${entry.index}]: no image and no registry to build one; expected IMAGE in the entry or --image (the serving image built from llmops flow build-context), or REGISTRY_NAME (an Azure Container Registry that builds it)`,
    );
  const steps = trafficSteps(inputs.trafficSteps);
  const { KubeClient } = await import('../deploy/kubernetes-client.js');
  const { deployToKubernetes, rollbackKubernetes } = await import('../deploy/kubernetes-deploy.js');
  const client = KubeClient.load(inputs.kubeconfig);
  host.info(`cluster ${client.server}, namespace ${entry.namespace}`);
  if (inputs.rollback) {
    const r = await rollbackKubernetes({ client, entry, name, stateDir: inputs.stateDir, log: (l) => host.info(l) });
    await host.appendSummary(r.summary);
    return publishRollout(host, scoring(r.state.url), r.state.deployment, r.live);
  }
  for (const c of useCase.connections) for (const k of c.secretKeys) if (c.value[k]) host.mask(String(c.value[k]));
  for (const s of useCase.secrets) host.mask(s);
  const image = given ?? (await buildImage(inputs, host, useCase, entry, name));
  const result = await deployToKubernetes({
    checks: promotionChecks(inputs, (l) => host.info(l), entry.promote),
    client,
    entry,
    name,
    image,
    connections: useCase.connections,
    init: useCase.flow.init,
    envYaml: useCaseVariables(useCase),
    secrets: useCase.secrets,
    smoke: suiteForUseCase(useCase, inputs.tests),
    steps,
    mirrorPercent: inputs.mirrorPercent ?? entry.mirrorPercent,
    keep: inputs.keep,
    dryRun: inputs.dryRun,
    stateDir: inputs.stateDir,
    log: (l) => host.info(l),
    warn: (l) => host.warning(l),
  });
  await host.appendSummary(result.summary);
  const outputs = publishRollout(host, scoring(result.url), result.deployment, result.live);
  failUnlessPromoted(result.rollout, result.deployment, 'Kubernetes');
  return outputs;
}

/** The entry's REGISTRY_NAME builds the image: the only case where this target signs in to Azure. */
async function buildImage(
  inputs: DeployInputs,
  host: Host,
  useCase: UseCase,
  entry: KubernetesEntry,
  name: string,
): Promise<string> {
  const settings = azureSettings(useCase, `REGISTRY_NAME of kubernetes[${entry.index}] builds the image in it`, {
    needsWorkspace: false,
  });
  const { createAzureCredential } = await import('../azure/credentials.js');
  const { buildServingImage } = await import('./deploy-image.js');
  const auth = host.azureAuth?.() ?? {};
  const { credential, choice } = await createAzureCredential({
    ...auth,
    authorityHost:
      settings.customAuthority || settings.cloud !== 'AzurePublicCloud' ? settings.authorityHost : auth.authorityHost,
  });
  host.info(`Azure: ${choice.reason}; Resource Manager ${settings.resourceManager}`);
  return buildServingImage({
    useCase,
    host,
    settings,
    credential,
    registry: { name: entry.registryName!, resourceGroup: entry.registryResourceGroup ?? settings.resourceGroup },
    name,
    stateDir: inputs.stateDir,
    target: 'kubernetes',
    variants: variantList(inputs.variant),
    dryRun: Boolean(inputs.dryRun),
  });
}

function scoring(url: string): string {
  return url ? `${url.replace(/\/$/, '')}/score` : '';
}
