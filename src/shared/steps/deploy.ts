/**
 * `deploy`: deploys the use case's flow to a target. `local` runs `llmops flow serve` in the background and
 * replaces it blue/green (new server up, smoke-tested, then switched; a failing new server leaves the old one
 * serving). The live URL is the `endpoint` output and `<state-dir>/deploy/<experiment>-<env>.json`.
 * `--list` shows every local deployment recorded under the state dir; `--stop` stops one.
 */
import { loadUseCase } from '../config/use-case.js';
import { deployLocal, deploymentName, smokeMarkdown, stopLocalDeployment, suiteForUseCase } from '../deploy/index.js';
import { listLocalDeployments, type LocalDeploymentListing } from '../deploy/local.js';
import { readState } from '../deploy/state.js';
import { deployLocalInStages } from './deploy-local-staged.js';
import { ConfigError } from '../errors.js';
import type { Host } from '../host/host.js';
import { useCaseInputs } from './common-inputs.js';
import { deployAzure, isAzureTarget } from './deploy-azure.js';
import { deployWebApp } from './deploy-webapp.js';
import { deployContainerApp } from './deploy-container-app.js';
import { deployKubernetes } from './deploy-kubernetes.js';
import type { StepDefinition } from './declare.js';

export interface DeployInputs {
  config: string;
  env?: string;
  target: string;
  variant?: string;
  port?: number;
  stateDir: string;
  tests?: string;
  apiKeyEnv?: string;
  list?: boolean;
  stop?: boolean;
  name?: string;
  dryRun?: boolean;
  rollback?: boolean;
  image?: string;
  trafficSteps?: string;
  keep?: number;
  location?: string;
  mirrorPercent?: number;
  maxErrorRate?: number;
  maxP95Ms?: number;
  probeRequests?: number;
  kubeconfig?: string;
  promoteWhen?: string;
  promoteLog?: string;
  promoteMargin?: string;
  promoteMinRequests?: number;
}

export interface DeployOutputs {
  /** Empty for --list and --stop. */
  endpoint: string;
  /** Empty for --list. */
  deploymentName: string;
  deployments: LocalDeploymentListing[];
  /** Targets other than local: the live traffic map after the step (JSON). */
  traffic?: string;
}

export const DEPLOY_TARGETS = [
  'local',
  'azure-managed',
  'azure-kubernetes',
  'kubernetes',
  'webapp',
  'container-app',
] as const;

