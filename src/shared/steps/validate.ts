/** `validate`: load every part of a use case, as the steps do, and say what it holds or which steps each problem blocks. */
import path from 'node:path';
import { loadUseCase } from '../config/use-case.js';
import type { UseCase } from '../config/types.js';
import type { Host } from '../host/host.js';
import type { StepDefinition } from './declare.js';
import { useCaseInputs } from './common-inputs.js';
import { checkFlowPython, checkPythonFiles } from '../engine/index.js';
import { ConfigError, type Problem } from '../errors.js';

/** The Python code of the standard flow and of every evaluation flow: compiles, and (python_requirements: check)
 *  imports only installed modules. Each problem says which steps it blocks, like the configuration's. */
async function pythonProblems(useCase: UseCase): Promise<Problem[]> {
  const flows = [
    { model: useCase.flow.model, blocks: 'blocks: bulk-run, deploy, smoke-test' },
    ...useCase.evaluators.flatMap((e) => (e.flow ? [{ model: e.flow.model, blocks: 'blocks: evaluate' }] : [])),
  ];
  const imports = useCase.execution.pythonRequirements === 'check';
  const tagged = (found: Problem[], blocks: string) =>
    found.map((p) => ({ ...p, message: `${p.message} [${blocks}]` }));
  // Each check starts its own Python process: run them side by side, report in the order of the use case.
  const checks = flows.map(async (flow) =>
    tagged(await checkFlowPython(flow.model, { imports, python: useCase.execution.python }), flow.blocks),
  );
  // Code-only evaluators (eval_*.py folders), resolved as evaluate runs them: from the use case's parent folder,
  // with the standard flow's folder and their own on the path.
  for (const e of useCase.evaluators) {
    if (!e.code) continue;
    const files = [...new Set(e.code.functions.map((f) => f.file))];
    const found = checkPythonFiles(files, {
      workingDir: path.dirname(useCase.baseDir),
      pythonPath: [path.dirname(useCase.flow.file), e.code.path],
      subject: `evaluator ${JSON.stringify(e.name)}`,
      imports,
      python: useCase.execution.python,
      requirementsFile: path.join(e.code.path, 'requirements.txt'),
    });
    checks.push(found.then((f) => tagged(f, 'blocks: evaluate')));
  }
  return (await Promise.all(checks)).flat();
}

/** Built-in scorers' missing options and mappings, as evaluate finds them before it runs anything. */
async function builtinProblems(useCase: UseCase): Promise<Problem[]> {
  if (!useCase.evaluators.some((e) => e.builtin)) return [];
  // Loaded only when the use case has built-ins: validate's cold start stays small.
  const { scorerSetupProblemAt } = await import('../eval/builtin/run-builtin.js');
  return useCase.evaluators.flatMap((e) =>
    e.datasets.flatMap((d) => {
      const p = scorerSetupProblemAt(useCase, e, d);
      return p ? [{ ...p, message: `${p.message} [blocks: evaluate]` }] : [];
    }),
  );
}

/** The use case as far as its flows are concerned, when problems elsewhere (deployment config, connections) stop the
 *  full load; undefined when the flows themselves do not load. Warnings were given by the full load already. */
function loadFlowsOnly(inputs: ValidateInputs): UseCase | undefined {
  try {
    return loadUseCase({
      configPath: inputs.config,
      env: inputs.env,
      needs: ['experiment', 'evaluators', 'evaluator-flows'],
    });
  } catch (e) {
    if (e instanceof ConfigError) return undefined;
    throw e;
  }
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
  description:
    'Check every file of a use case (experiment.yaml, its env overlay, placeholders, flows, datasets, deployment and dataops configs) and say which steps each problem blocks; each step itself stops only on the parts it uses.',
  inputs: useCaseInputs,
  outputs: [
    { name: 'experiment-name', description: 'The experiment name.' },
    { name: 'flow-kind', description: 'dag, flex or prompty.' },
  ],
  async run(inputs: ValidateInputs, host: Host): Promise<ValidateOutputs> {
    let useCase: UseCase;
    try {
      useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'all', explainBlocked: true });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      // One validate lists every problem: the flows' Python too, when the flows load despite the others.
      const flowsOnly = loadFlowsOnly(inputs);
      const python = flowsOnly ? await pythonProblems(flowsOnly) : [];
      throw python.length > 0 ? new ConfigError([...e.problems, ...python]) : e;
    }
    const rel = (p: string) => path.relative(process.cwd(), p) || '.';
    const builtin = await builtinProblems(useCase);
    if (builtin.length === 0)
      host.info(
        `${rel(useCase.configFile)}: configuration valid; checking the flows' Python code (compiles, imports installed)`,
      );
    const python = [...builtin, ...(await pythonProblems(useCase))];
    if (python.length > 0) throw new ConfigError(python);
    const overlay = useCase.overlayFile
      ? ` + ${rel(useCase.overlayFile)}`
      : useCase.envName
        ? ` (no overlay for env "${useCase.envName}")`
        : '';
    host.info(`${rel(useCase.configFile)}${overlay}: valid`);
    host.info(`  experiment ${useCase.name}: ${useCase.flow.kind} flow ${rel(useCase.flow.file)}`);
    host.info(`  datasets: ${useCase.datasets.map((d) => d.name).join(', ')}`);
    host.info(`  evaluators: ${useCase.evaluators.map((e) => e.name).join(', ') || '(none)'}`);
    host.info(`  connections: ${useCase.connections.map((c) => `${c.name} (${c.type})`).join(', ') || '(none)'}`);
    host.info(
      `  variants: ${useCase.variants.plan}; execution: ${useCase.execution.target}, concurrency ${useCase.execution.concurrency}`,
    );
    if (useCase.gates.length) host.info(`  gates: ${useCase.gates.length}`);
    if (useCase.deploymentFile)
      host.info(
        `  deployment targets: ${Object.entries(useCase.deployment ?? {})
          .map(([k, v]) => `${k} (${v.length})`)
          .join(', ')}`,
      );
    host.setOutput('experiment-name', useCase.name);
    host.setOutput('flow-kind', useCase.flow.kind);
    return { useCase };
  },
};
