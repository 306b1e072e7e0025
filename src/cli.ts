#!/usr/bin/env node
/** The `llmops` command: one subcommand per lifecycle step, plus the developer tools. */
import { Command } from 'commander';
import { addStepCommand } from './cli-support.js';
import { registerModelServerCommand } from './commands/model-server.js';
import { registerDataStep } from './shared/steps/register-data.js';
import { validateStep } from './shared/steps/validate.js';
import { registerFlowCommands } from './commands/flow.js';

const program = new Command('llmops')
  .description('The LLMOps lifecycle for Prompt Flow projects: validate, register-data, bulk-run, evaluate, report, deploy, smoke-test.\nExit codes: 0 success, 1 a quality gate or the failed-line tolerance failed, 2 invalid input (nothing was run), 3 an outside service failed after retries.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)');

addStepCommand(
  program,
  validateStep,
  `  $ llmops validate --config examples/web_classification/experiment.yaml
  $ llmops validate --config examples/web_classification/experiment.yaml --env pr   # applies experiment.pr.yaml
  Placeholders \${x} in connections read <CONNECTION>_<X> from the environment or from .env at the repository root.`,
);

addStepCommand(
  program,
  registerDataStep,
  `  $ llmops register-data --config examples/web_classification/experiment.yaml
  $ llmops register-data --config experiment.yaml --env pr --output-file datasets.json
  A dataset gets a new version only when its content (sha256) changed.`,
);

registerFlowCommands(program);

registerModelServerCommand(program);

await program.parseAsync(process.argv);