export const deployStep: StepDefinition<DeployInputs, DeployOutputs> = {
  name: 'deploy',
  description:
    'Deploy the use case flow. Target local: a background `llmops flow serve`, replaced blue/green after the new server passes its smoke test. Other targets (Azure ML online endpoints, Kubernetes with Gateway API, App Service, Container Apps): the new version smoke-tested alone, then given traffic in stages with checks between them; any failure restores the exact prior traffic.',
  inputs: [
    ...useCaseInputs,
    {
      name: 'target',
      type: 'choice',
      choices: DEPLOY_TARGETS,
      default: 'local',
      description:
        'Where to deploy: local, azure-managed (deployment_config.json azure_managed_endpoint), azure-kubernetes (kubernetes_endpoint), kubernetes (kubernetes: any cluster, Gateway API HTTPRoute weights), webapp (webapp_endpoint: App Service, a staging slot, rampUpRules in stages, then a swap) or container-app (container_app_endpoint: an Azure Container App, a new labelled revision given traffic in stages).',
    },
    {
      name: 'variant',
      type: 'string',
      description: "Variants to deploy, comma-separated '${node.variant_id}' (default: the flow's defaults).",
    },
    {
      name: 'port',
      type: 'integer',
      description:
        'Preferred port of the local server, or of its traffic split when it has one (default: any free port; the live URL is the endpoint output).',
    },
    {
      name: 'state-dir',
      type: 'path',
      default: '.llmops',
      description: 'Where deployments are recorded (<state-dir>/deploy/<experiment>-<env>.json) and logged.',
    },
    {
      name: 'tests',
      type: 'path',
      description: 'Smoke tests YAML the new deployment must pass (default: the sample request of the use case).',
    },
    {
      name: 'api-key-env',
      type: 'string',
      description: 'Environment variable holding the API key the local server requires (optional).',
    },
    {
      name: 'list',
      type: 'boolean',
      default: 'false',
      description:
        'Only list the local deployments recorded under state-dir (name, status, endpoint, pid); deploys nothing.',
    },
    {
      name: 'stop',
      type: 'boolean',
      default: 'false',
      description:
        "Stop a local deployment (its server and its record) instead of deploying: the use case's <experiment>-<env>, or the one given by name.",
    },
    {
      name: 'name',
      type: 'string',
      description: 'Deployment to stop, as --list shows it (default: <experiment>-<env> of the use case).',
    },
    {
      name: 'dry-run',
      type: 'boolean',
      default: 'false',
      description:
        'Targets other than local: print the rollout plan (what would be built, registered or applied, and the traffic stages) and change nothing.',
    },
    {
      name: 'rollback',
      type: 'boolean',
      default: 'false',
      description:
        'Targets other than local: put back the traffic map from before the last rollout recorded under state-dir (refused if someone changed the traffic since).',
    },
    {
      name: 'image',
      type: 'string',
      description:
        "Targets other than local: container image to run (azure-*: default our serving image, built by Azure ML from the flow's build context; webapp, kubernetes, container-app: this or the entry's IMAGE, else built by an ACR build task in the entry's REGISTRY_NAME from the flow's build context, tagged by content hash).",
    },
    {
      name: 'traffic-steps',
      type: 'string',
      default: '10,50',
      description:
        "The new version's traffic share at each stage before the final one (CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION), comma-separated (local: with a traffic split, see promote-when).",
    },
    {
      name: 'keep',
      type: 'integer',
      default: '2',
      description:
        'Targets other than local: versions kept after a successful rollout (the serving ones always are; kubernetes: 2 keeps the old colour at 0%, 1 deletes it); container-app: revisions kept active, unless the entry sets KEEP_REVISIONS.',
    },
    {
      name: 'location',
      type: 'string',
      description:
        "Azure targets: region of a new endpoint (default: the workspace's); container-app: of a new app, unless the entry sets LOCATION (default: the environment's).",
    },
    {
      name: 'mirror-percent',
      type: 'integer',
      description:
        'Azure ML managed endpoints and kubernetes (a Gateway API RequestMirror filter): before any live traffic, copy this share (1-50) of live requests to the new deployment, responses discarded, and check it (default: deployment_config.json MIRROR_TRAFFIC_PERCENT, else no mirror stage).',
    },
    {
      name: 'promote-when',
      type: 'string',
      description:
        'At each traffic stage, compare the new version with the prior one on the requests each answered during the stage (llmops monitor --compare) and go on only when it is better or not-worse; else roll back. Other targets need promote-log; local puts blue and green behind a loopback traffic split (its URL the endpoint from then on) and reads the request logs they write.',
    },
    {
      name: 'promote-log',
      type: 'string',
      description:
        "With promote-when: request logs (files or folders, comma-separated) the versions write, each line naming the version that answered as the rollout names it (LLMOPS_DEPLOYMENT; azure-*: set to the deployment's name; local: default the two colours' own logs).",
    },
    {
      name: 'promote-margin',
      type: 'string',
      default: '0.05',
      description:
        'With promote-when: how much worse still counts as not worse: a share for rates (0.02 = 2 points), relative for latency and means; or latency=0.1,error_rate=0.01,feedback=0.05.',
    },
    {
      name: 'promote-min-requests',
      type: 'integer',
      default: '30',
      description:
        'With promote-when: requests each version must answer during a stage (a stage waits up to 10 minutes for them; fewer is inconclusive and rolls back).',
    },
    {
      name: 'max-error-rate',
      type: 'number',
      description:
        "Azure ML targets: largest share (0-1) of the new deployment's requests that may fail (5xx or no answer) at a stage; else the rollout is rolled back (default: MAX_ERROR_RATE, else 0.01).",
    },
    {
      name: 'max-p95-ms',
      type: 'integer',
      description:
        "Azure ML targets: largest p95 latency (ms) of the new deployment's requests at a stage (default: MAX_P95_LATENCY_MS, else no limit).",
    },
    {
      name: 'probe-requests',
      type: 'integer',
      default: '20',
      description:
        'Azure ML targets: requests sent through the endpoint at each stage (the smoke requests, cycled), beside the smoke tests, to measure the new deployment under the split.',
    },
    {
      name: 'kubeconfig',
      type: 'path',
      description:
        'Target kubernetes: the kubeconfig of the cluster (default: KUBECONFIG, else ~/.kube/config or the in-cluster account).',
    },
  ],
  outputs: [
    { name: 'endpoint', description: 'Scoring URL of the live deployment (empty with list or stop).' },
    {
      name: 'deployment-name',
      description:
        '<experiment>-<env>: the deployment (and state file) name (the stopped one with stop; empty with list). Other targets: the version that was rolled out (Azure ML deployment, colour, image or revision).',
    },
    {
      name: 'deployments',
      description:
        'JSON array of the local deployments recorded after the step: name, target, status (running/stopped), endpoint, slot, pid, flow, variant, startedAt, logFile.',
    },
    {
      name: 'traffic',
      description:
        "JSON traffic map after the step (version → percent); local: the traffic split's weights (colour → percent), empty without a split.",
    },
  ],
  async run(inputs, host) {
    if (inputs.list && inputs.stop)
      throw ConfigError.at({ file: 'input "stop"' }, 'found both list and stop; expected one of them');
    if (inputs.name && !inputs.stop)
      throw ConfigError.at(
        { file: 'input "name"' },
        'found a name without stop; expected stop: true (name says which deployment to stop)',
      );
    if (inputs.list) return listDeployments(inputs.stateDir, host);
    if (isAzureTarget(inputs.target)) return deployAzure({ ...inputs, target: inputs.target }, host);
    if (inputs.target === 'webapp') return deployWebApp(inputs, host);
    if (inputs.target === 'container-app') return deployContainerApp(inputs, host);
    if (inputs.target === 'kubernetes') return deployKubernetes(inputs, host);
    if (inputs.dryRun || inputs.rollback)
      throw ConfigError.at(
        { file: `input "${inputs.dryRun ? 'dry-run' : 'rollback'}"` },
        `found it with target ${inputs.target}; expected a target other than local (${DEPLOY_TARGETS.slice(1).join(', ')})`,
      );
    if (inputs.target !== 'local') {
      throw ConfigError.at(
        { file: 'input "target"' },
        `found target ${inputs.target}; expected one of: ${DEPLOY_TARGETS.join(', ')}`,
      );
    }
    if (inputs.stop) return stopDeployment(inputs, host);
    // The local target reads nothing of deployment_config.json but TEST_FILE_PATH: the template's empty Azure and
    // Kubernetes names (problems for those targets) are warnings here, not errors.
    const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: ['experiment', 'runtime'] });
    if (useCase.flow.kind === 'http')
      throw ConfigError.at(
        useCase.locationOf(['flow']),
        'flow: is an http target, an endpoint that is already deployed; expected a flow folder to deploy (evaluate the endpoint with bulk-run, compare it with parity)',
      );
    const name = deploymentName(useCase.name, useCase.envName);
    const smoke = suiteForUseCase(useCase, inputs.tests);
    // Read like every other variable a step reads: CI's environment, then .env at the repository root.
    const apiKey = inputs.apiKeyEnv ? useCase.variable(inputs.apiKeyEnv) : undefined;
    if (inputs.apiKeyEnv && !apiKey)
      throw ConfigError.at(
        { file: 'input "api-key-env"' },
        `environment variable ${inputs.apiKeyEnv} is not set or empty (looked in the environment and in .env at the repository root); expected the API key callers must send`,
      );
    if (apiKey) host.mask(apiKey);
    const variants = variantList(inputs.variant);
    // What a plain local deployment and a staged one (behind a traffic split) both take.
    const local = {
      name,
      stateDir: inputs.stateDir,
      config: inputs.config,
      env: useCase.envName,
      variants,
      port: inputs.port,
      smoke,
      apiKeyEnv: inputs.apiKeyEnv,
      apiKey,
      log: (l: string) => host.info(l),
    };
    if (inputs.promoteWhen?.trim() || readState(inputs.stateDir, name)?.split) {
      const staged = await deployLocalInStages(inputs, host, local);
      const out = publish(host, staged.endpoint, name, listLocalDeployments(inputs.stateDir));
      // publish leaves traffic empty (a plain local deployment has none); a split's weights are its traffic.
      host.setOutput('traffic', JSON.stringify(staged.traffic));
      return { ...out, traffic: JSON.stringify(staged.traffic) };
    }
    let result;
    try {
      result = await deployLocal(local);
    } catch (e) {
      const r = (e as { smoke?: Parameters<typeof smokeMarkdown>[0] }).smoke;
      if (r) await host.appendSummary(`## Deploy ${name} (local): new deployment rejected\n\n${smokeMarkdown(r)}`);
      throw e;
    }
    host.info(
      `${name} is live at ${result.endpoint}${result.replaced ? ` (replaced ${result.replaced.slot} pid ${result.replaced.pid})` : ''}`,
    );
    await host.appendSummary(
      `## Deploy ${name} (local)\n\nLive: \`${result.endpoint}\` (${result.state.live.slot}, pid ${result.state.live.pid})\n\n${smokeMarkdown(result.smoke)}`,
    );
    return publish(host, result.endpoint, name, listLocalDeployments(inputs.stateDir));
  },
};

