/**
 * `smoke-test`: sends the use case's sample requests (or a tests YAML file with expectations) to an endpoint and
 * fails (exit 1) when an answer does not meet them — status, JSON Schema, values, latency percentiles. The seed
 * template's smoke tests only logged the answer.
 */
import path from 'node:path';
import { azureSettings } from '../azure/settings.js';
import { azureEndpointEntry } from '../config/deployment.js';
import type { UseCase } from '../config/types.js';
import { loadUseCase } from '../config/use-case.js';
import type { Host } from '../host/host.js';
import {
  deploymentName,
  liveEndpoint,
  readState,
  runSmokeTests,
  stateFile,
  smokeJUnit,
  smokeMarkdown,
  suiteForUseCase,
} from '../deploy/index.js';
import { ConfigError, GateFailed, ServiceError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { useCaseInputs } from './common-inputs.js';
import type { StepDefinition } from './declare.js';
import { deploymentConfigFile } from './deploy-remote.js';

export interface SmokeTestInputs {
  config: string;
  env?: string;
  endpoint?: string;
  keyEnv?: string;
  tests?: string;
  stateDir: string;
  junitFile: string;
  warmupSeconds?: number;
  target?: string;
  deployment?: string;
  kubeconfig?: string;
}

export interface SmokeTestOutputs {
  passed: boolean;
  endpoint: string;
}

export const smokeTestStep: StepDefinition<SmokeTestInputs, SmokeTestOutputs> = {
  name: 'smoke-test',
  description:
    'Send sample requests to a deployed endpoint and check status, response schema, expected values and latency; any failure fails the step.',
  inputs: [
    ...useCaseInputs,
    {
      name: 'endpoint',
      type: 'string',
      description: 'Scoring URL (default: the live local deployment of this use case and env).',
    },
    {
      name: 'key-env',
      type: 'string',
      description: 'Environment variable holding the endpoint key (sent as Authorization: Bearer).',
    },
    {
      name: 'tests',
      type: 'path',
      description:
        'Smoke tests YAML (schemas/smoke-tests.schema.json). Default: TEST_FILE_PATH of deployment_config.json for the env, else sample-request.json.',
    },
    { name: 'state-dir', type: 'path', default: '.llmops', description: 'Where local deployments are recorded.' },
    {
      name: 'junit-file',
      type: 'path',
      default: '.llmops/reports/smoke-test.junit.xml',
      description: 'JUnit XML result file.',
    },
    {
      name: 'warmup-seconds',
      type: 'number',
      description:
        'How long to retry while the endpoint warms up (connection refused, 502-504). Default: the tests file value, else 60.',
    },
    {
      name: 'target',
      type: 'choice',
      choices: ['local', 'azure-managed', 'azure-kubernetes', 'kubernetes', 'webapp', 'container-app'],
      default: 'local',
      description:
        "Where the endpoint is: local, the Azure ML online endpoint of the env's azure_managed_endpoint / kubernetes_endpoint entry (its key read with listKeys, or an Entra token), the Gateway of the env's kubernetes entry, the App Service web app of its webapp_endpoint entry, or the Azure Container App of its container_app_endpoint entry.",
    },
    {
      name: 'deployment',
      type: 'string',
      description:
        'Azure targets: test this deployment alone (azureml-model-deployment header), whatever its traffic share (default: the traffic split). kubernetes: a colour (blue, green) or <NAME>-<colour>, reached with the x-llmops-colour header. webapp: a deployment slot, tested on its own hostname. container-app: a revision, through its own URL.',
    },
    {
      name: 'kubeconfig',
      type: 'path',
      description: 'Target kubernetes: the kubeconfig of the cluster (default: KUBECONFIG, else ~/.kube/config).',
    },
  ],
  outputs: [
    { name: 'passed', description: 'true when every smoke test passed.' },
    { name: 'endpoint', description: 'The scoring URL tested.' },
  ],
  async run(inputs, host) {
    // A local deployment reads nothing of deployment_config.json but TEST_FILE_PATH: the template's empty Azure and
    // Kubernetes names (problems for those targets) are warnings here, not errors.
    const local = (inputs.target ?? 'local') === 'local';
    const useCase = loadUseCase({
      configPath: inputs.config,
      env: inputs.env,
      host,
      needs: local ? ['experiment'] : 'smoke-test',
    });
    const suite = suiteForUseCase(useCase, inputs.tests);
    if (inputs.warmupSeconds !== undefined) suite.warmupMs = inputs.warmupSeconds * 1000;
    const name = deploymentName(useCase.name, useCase.envName);
    if (inputs.deployment && local)
      throw ConfigError.at(
        { file: 'input "deployment"' },
        'found a deployment with target local; expected target azure-managed or azure-kubernetes',
      );
    let endpoint =
      inputs.endpoint ??
      (inputs.target === undefined || inputs.target === 'local' ? liveEndpoint(inputs.stateDir, name) : undefined);
    let apiKey: string | undefined;
    if (inputs.target === 'webapp') {
      const { webAppScoringUrl } = await import('./deploy-webapp.js');
      endpoint = inputs.endpoint ?? (await webAppScoringUrl(useCase, host, inputs.deployment));
    }
    if (inputs.target === 'azure-managed' || inputs.target === 'azure-kubernetes') {
      const azure = await azureEndpoint(useCase, inputs.target, host);
      endpoint = inputs.endpoint ?? azure.scoringUri;
      apiKey = azure.apiKey;
      if (inputs.deployment && !(inputs.deployment in azure.traffic))
        host.info(
          `${inputs.deployment} receives no traffic now (${JSON.stringify(azure.traffic)}); tested alone through the header`,
        );
    }
    let doFetch: typeof fetch | undefined;
    let headers: Record<string, string> | undefined;
    if (inputs.target === 'container-app') {
      const { containerAppSmokeTarget } = await import('./deploy-container-app.js');
      const app = await containerAppSmokeTarget(useCase, host, inputs.deployment);
      endpoint = inputs.endpoint ?? app.url;
      doFetch = app.fetch;
    }
    if (inputs.target === 'kubernetes') {
      const k8s = await kubernetesEndpoint(useCase, inputs, host);
      endpoint = inputs.endpoint ?? k8s.endpoint;
      headers = k8s.headers;
    }
    if (!endpoint) {
      // A deployment that was made but whose server is gone is an outside failure (exit 3), not bad input.
      const recorded = readState(inputs.stateDir, name);
      if (recorded)
        throw new ServiceError(
          `smoke test: local deployment ${name} is recorded at ${recorded.live.url} (${stateFile(inputs.stateDir, name)}), but its server (pid ${recorded.live.pid}) is not running; deploy again or pass --endpoint`,
        );
    }
    if (!endpoint)
      throw ConfigError.at(
        { file: 'input "endpoint"' },
        `no endpoint given and no live local deployment ${name} in ${path.join(inputs.stateDir, 'deploy')}; expected --endpoint <scoring URL>`,
      );
    if (inputs.keyEnv) {
      apiKey = useCase.variable(inputs.keyEnv);
      if (!apiKey)
        throw ConfigError.at(
          { file: 'input "key-env"' },
          `environment variable ${inputs.keyEnv} is not set or empty (looked in the environment and in .env at the repository root); expected the endpoint key`,
        );
      host.mask(apiKey);
    }
    const result = await runSmokeTests(suite, {
      endpoint,
      apiKey,
      headers:
        headers ?? (inputs.deployment && !doFetch ? { 'azureml-model-deployment': inputs.deployment } : undefined),
      fetch: doFetch,
    });
    for (const t of result.tests) {
      if (t.passed) host.info(`pass  ${t.name} (${t.status}, ${(t.p50Ms ?? t.latenciesMs[0] ?? 0).toFixed(1)} ms)`);
      else for (const f of t.failures) host.error(`fail  ${t.name}: ${f}`, t.at);
    }
    writeFileAtomic(inputs.junitFile, smokeJUnit(result));
    await host.appendSummary(smokeMarkdown(result));
    host.setOutput('passed', String(result.passed));
    host.setOutput('endpoint', result.endpoint);
    if (!result.passed) {
      const failed = result.tests.filter((t) => !t.passed);
      throw new GateFailed(
        `smoke test failed: ${failed.length} of ${result.tests.length} tests against ${result.endpoint}`,
        failed.flatMap((t) => t.failures.map((f) => `${t.name}: ${f}`)),
      );
    }
    return { passed: true, endpoint: result.endpoint };
  },
};

/** The scoring URI and key of the env's Azure ML online endpoint (deployment_config.json). */
async function azureEndpoint(useCase: UseCase, target: 'azure-managed' | 'azure-kubernetes', host: Host) {
  const file = deploymentConfigFile(useCase);
  const array = target === 'azure-managed' ? 'azure_managed_endpoint' : 'kubernetes_endpoint';
  const entry = azureEndpointEntry(useCase.deployment, array, useCase.envName, file);
  const settings = azureSettings(useCase, `smoke-test --target ${target} reads the endpoint from it`);
  // Loaded only for Azure targets: local smoke tests never load the Azure HTTP pipeline.
  const { openWorkspace } = await import('../azure/workspace.js');
  const { azureScoring } = await import('../deploy/azure-deploy.js');
  const ws = await openWorkspace(settings, host.azureAuth?.() ?? {}, {
    log: (m) => host.info(m),
    mask: (secret) => host.mask(secret),
  });
  return azureScoring(ws, target, entry, (s) => host.mask(s));
}

/** The Gateway URL of the env's `kubernetes` entry; `--deployment` names a colour reached with its header. */
async function kubernetesEndpoint(useCase: UseCase, inputs: SmokeTestInputs, host: Host) {
  const { kubernetesEntryOf } = await import('./deploy-kubernetes.js');
  const entry = kubernetesEntryOf(useCase);
  // Loaded only for this target: other smoke tests never load the Kubernetes client.
  const { KubeClient } = await import('../deploy/kubernetes-client.js');
  const { kubernetesScoring } = await import('../deploy/kubernetes-deploy.js');
  const { COLOUR_HEADER, COLOURS } = await import('../deploy/kubernetes-manifests.js');
  const client = KubeClient.load(inputs.kubeconfig);
  const { url, traffic } = await kubernetesScoring(client, entry);
  let headers: Record<string, string> | undefined;
  if (inputs.deployment) {
    const colour = COLOURS.find((c) => inputs.deployment === c || inputs.deployment === `${entry.name}-${c}`);
    if (!colour)
      throw ConfigError.at(
        { file: 'input "deployment"' },
        `found ${inputs.deployment}; expected blue, green, ${entry.name}-blue or ${entry.name}-green`,
      );
    if (!traffic[`${entry.name}-${colour}`])
      host.info(`${entry.name}-${colour} receives no traffic now; tested alone through ${COLOUR_HEADER}`);
    headers = { [COLOUR_HEADER]: colour };
  }
  return { endpoint: `${url}/score`, headers };
}
