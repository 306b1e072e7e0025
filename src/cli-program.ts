/** The `llmops` command's program: one subcommand per lifecycle step, plus the developer tools. */
import { Command, CommanderError } from 'commander';
import { ExitCode } from './shared/errors.js';
import { addStepCommand } from './cli-support.js';
import { registerFlowCommands } from './commands/flow.js';
import { registerModelServerCommand } from './commands/model-server.js';
import { registerServeCommand } from './commands/serve.js';
import { registerMonitorCommand } from './commands/monitor.js';
import { registerRunShardCommand } from './commands/run-shard.js';
import { registerPlanSampleCommand } from './commands/plan-sample.js';
import { registerRedteamCommand } from './commands/redteam.js';
import { registerParityCommand } from './commands/parity.js';
import { registerServeSplitCommand } from './commands/serve-split.js';
import { bulkRunStep } from './shared/steps/bulk-run.js';
import { dataPipelineStep } from './shared/steps/data-pipeline.js';
import { evaluateStep } from './shared/steps/evaluate.js';
import { registerDataStep } from './shared/steps/register-data.js';
import { deployStep } from './shared/steps/deploy.js';
import { reportStep } from './shared/steps/report.js';
import { smokeTestStep } from './shared/steps/smoke-test.js';
import { validateStep } from './shared/steps/validate.js';

const program = new Command('llmops')
  .description(
    'The LLMOps lifecycle for Prompt Flow projects: validate, register-data, bulk-run, evaluate, report, deploy, smoke-test.\nExit codes: 0 success, 1 a quality gate or the failed-line tolerance failed, 2 invalid input (nothing was run), 3 an outside service failed after retries.',
  )
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  // Subcommands inherit this: commander's own exits are caught below, so a usage mistake gets the exit code
  // of invalid input (2), not 1, which CI reads as a failed quality gate.
  .exitOverride();

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
registerServeCommand(program);
registerMonitorCommand(program);

addStepCommand(
  program,
  bulkRunStep,
  `  $ llmops bulk-run --config examples/web_classification/experiment.yaml
  $ llmops bulk-run --config experiment.yaml --env pr --variants defaults --max-failed-lines 5%
  $ llmops bulk-run --config experiment.yaml --cache-mode replay     # PR pipelines: only recorded responses
  Run ids: <experiment>.<variant>.<dataset>.<build>.<4 hex>; lines land in .llmops/runs/<run-id>/outputs.jsonl.
  flow: may be an endpoint: {target: http, url, method, headers, body, outputs}; preset: responses with
  agent: <name> calls a Foundry hosted agent ({agent: {type: agent_reference, name}, input}), model: <name> a model.`,
);
addStepCommand(
  program,
  evaluateStep,
  `  $ llmops evaluate --config examples/web_classification/experiment.yaml
  Reads the runs file bulk-run wrote; evaluation data is joined to each run by line number.`,
);
addStepCommand(
  program,
  reportStep,
  `  $ llmops report --config examples/web_classification/experiment.yaml --output-dir reports
  $ llmops report --config experiment.yaml --baseline main-results.json      # regression gates and comparisons
  Exit code 1 when a gate fails; reports are written either way.`,
);
addStepCommand(
  program,
  deployStep,
  `  $ llmops deploy --config examples/web_classification/experiment.yaml --env dev --target local
  Blue/green on one machine: the new server is started and smoke-tested before the old one stops;
  the live endpoint is the "endpoint" output and .llmops/deploy/<experiment>-<env>.json.`,
);
addStepCommand(
  program,
  smokeTestStep,
  `  $ llmops smoke-test --config examples/web_classification/experiment.yaml --env dev
  $ llmops smoke-test --config experiment.yaml --endpoint https://my-endpoint/score --key-env ENDPOINT_KEY --tests smoke-tests.yaml
  A failed expectation exits 1; a bad tests file exits 2 with its line and column.`,
);
addStepCommand(
  program,
  dataPipelineStep,
  `  $ llmops data-pipeline --config examples/named_entity_recognition/experiment.yaml
  Runs the @tool function of prep_data.py in PATH.DATA_PIPELINE_CODE_DIR (configs/dataops_config.json, EXECUTION_TYPE local)
  on STORAGE.SOURCE_BLOB, writes the DATA_ASSETS files into TARGET_CONTAINER and registers each by content hash.`,
);
registerModelServerCommand(program);
registerRunShardCommand(program);
registerPlanSampleCommand(program);
registerRedteamCommand(program);
registerParityCommand(program);
registerServeSplitCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // --help and --version end with 0; an unknown option, a missing argument or a bad choice is invalid input.
  process.exitCode = err.exitCode === 0 ? 0 : ExitCode.InvalidInput;
}
