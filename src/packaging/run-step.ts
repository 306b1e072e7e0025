/**
 * A packaged step on the GitHub and Azure DevOps runners: read the inputs, run, and turn
 * whatever is thrown into annotations, a job-summary section and the exit-code contract,
 * through the same describeError as the CLI.
 * @module
 */
import { describeError, EXIT_CODE_MEANING } from '../shared/error-report.js';
import type { ExitCode } from '../shared/errors.js';
import type { Host } from '../shared/host/host.js';
import { type InputSpec, readInputs } from '../shared/steps/declare.js';
import { withTelemetry } from '../shared/telemetry/with-host.js';
import { redactEverywhere, redactionKindsFromEnv } from '../shared/safety/redact-everywhere.js';
import { settleHostOutput } from '../shared/safety/redacting-host.js';
// In a bundle: the schemas compiled at build time (empty from source).
import './register-precompiled.js';
import type { AnyStep } from './steps.js';

/** A step, or a function choosing one from the inputs (the root action's `step` input). */
export type StepChoice = AnyStep | ((host: Host) => AnyStep);

/** A host that remembers the outputs it published, for the summary section. */
export type RecordingHost = Host & { readonly outputs: ReadonlyMap<string, string> };

/** Longest output value quoted in the summary; the full value is in the step output. */
const SUMMARY_VALUE_LIMIT = 300;

/**
 * Run `step` on `host` and return the exit code. Secret host inputs (tokens) are masked
 * before anything else is read, so even an error message quoting them is redacted.
 */
export async function runStep(
  choice: StepChoice,
  host: RecordingHost,
  hostInputs: readonly InputSpec[] = [],
): Promise<number> {
  const started = Date.now();
  let name = typeof choice === 'function' ? 'step' : choice.name;
  for (const spec of hostInputs) {
    const value = spec.secret ? host.getInput(spec.name)?.trim() : undefined;
    if (value) host.mask(value);
  }
  try {
    const step = typeof choice === 'function' ? choice(host) : choice;
    name = step.name;
    const inputs = readInputs(step.inputs, host);
    await withTelemetry(host, () => {
      const kinds = redactionKindsFromEnv(process.env);
      if (kinds) redactEverywhere(host, kinds);
      return step.run(inputs, host);
    });
    await host.appendSummary(successSection(name, host.outputs, Date.now() - started));
    return 0;
  } catch (err) {
    const report = describeError(err);
    for (const line of report.lines) host.error(line.text, line.at);
    const code = report.exitCode;
    await host.appendSummary(failureSection(name, code, report.summary)).catch(() => undefined);
    host.fail(`llmops ${name} failed with exit code ${code} (${report.meaning}): ${report.summary[0] ?? ''}`, code);
    return code;
  } finally {
    // Lines held for redaction are written before the runner reports the outcome and exits.
    await settleHostOutput(host);
  }
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function successSection(step: string, outputs: ReadonlyMap<string, string>, ms: number): string {
  let md = `### ✅ llmops ${step}\n\nSucceeded in ${(ms / 1000).toFixed(1)} s.\n`;
  if (outputs.size) {
    md += '\n| output | value |\n| --- | --- |\n';
    for (const [name, value] of outputs) {
      const shown =
        value.length > SUMMARY_VALUE_LIMIT
          ? `${value.slice(0, SUMMARY_VALUE_LIMIT)}… (${value.length} characters)`
          : value;
      md += `| ${name} | \`${cell(shown)}\` |\n`;
    }
  }
  return md + '\n';
}

function failureSection(step: string, code: ExitCode, lines: string[]): string {
  const shown = lines.slice(0, 50).map((l) => `- ${cell(l)}`);
  if (lines.length > 50) shown.push(`- … and ${lines.length - 50} more (see the log)`);
  return `### ❌ llmops ${step} failed: exit code ${code} (${EXIT_CODE_MEANING[code]})\n\n${shown.join('\n')}\n\n`;
}