/** `--variant` may name several `${node.variant}` references, comma-separated. */
export function variantList(variant: string | undefined): string[] {
  return variant
    ? variant
        .split(/,(?=\s*\$\{)/)
        .map((v) => v.trim())
        .filter(Boolean)
    : [];
}

function publish(
  host: Host,
  endpoint: string,
  deploymentName: string,
  deployments: LocalDeploymentListing[],
): DeployOutputs {
  host.setOutput('endpoint', endpoint);
  host.setOutput('deployment-name', deploymentName);
  host.setOutput('deployments', JSON.stringify(deployments));
  // Every declared output is set (CI reads them all); traffic belongs to the other targets.
  host.setOutput('traffic', '');
  return { endpoint, deploymentName, deployments };
}

/** One line per deployment in the log, a table in the summary, the JSON array as the output. */
async function listDeployments(stateDir: string, host: Host): Promise<DeployOutputs> {
  const deployments = listLocalDeployments(stateDir);
  if (deployments.length === 0) host.info(`no local deployments recorded under ${stateDir}`);
  // A deployment with a traffic split: each colour serving, with its share.
  const colours = (d: LocalDeploymentListing) =>
    d.colours?.map((c) => `${c.slot} ${c.weight}% pid ${c.pid}${c.status === 'running' ? '' : ' stopped'}`).join(', ');
  for (const d of deployments)
    host.info(
      `${d.name}  ${d.status}  ${d.endpoint}  ${d.colours ? `split: ${colours(d)}` : `pid ${d.pid} (${d.slot})`}  since ${d.startedAt}`,
    );
  const rows = deployments.map(
    (d) =>
      `| ${d.name} | ${d.status} | \`${d.endpoint}\` | ${d.pid} | ${d.colours ? colours(d) : d.slot} | ${d.startedAt} |`,
  );
  await host.appendSummary(
    `## Local deployments (${stateDir})\n\n${rows.length ? `| name | status | endpoint | pid | slot | since |\n|---|---|---|---:|---|---|\n${rows.join('\n')}\n` : 'None.\n'}`,
  );
  return publish(host, '', '', deployments);
}

/**
 * Stops the deployment given by name, or the use case's own. Only its name and env are read from the config: a
 * teardown job without the flow's secrets, or with an unfinished deployment_config.json, can still stop it.
 */
async function stopDeployment(inputs: DeployInputs, host: Host): Promise<DeployOutputs> {
  let name = inputs.name;
  if (!name) {
    const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: ['experiment'] });
    name = deploymentName(useCase.name, useCase.envName);
  }
  const known = listLocalDeployments(inputs.stateDir);
  const found = known.find((d) => d.name === name);
  if (!found) {
    const names = known.map((d) => d.name).join(', ') || 'none';
    throw ConfigError.at(
      { file: inputs.name ? 'input "name"' : 'input "config"' },
      `found no local deployment named ${name} under ${inputs.stateDir}; expected one of: ${names}`,
    );
  }
  await stopLocalDeployment(inputs.stateDir, name);
  host.info(
    `stopped ${name} (${found.status === 'running' ? `pid ${found.pid}, ${found.endpoint}` : 'its server had already exited'}); record removed`,
  );
  await host.appendSummary(
    `## Deploy ${name} (local): stopped\n\nWas \`${found.endpoint}\` (${found.slot}, pid ${found.pid}, ${found.status}).\n`,
  );
  return publish(host, '', name, listLocalDeployments(inputs.stateDir));
}
