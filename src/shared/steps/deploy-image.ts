/**
 * The serving image of a container target (kubernetes, container-app) when the user names none: the flow's
 * build context written under the state dir and built by an ACR build task in the entry's REGISTRY_NAME, the
 * same repository and content-hash tag as `deploy --target webapp` builds, so one flow is one image whichever
 * target runs it. Loaded only when a build is needed: the Azure code stays out of other deploys.
 */
import path from 'node:path';
import type { TokenCredential } from '@azure/identity';
import type { AzureSettings } from '../azure/settings.js';
import type { UseCase } from '../config/types.js';
import type { Host } from '../host/host.js';

export interface BuildImageRequest {
  useCase: UseCase;
  host: Host;
  settings: AzureSettings;
  credential: TokenCredential;
  registry: { name: string; resourceGroup: string };
  /** `<experiment>-<env>`: the repository's name. */
  name: string;
  /** Where the context is written: `<state-dir>/deploy/<name>-<target>-context`. */
  stateDir: string;
  target: string;
  variants: string[];
  dryRun: boolean;
}

/** The image reference (`<registry>.azurecr.io/llmops/<name>:<hash>`), built unless a run already pushed it. */
export async function buildServingImage(r: BuildImageRequest): Promise<string> {
  const { ArmClient } = await import('../azure/arm-client.js');
  const { armScope } = await import('../azure/clouds.js');
  const { packageFlow } = await import('../deploy/azure-assets.js');
  const { ensureImage, imageRepository, ACR_TASKS_API_VERSION } = await import('../deploy/image-build.js');
  const pkg = packageFlow({
    flow: r.useCase.flow.model,
    variants: r.variants,
    connections: r.useCase.connections,
    output: path.join(r.stateDir, 'deploy', `${r.name}-${r.target}-context`),
    packageRoot: process.env.LLMOPS_CLI ? path.resolve(path.dirname(process.env.LLMOPS_CLI), '..') : undefined,
  });
  const client = new ArmClient({
    endpoint: r.settings.resourceManager,
    credential: r.credential,
    scope: armScope(r.settings.resourceManager),
    apiVersion: ACR_TASKS_API_VERSION,
    role: 'Contributor on the container registry',
  });
  const built = await ensureImage({
    client,
    registry: {
      subscriptionId: r.settings.subscriptionId,
      resourceGroup: r.registry.resourceGroup,
      name: r.registry.name,
    },
    repository: imageRepository(r.name),
    contextDir: pkg.contextDir,
    contextHash: pkg.contextHash,
    dryRun: r.dryRun,
    // ACR's pace by default; a registry that answers fast (or the loopback emulator) may be polled sooner.
    pollMs: Number(process.env.LLMOPS_ACR_POLL_MS) > 0 ? Number(process.env.LLMOPS_ACR_POLL_MS) : undefined,
    log: (l) => r.host.info(l),
  });
  if (r.dryRun && !built.runId)
    r.host.info(
      `dry run: would build ${built.image} with an ACR build task in ${r.registry.name} (resource group ${r.registry.resourceGroup}) from the build context ${pkg.contextDir}`,
    );
  return built.image;
}
