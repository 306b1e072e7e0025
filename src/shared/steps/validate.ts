/** `validate`: load every part of a use case, as the steps do, and say what it holds or which steps each problem blocks. */
import path from 'node:path';
import { loadUseCase } from '../config/use-case.js';
import type { UseCase } from '../config/types.js';
import type { Host } from '../host/host.js';
import type { StepDefinition } from './declare.js';
import { useCaseInputs } from './common-inputs.js';
import { checkFlowPython } from '../engine/index.js';
import { ConfigError, type Problem } from '../errors.js';

/** The Python code of the standard flow and of every evaluation flow: compiles, and (python_requirements: check)
 *  imports only installed modules. Every problem of every flow in one ConfigError. */
async function checkPython(useCase: UseCase): Promise<void> {
  const flows = [useCase.flow.model, ...useCase.evaluators.flatMap((e) => (e.flow ? [e.flow.model] : []))];
  const imports = useCase.execution.pythonRequirements === 'check';
  const problems: Problem[] = [];
  for (const flow of flows) problems.push(...(await checkFlowPython(flow, { imports, python: useCase.execution.python })));
  if (problems.length > 0) throw new ConfigError(problems);
}

export interface ValidateInputs {
  config: string;
  env?: string;
}

export interface ValidateOutputs {
  useCase: UseCase;
}

export const validateStep: StepDefinition<ValidateInputs, ValidateOutputs> = {
  name: 'validate',
  description: 'Check every file of a use case (experiment.yaml, its env overlay, placeholders, flows, datasets, deployment and dataops configs) and say which steps each problem blocks; each step itself stops only on the parts it uses.',
  inputs: useCaseInputs,
  outputs: [
    { name: 'experiment-name', description: 'The experiment name.' },
    { name: 'flow-kind', description: 'dag, flex or prompty.' },
  ],
  async run(inputs: ValidateInputs, host: Host): Promise<ValidateOutputs> {
    const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'all', explainBlocked: true });
    await checkPython(useCase);
    const rel = (p: string) => path.relative(process.cwd(), p) || '.';
    const overlay = useCase.overlayFile ? ` + ${rel(useCase.overlayFile)}` : useCase.envName ? ` (no overlay for env "${useCase.envName}")` : '';
    host.info(`${rel(useCase.configFile)}${overlay}: valid`);
    host.info(`  experiment ${useCase.name}: ${useCase.flow.kind} flow ${rel(useCase.flow.file)}`);
    host.info(`  datasets: ${useCase.datasets.map((d) => d.name).join(', ')}`);
    host.info(`  evaluators: ${useCase.evaluators.map((e) => e.name).join(', ') || '(none)'}`);
    host.info(`  connections: ${useCase.connections.map((c) => `${c.name} (${c.type})`).join(', ') || '(none)'}`);
    host.info(`  variants: ${useCase.variants.plan}; execution: ${useCase.execution.target}, concurrency ${useCase.execution.concurrency}`);
    if (useCase.gates.length) host.info(`  gates: ${useCase.gates.length}`);
    if (useCase.deploymentFile) host.info(`  deployment targets: ${Object.entries(useCase.deployment ?? {}).map(([k, v]) => `${k} (${v.length})`).join(', ')}`);
    host.setOutput('experiment-name', useCase.name);
    host.setOutput('flow-kind', useCase.flow.kind);
    return { useCase };
  },
};
