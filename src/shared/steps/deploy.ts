/**
 * `deploy`: deploys the use case's flow to a target. `local` runs `llmops flow serve` in the background and
 * replaces it blue/green (new server up, smoke-tested, then switched; a failing new server leaves the old one
 * serving). The live URL is the `endpoint` output and `<state-dir>/deploy/<experiment>-<env>.json`.
 */
import { loadUseCase } from '../config/use-case.js';
import { deployLocal, deploymentName, smokeMarkdown, suiteForUseCase } from '../deploy/index.js';
import { ConfigError } from '../errors.js';
import { useCaseInputs } from './common-inputs.js';
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
}

export interface DeployOutputs {
  endpoint: string;
  deploymentName: string;
}

export const DEPLOY_TARGETS = ['local', 'azure-managed', 'kubernetes', 'webapp'] as const;

export const deployStep: StepDefinition<DeployInputs, DeployOutputs> = {
  name: 'deploy',
  description: 'Deploy the use case flow. Target local: a background `llmops flow serve`, replaced blue/green after the new server passes its smoke test.',
  inputs: [
    ...useCaseInputs,
    { name: 'target', type: 'choice', choices: DEPLOY_TARGETS, default: 'local', description: 'Where to deploy (local now; azure-managed, kubernetes and webapp are not available yet).' },
    { name: 'variant', type: 'string', description: "Variants to deploy, comma-separated '${node.variant_id}' (default: the flow's defaults)." },
    { name: 'port', type: 'integer', description: 'Preferred port of the local server (default: any free port; the live URL is the endpoint output).' },
    { name: 'state-dir', type: 'path', default: '.llmops', description: 'Where deployments are recorded (<state-dir>/deploy/<experiment>-<env>.json) and logged.' },
    { name: 'tests', type: 'path', description: 'Smoke tests YAML the new deployment must pass (default: the sample request of the use case).' },
    { name: 'api-key-env', type: 'string', description: 'Environment variable holding the API key the local server requires (optional).' },
  ],
  outputs: [
    { name: 'endpoint', description: 'Scoring URL of the live deployment.' },
    { name: 'deployment-name', description: '<experiment>-<env>: the deployment (and state file) name.' },
  ],
  async run(inputs, host) {
    if (inputs.target !== 'local') {
      throw ConfigError.at({ file: 'input "target"' }, `target ${inputs.target} is not available yet; expected local (azure-managed, kubernetes and webapp land in a later release)`);
    }
    const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'deploy' });
    const name = deploymentName(useCase.name, useCase.envName);
    const smoke = suiteForUseCase(useCase, inputs.tests);
    // Read like every other variable a step reads: CI's environment, then .env at the repository root.
    const apiKey = inputs.apiKeyEnv ? useCase.variable(inputs.apiKeyEnv) : undefined;
    if (inputs.apiKeyEnv && !apiKey) throw ConfigError.at({ file: 'input "api-key-env"' }, `environment variable ${inputs.apiKeyEnv} is not set or empty (looked in the environment and in .env at the repository root); expected the API key callers must send`);
    if (apiKey) host.mask(apiKey);
    const variants = inputs.variant ? inputs.variant.split(/,(?=\s*\$\{)/).map((v) => v.trim()).filter(Boolean) : [];
    let result;
    try {
      result = await deployLocal({ name, stateDir: inputs.stateDir, config: inputs.config, env: useCase.envName, variants, port: inputs.port, smoke, apiKeyEnv: inputs.apiKeyEnv, apiKey, log: (l) => host.info(l) });
    } catch (e) {
      const r = (e as { smoke?: Parameters<typeof smokeMarkdown>[0] }).smoke;
      if (r) await host.appendSummary(`## Deploy ${name} (local): new deployment rejected\n\n${smokeMarkdown(r)}`);
      throw e;
    }
    host.info(`${name} is live at ${result.endpoint}${result.replaced ? ` (replaced ${result.replaced.slot} pid ${result.replaced.pid})` : ''}`);
    await host.appendSummary(`## Deploy ${name} (local)\n\nLive: \`${result.endpoint}\` (${result.state.live.slot}, pid ${result.state.live.pid})\n\n${smokeMarkdown(result.smoke)}`);
    host.setOutput('endpoint', result.endpoint);
    host.setOutput('deployment-name', name);
    return { endpoint: result.endpoint, deploymentName: name };
  },
};
