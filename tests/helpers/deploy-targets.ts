/**
 * The deploy targets' test fixtures, started once per test file: the local model server the flow calls (AOAI_API_BASE
 * and AOAI_API_KEY point at it until `stop`), the deploy use case with one smoke test, and each target's emulators
 * with a signed-in client — Azure ML (ARM emulator, Azurite, online endpoints), App Service (ARM emulator, App
 * Service and ACR emulators), Kubernetes (the Kubernetes API emulator with a Gateway) and Container Apps (ARM
 * emulator, Container Apps emulator). Each `stop` ends what its start began, in reverse order.
 */
import path from 'node:path';
import type { WebSiteManagementClient } from '@azure/arm-appservice';
import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import type { TokenCredential } from '@azure/core-auth';
import { ArmClient } from '../../src/shared/azure/arm-client.js';
import { createAzureCredential } from '../../src/shared/azure/credentials.js';
import type { AzureSettings } from '../../src/shared/azure/settings.js';
import { MlWorkspace } from '../../src/shared/azure/workspace.js';
import type { WebAppEntry } from '../../src/shared/config/deployment.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { containerAppFetch } from '../../src/shared/deploy/container-app-http.js';
import { ACR_TASKS_API_VERSION, ensureImage } from '../../src/shared/deploy/image-build.js';
import { KubeClient } from '../../src/shared/deploy/kubernetes-client.js';
import { loadSmokeTests, type SmokeSuite } from '../../src/shared/deploy/smoke-tests.js';
import type { WebAppDeployOptions } from '../../src/shared/deploy/webapp-deploy.js';
import { webSiteClient } from '../../src/shared/deploy/webapp-site.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { writeBuildContext } from '../../src/shared/serve/build-context.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { deployUseCase } from '../deploy/helpers.js';
import { ACR_SPEC, AcrEmulator } from '../support/azure/acr.js';
import { ArmEmulator, TEST_CLIENT } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { APP_DOMAIN, APP_SPEC, ContainerAppsEmulator } from '../support/azure/container-apps.js';
import { EndpointsEmulator } from '../support/azure/endpoints.js';
import { WEB_SPEC, WebAppsEmulator } from '../support/azure/webapps.js';
import { KubeCluster } from '../support/kubernetes/cluster.js';

type ArmOptions = Parameters<typeof ArmEmulator.start>[0];
type LoadedUseCase = ReturnType<typeof loadUseCase>;

/** What every target's fixture has: the model server, the use case and the lines the deploy logged. */
export interface DeployBase {
  model: ModelServerHandle;
  /** The use case folder (experiment.yaml, flows/std with variants v0 and v1, smoke.yaml). */
  dir: string;
  /** Where the deploys of the file record their state (`<dir>/.llmops`). */
  stateDir: string;
  logs: string[];
  log: (line: string) => void;
  /** The use case loaded afresh, as a deploy step loads it. */
  useCase(): LoadedUseCase;
  smoke(): SmokeSuite;
  /** Serving contexts of the flow per variant (`images/<variant>`), for emulators that run an image as a folder. */
  buildContexts(variants: string[], packageRoot?: string): Map<string, string>;
  stop(): Promise<void>;
}

/** The smoke test every deploy test runs: one question, an answer holding `contains`. */
function smokeYaml(contains: string): string {
  return `tests:\n  - name: answers\n    request: {question: hello}\n    expect:\n      values:\n        - {path: $.answer, contains: ${JSON.stringify(contains)}}\n`;
}

export async function startDeployBase(o: { llmKey: string; smokeContains?: string }): Promise<DeployBase> {
  const uc = deployUseCase({ 'smoke.yaml': smokeYaml(o.smokeContains ?? 'user: ') });
  const saved = { base: process.env.AOAI_API_BASE, key: process.env.AOAI_API_KEY };
  const model = await startModelServer({});
  process.env.AOAI_API_BASE = model.url;
  process.env.AOAI_API_KEY = o.llmKey;
  const logs: string[] = [];
  const useCase = () =>
    loadUseCase({ configPath: path.join(uc.dir, 'experiment.yaml'), host: new MemoryHost(), needs: 'deploy' });
  return {
    model,
    dir: uc.dir,
    stateDir: path.join(uc.dir, '.llmops'),
    logs,
    log: (l) => logs.push(l),
    useCase,
    smoke: () => loadSmokeTests(path.join(uc.dir, 'smoke.yaml')),
    buildContexts: (variants, packageRoot) => {
      const loaded = useCase();
      const dirs = new Map<string, string>();
      for (const v of variants) {
        const dir = path.join(uc.dir, 'images', v);
        writeBuildContext({
          flow: loaded.flow.model,
          output: dir,
          variants: [`\${chat.${v}}`],
          connections: loaded.connections,
          ...(packageRoot ? { packageRoot } : {}),
        });
        dirs.set(v, dir);
      }
      return dirs;
    },
    stop: async () => {
      await model.close();
      process.env.AOAI_API_BASE = saved.base;
      process.env.AOAI_API_KEY = saved.key;
      uc.cleanup();
    },
  };
}

