/**
 * The Host for a terminal, Jenkins or any other CI: logs to stderr (stdout stays free for
 * machine-readable results), masks secrets itself, writes the summary to a file.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type ExitCode, formatLocation, type SourceLocation } from '../errors.js';
import type { ProgressReporter } from '../runs/progress.js';
import { type Host, redact } from './host.js';
import { progressBar } from './progress-bar.js';

export interface CliHostOptions {
  /** Input values from command-line flags, by declared input name. */
  inputs?: Record<string, string | undefined>;
  /** Where `appendSummary` writes (default: no summary file). */
  summaryFile?: string;
  verbose?: boolean;
  /** Default: process.stderr.isTTY. */
  interactive?: boolean;
  write?: (text: string) => void;
}

export class CliHost implements Host {
  readonly kind = 'cli' as const;
  readonly interactive: boolean;
  readonly outputs = new Map<string, string>();
  private readonly secrets = new Set<string>();
  private readonly write: (text: string) => void;
  exitCode: ExitCode = 0;

  constructor(private readonly options: CliHostOptions = {}) {
    this.interactive = options.interactive ?? Boolean(process.stderr.isTTY);
    this.write = options.write ?? ((text) => process.stderr.write(text));
  }

  getInput(name: string): string | undefined {
    return this.options.inputs?.[name];
  }
  setOutput(name: string, value: string): void {
    this.outputs.set(name, value);
  }
  info(message: string): void {
    this.emit(message);
  }
  debug(message: string): void {
    if (this.options.verbose) this.emit(`debug: ${message}`);
  }
  warning(message: string, at?: SourceLocation): void {
    this.emit(at ? `${formatLocation(at)}: warning: ${message}` : `warning: ${message}`);
  }
  error(message: string, at?: SourceLocation): void {
    this.emit(at ? `${formatLocation(at)}: error: ${message}` : `error: ${message}`);
  }
  mask(secret: string): void {
    if (secret) this.secrets.add(secret);
  }
  async appendSummary(markdown: string): Promise<void> {
    if (!this.options.summaryFile) return;
    await mkdir(path.dirname(this.options.summaryFile), { recursive: true });
    await appendFile(this.options.summaryFile, redact(markdown, this.secrets));
  }
  async uploadArtifact(name: string, files: string[], rootDirectory: string): Promise<void> {
    // Outside a CI system the files already are where the user asked for them.
    this.debug(`artifact ${name}: ${files.length} file(s) under ${rootDirectory}`);
  }
  progress(label: string): ProgressReporter | undefined {
    // In a CI log a bar is noise: the caller falls back to a plain line every 10%.
    return this.interactive ? progressBar(label) : undefined;
  }
  fail(message: string, exitCode: ExitCode): void {
    this.exitCode = exitCode;
    if (message) this.emit(message);
  }
  private emit(message: string): void {
    this.write(redact(message, this.secrets) + '\n');
  }
}
