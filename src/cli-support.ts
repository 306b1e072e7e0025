/**
 * Turns step declarations into commander commands, and what a command throws into the
 * exit-code contract through the shared boundary (describeError), printed by the CLI host.
 */
import { Command, Option } from 'commander';
import { describeError } from './shared/error-report.js';
import type { ExitCode } from './shared/errors.js';
import { CliHost } from './shared/host/cli.js';
import { camel, readInputs, type StepDefinition } from './shared/steps/declare.js';
import { withTelemetry } from './shared/telemetry/with-host.js';
import { redactEverywhere, redactionKindsFromEnv } from './shared/safety/redact-everywhere.js';
import { settleHostOutput } from './shared/safety/redacting-host.js';

export interface CommandContext {
  host: CliHost;
}

/** Add `llmops <step.name>` with one flag per declared input. */
export function addStepCommand<I, O>(program: Command, step: StepDefinition<I, O>, examples = ''): Command {
  const cmd = program.command(step.name).description(step.description);
  for (const input of step.inputs) {
    const flag =
      input.type === 'boolean'
        ? `--${input.name} [bool]`
        : `--${input.name} <${input.type === 'choice' ? 'value' : input.type}>`;
    const option = new Option(flag, input.description + (input.default ? ` (default: ${input.default})` : ''));
    if (input.choices) option.choices([...input.choices]);
    cmd.addOption(option);
  }
  cmd.option('--verbose', 'Print debug lines too.');
  if (examples) cmd.addHelpText('after', `\nExamples:\n${examples}`);
  cmd.action(async (opts: Record<string, unknown>) => {
    const raw: Record<string, string | undefined> = {};
    for (const input of step.inputs) {
      const v = opts[camel(input.name)];
      raw[input.name] = v === true ? 'true' : v === undefined ? undefined : String(v);
    }
    await runWithHost({ inputs: raw, verbose: Boolean(opts.verbose) }, async (host) => {
      const inputs = readInputs(step.inputs, host) as I;
      await step.run(inputs, host);
      await settleHostOutput(host); // the step's log lines before its outputs
      for (const [name, value] of host.outputs) process.stdout.write(`${name}=${value}\n`);
    });
  });
  return cmd;
}

/** Run a command body with a CLI host and translate whatever it throws into the contract's exit codes. */
export async function runWithHost(
  options: { inputs?: Record<string, string | undefined>; verbose?: boolean },
  body: (host: CliHost) => Promise<void>,
): Promise<void> {
  const host = new CliHost({
    inputs: options.inputs,
    verbose: options.verbose,
    summaryFile: process.env.LLMOPS_SUMMARY_FILE,
  });
  try {
    await withTelemetry(host, () => {
      const kinds = redactionKindsFromEnv(process.env);
      if (kinds) redactEverywhere(host, kinds);
      return body(host);
    });
    await settleHostOutput(host);
    process.exitCode = host.exitCode;
  } catch (err) {
    process.exitCode = reportError(err, host);
    await settleHostOutput(host);
  }
}

/** Log the error's lines (see describeError); returns its exit code. */
export function reportError(err: unknown, host: CliHost): ExitCode {
  const report = describeError(err);
  for (const line of report.lines) host.error(line.text, line.at);
  return report.exitCode;
}
