/**
 * The error boundary of a packaged step, shared by the GitHub and Azure DevOps runners (the
 * CLI has its own in cli-support.ts): read the inputs, run, and translate whatever is thrown
 * into annotations, a job-summary section and the exit-code contract (0, 1 gate, 2 input,
 * 3 service, 70 our bug).
 * @module
 */
import { ConfigError, exitCodeOf, formatProblem, GateFailed, ServiceError } from '../shared/errors.js';
import type { Host } from '../shared/host/host.js';
import { type InputSpec, readInputs } from '../shared/steps/declare.js';
// In a bundle: the schemas compiled at build time (empty from source).
import './register-precompiled.js';
import type { AnyStep } from './steps.js';

/** A step, or a function choosing one from the inputs (the root action's `step` input). */
export type StepChoice = AnyStep | ((host: Host) => AnyStep);

/** A host that remembers the outputs it published, for the summary section. */
export type RecordingHost = Host & { readonly outputs: ReadonlyMap<string, string> };

const MEANING: Record<number, string> = {
  1: 'a quality gate or the failed-line tolerance failed',
  2: 'invalid input, nothing was run',
  3: 'an outside service failed after retries',
  70: 'internal error in llmops',
};

/** Longest output value quoted in the summary; the full value is in the step output. */
const SUMMARY_VALUE_LIMIT = 300;

/**
 * Run `step` on `host` and return the exit code. Secret host inputs (tokens) are masked
 * before anything else is read, so even an error message quoting them is redacted.
 */
export async function runStep(choice: StepChoice, host: RecordingHost, hostInputs: readonly InputSpec[] = []): Promise<number> {
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
    await step.run(inputs, host);
    await host.appendSummary(successSection(name, host.outputs, Date.now() - started));
    return 0;
  } catch (err) {
    const code = exitCodeOf(err);
    const lines = reportError(err, host);
    await host.appendSummary(failureSection(name, code, lines)).catch(() => undefined);
    host.fail(`llmops ${name} failed with exit code ${code} (${MEANING[code]}): ${lines[0] ?? ''}`, code);
    return code;
  }
}

/** Log (and annotate) the error; returns its lines for the summary. */
export function reportError(err: unknown, host: Host): string[] {
  if (err instanceof ConfigError) {
    for (const p of err.problems) host.error(p.message, p);
    return err.problems.map(formatProblem);
  }
  if (err instanceof GateFailed) {
    host.error(err.message);
    for (const f of err.failures) host.error(f);
    return [err.message, ...err.failures];
  }
  if (err instanceof ServiceError) {
    host.error(err.message);
    return [err.message];
  }
  const e = err as Error;
  host.error(`internal error (a bug in llmops, please report it with this log): ${e?.stack ?? String(err)}`);
  return [`internal error: ${e?.message ?? String(err)}`];
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function successSection(step: string, outputs: ReadonlyMap<string, string>, ms: number): string {
  let md = `### ✅ llmops ${step}\n\nSucceeded in ${(ms / 1000).toFixed(1)} s.\n`;
  if (outputs.size) {
    md += '\n| output | value |\n| --- | --- |\n';
    for (const [name, value] of outputs) {
      const shown = value.length > SUMMARY_VALUE_LIMIT ? `${value.slice(0, SUMMARY_VALUE_LIMIT)}… (${value.length} characters)` : value;
      md += `| ${name} | \`${cell(shown)}\` |\n`;
    }
  }
  return md + '\n';
}

function failureSection(step: string, code: number, lines: string[]): string {
  const shown = lines.slice(0, 50).map((l) => `- ${cell(l)}`);
  if (lines.length > 50) shown.push(`- … and ${lines.length - 50} more (see the log)`);
  return `### ❌ llmops ${step} failed: exit code ${code} (${MEANING[code]})\n\n${shown.join('\n')}\n\n`;
}