/** The test service principal signed in against the emulator's loopback Entra ID. */
async function signIn(arm: ArmEmulator): Promise<TokenCredential> {
  const { credential } = await createAzureCredential(
    { override: 'secret', ...TEST_CLIENT, authorityHost: arm.entra.url },
    {},
  );
  return credential;
}

/** Stops what started, last first, even when the start failed halfway (beforeAll then has no fixture to stop). */
async function startOrStop<T>(stops: (() => Promise<void>)[], start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw e;
  }
}

export interface AzureMlFixture extends DeployBase {
  arm: ArmEmulator;
  azurite: Azurite;
  endpoints: EndpointsEmulator;
  ws: MlWorkspace;
}

/** An Azure ML workspace: Azurite holding its datastore, online endpoints whose deployments run `llmops flow serve`. */
export async function startAzureMl(o: {
  llmKey: string;
  container: string;
  arm?: Omit<ArmOptions, 'datastore'>;
  /** Secrets the workspace client masks. */
  mask?: (secret: string) => void;
}): Promise<AzureMlFixture> {
  const base = await startDeployBase(o);
  const stops = [base.stop];
  return startOrStop(stops, async () => {
    const azurite = await Azurite.start();
    stops.push(() => azurite.stop());
    const blob = await import('@azure/storage-blob');
    await new blob.BlobServiceClient(azurite.directUrl, new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY))
      .getContainerClient(o.container)
      .create();
    const arm = await ArmEmulator.start({
      datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: o.container },
      ...o.arm,
    });
    stops.push(() => arm.stop());
    const endpoints = await EndpointsEmulator.attach(arm, {
      blobEndpoint: azurite.directUrl,
      command: [process.execPath, path.resolve('dist/cli.js')],
      // The workspace connection the deployment's ${{azureml://connections/aoai/credentials/api_key}} reads.
      connections: { aoai: { api_key: o.llmKey, api_base: base.model.url } },
    });
    stops.push(() => endpoints.stop());
    const credential = await signIn(arm);
    const w = arm.workspaces[0];
    const settings: AzureSettings = {
      subscriptionId: w.subscriptionId,
      resourceGroup: w.resourceGroup,
      workspace: w.name,
      cloud: 'AzurePublicCloud',
      resourceManager: arm.url,
      authorityHost: arm.entra.url,
      customAuthority: true,
      storageSuffix: 'core.windows.net',
      blobEndpoint: azurite.url,
    };
    const client = new ArmClient({ endpoint: arm.url, credential, retryDelayMs: 5, pollIntervalMs: 10 });
    const ws = new MlWorkspace(client, settings, credential, o.mask ?? (() => undefined));
    return {
      ...base,
      arm,
      azurite,
      endpoints,
      ws,
      stop: async () => {
        for (const stop of stops.reverse()) await stop();
      },
    };
  });
}

export interface WebAppFixture extends DeployBase {
  arm: ArmEmulator;
  web: WebAppsEmulator;
  acr: AcrEmulator;
  client: WebSiteManagementClient;
  credential: TokenCredential;
  /** Image → the build context its container runs (ACR runs add theirs; a test may add a broken one). */
  images: Map<string, string>;
  /** What the step gives deploy to build the serving image: an ACR run in the entry's registry. */
  ensureImage(entry: WebAppEntry): NonNullable<WebAppDeployOptions['ensureImage']>;
}

