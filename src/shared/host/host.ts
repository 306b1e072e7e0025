/**
 * The one boundary between the core and a CI system (DESIGN.md "Boundaries").
 * The core never imports @actions/* or azure-pipelines-task-lib and never exits;
 * it reads inputs, reports and fails only through a Host.
 * @module
 */
import type { AzureAuthSource } from '../azure/credentials.js';
import type { ExitCode, SourceLocation } from '../errors.js';
import type { ProgressReporter } from '../runs/progress.js';

export interface Host {
  /** Which adapter this is: lets a step choose plain progress lines over a bar, for instance. */
  readonly kind: 'cli' | 'github' | 'ado' | 'memory';
  /** True when output goes to a person's terminal (progress bars) rather than a CI log. */
  readonly interactive: boolean;

  /** The raw text of a declared input, or undefined when not given. Parsing is `readInputs`' job. */
  getInput(name: string): string | undefined;
  /** Publish a step output (GitHub output, ADO output variable, CLI: printed at the end). */
  setOutput(name: string, value: string): void;

  info(message: string): void;
  debug(message: string): void;
  /** A warning, annotated on the user's file when `at` is given. */
  warning(message: string, at?: SourceLocation): void;
  /** An error, annotated on the user's file when `at` is given. Does not fail the step by itself. */
  error(message: string, at?: SourceLocation): void;

  /** Never show this value in any log line from now on. Called before anything that could print it. */
  mask(secret: string): void;

  /** Append Markdown to the job summary (GitHub step summary, ADO summary tab, CLI: a file next to the reports). */
  appendSummary(markdown: string): Promise<void>;
  /** Publish files as a named artifact of the job. A failed upload is a warning, not a failure. */
  uploadArtifact(name: string, files: string[], rootDirectory: string): Promise<void>;

  /** A progress display for a long run (a terminal bar); absent: plain progress lines in the log. */
  progress?(label: string): ProgressReporter | undefined;

  /** Mark the step failed with this exit code; the adapter decides how (exit code, setFailed, TaskResult). */
  fail(message: string, exitCode: ExitCode): void;

  /**
   * Create, or update in place, the one pull-request comment carrying `marker` (GitHub only;
   * other hosts leave it undefined and the report goes to the summary instead).
   */
  publishComment?(markdown: string, marker: string): Promise<void>;
  /** What this CI system offers for signing in to Azure (see azure/credentials.ts). */
  azureAuth?(): AzureAuthSource;
}

/** Replace every masked value in a text: used by adapters that do their own masking (CLI, memory). */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}
