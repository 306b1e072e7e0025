/**
 * The demo's hook: deploy a variant of a use case locally, smoke-test it, and hand back a stop function.
 * @module
 */
import { loadUseCase } from '../config/use-case.js';
import { deployLocal, stopLocalDeployment } from './local.js';
import type { SmokeResult } from './smoke-run.js';
import { deploymentName } from './state.js';
import { suiteForUseCase } from './use-case-suite.js';

export interface DemoDeployment {
  name: string;
  endpoint: string;
  smoke: SmokeResult;
  stop(): Promise<void>;
}

/**
 * Deploys `variants` (e.g. the best one, `['${summarize_text_content.variant_1}']`) of the use case at `config`,
 * smoke-tests it with `testsFile` (or the use case's sample request) and returns how to stop it.
 * Throws GateFailed when the smoke test fails (nothing stays running then).
 */
export async function deployAndVerify(o: {
  config: string;
  env?: string;
  variants?: string[];
  stateDir?: string;
  testsFile?: string;
  command?: string[];
  log?: (l: string) => void;
}): Promise<DemoDeployment> {
  const useCase = loadUseCase({ configPath: o.config, env: o.env });
  const name = deploymentName(useCase.name, useCase.envName);
  const stateDir = o.stateDir ?? '.llmops';
  const r = await deployLocal({
    name,
    stateDir,
    config: o.config,
    env: useCase.envName,
    variants: o.variants,
    smoke: suiteForUseCase(useCase, o.testsFile),
    command: o.command,
    log: o.log,
  });
  return {
    name,
    endpoint: r.endpoint,
    smoke: r.smoke,
    stop: async () => void (await stopLocalDeployment(stateDir, name)),
  };
}
