/** A Host that keeps everything in memory: the test double for steps (no CI system, no files). */
import type { ExitCode, SourceLocation } from '../errors.js';
import { type Host, redact } from './host.js';

export interface LoggedLine {
  level: 'info' | 'debug' | 'warning' | 'error';
  message: string;
  at?: SourceLocation;
}

export class MemoryHost implements Host {
  readonly kind = 'memory' as const;
  readonly interactive = false;
  readonly outputs = new Map<string, string>();
  readonly lines: LoggedLine[] = [];
  readonly secrets = new Set<string>();
  readonly artifacts: { name: string; files: string[]; rootDirectory: string }[] = [];
  summary = '';
  failure?: { message: string; exitCode: ExitCode };

  constructor(private readonly inputs: Record<string, string> = {}) {}

  getInput(name: string): string | undefined {
    return this.inputs[name];
  }
  setOutput(name: string, value: string): void {
    this.outputs.set(name, redact(value, this.secrets));
  }
  info(message: string): void {
    this.log('info', message);
  }
  debug(message: string): void {
    this.log('debug', message);
  }
  warning(message: string, at?: SourceLocation): void {
    this.log('warning', message, at);
  }
  error(message: string, at?: SourceLocation): void {
    this.log('error', message, at);
  }
  mask(secret: string): void {
    if (secret) this.secrets.add(secret);
  }
  async appendSummary(markdown: string): Promise<void> {
    this.summary += redact(markdown, this.secrets);
  }
  async uploadArtifact(name: string, files: string[], rootDirectory: string): Promise<void> {
    this.artifacts.push({ name, files, rootDirectory });
  }
  fail(message: string, exitCode: ExitCode): void {
    this.failure = { message: redact(message, this.secrets), exitCode };
  }
  /** Everything written, as one text: what a test searches for leaked secrets. */
  get transcript(): string {
    return [
      ...this.lines.map((l) => l.message),
      ...this.outputs.values(),
      this.summary,
      this.failure?.message ?? '',
    ].join('\n');
  }
  private log(level: LoggedLine['level'], message: string, at?: SourceLocation): void {
    this.lines.push({ level, message: redact(message, this.secrets), at });
  }
}