/** App Service with an existing web app (the app reads the LLM key and base from Key Vault) and an ACR. */
export async function startWebApp(o: {
  llmKey: string;
  site: { resourceGroup: string; name: string; plan?: string };
  /** Specs beside Microsoft.Web and ACR's. */
  specs?: ArmOptions['specs'];
}): Promise<WebAppFixture> {
  const base = await startDeployBase(o);
  const stops = [base.stop];
  return startOrStop(stops, async () => {
    const images = new Map<string, string>();
    const arm = await ArmEmulator.start({
      datastore: { accountName: 'unused', accountKey: 'dW51c2Vk', containerName: 'unused' },
      specs: [WEB_SPEC, ACR_SPEC, ...(o.specs ?? [])],
    });
    stops.push(() => arm.stop());
    // The app reads the LLM key from Key Vault (its setting is a Key Vault reference), never from a setting value.
    const web = WebAppsEmulator.attach(arm, {
      images,
      keyVault: { 'AOAI-API-KEY': o.llmKey, 'AOAI-API-BASE': base.model.url },
    });
    stops.push(() => web.stop());
    const acr = await AcrEmulator.attach(arm, images);
    stops.push(() => acr.stop());
    await web.createSite(o.site.resourceGroup, o.site.name, ...(o.site.plan ? [o.site.plan] : []));
    const credential = await signIn(arm);
    const subscriptionId = arm.workspaces[0].subscriptionId;
    const acrClient = new ArmClient({
      endpoint: arm.url,
      credential,
      apiVersion: ACR_TASKS_API_VERSION,
      retryDelayMs: 5,
      pollIntervalMs: 10,
    });
    return {
      ...base,
      arm,
      web,
      acr,
      credential,
      images,
      client: webSiteClient(credential, subscriptionId, arm.url, 5),
      ensureImage: (entry) => async (c) =>
        (
          await ensureImage({
            client: acrClient,
            registry: { subscriptionId, resourceGroup: entry.registryResourceGroup, name: entry.registryName },
            repository: c.repository,
            contextDir: c.dir,
            contextHash: c.hash,
            dryRun: c.dryRun,
            pollMs: 10,
            log: base.log,
          })
        ).image,
      stop: async () => {
        for (const stop of stops.reverse()) await stop();
      },
    };
  });
}

export interface KubernetesFixture extends DeployBase {
  cluster: KubeCluster;
  client: KubeClient;
}

/** A cluster with Gateway `infra/public`, whose pods run the flow's serving context of each variant's image. */
export async function startKubernetes(o: {
  llmKey: string;
  smokeContains?: string;
  /** Image reference of each variant (v0, v1). */
  image: (variant: string) => string;
}): Promise<KubernetesFixture> {
  const base = await startDeployBase(o);
  return startOrStop([base.stop], async () => {
    const images = new Map([...base.buildContexts(['v0', 'v1'])].map(([v, dir]) => [o.image(v), dir]));
    const cluster = await KubeCluster.start({
      images,
      env: { PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` },
    });
    cluster.createGateway('infra', 'public');
    return {
      ...base,
      cluster,
      client: KubeClient.load(cluster.kubeconfig, { backoffMs: 5 }),
      stop: async () => {
        await cluster.stop();
        await base.stop();
      },
    };
  });
}

export interface ContainerAppsFixture extends DeployBase {
  arm: ArmEmulator;
  aca: ContainerAppsEmulator;
  client: ContainerAppsAPIClient;
  /** Reaches the apps' `*.<APP_DOMAIN>` URLs on the emulator's ingress. */
  appFetch: typeof fetch;
}

/** A Container Apps environment whose revisions run each variant's image; the LLM key and base in Key Vault. */
export async function startContainerApps(o: {
  llmKey: string;
  image: (variant: string) => string;
  variants: string[];
  /** Key Vault secret URLs holding the LLM key and base. */
  keyVault: { key: string; base: string };
}): Promise<ContainerAppsFixture> {
  const base = await startDeployBase(o);
  const stops = [base.stop];
  return startOrStop(stops, async () => {
    const arm = await ArmEmulator.start({
      datastore: { accountName: 'unused', accountKey: 'dW51c2Vk', containerName: 'unused' },
      specs: [APP_SPEC],
      certificateNames: [`*.${APP_DOMAIN}`],
      lroPolls: 1,
    });
    stops.push(() => arm.stop());
    const contexts = base.buildContexts(o.variants, path.resolve('.'));
    const aca = await ContainerAppsEmulator.attach(arm, {
      images: new Map([...contexts].map(([v, dir]) => [o.image(v), dir])),
      keyVaultSecrets: { [o.keyVault.key]: o.llmKey, [o.keyVault.base]: base.model.url },
    });
    stops.push(() => aca.stop());
    const credential = await signIn(arm);
    return {
      ...base,
      arm,
      aca,
      client: new ContainerAppsAPIClient(credential, arm.workspaces[0].subscriptionId, {
        endpoint: arm.url,
        credentials: { scopes: [`${arm.url}/.default`] },
        retryOptions: { retryDelayInMs: 5, maxRetryDelayInMs: 50 },
      }),
      appFetch: containerAppFetch({ LLMOPS_CONTAINER_APPS_CONNECT_TO: `127.0.0.1:${aca.ingressPort}` }),
      stop: async () => {
        for (const stop of stops.reverse()) await stop();
      },
    };
  });
}
