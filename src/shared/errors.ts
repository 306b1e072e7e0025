/**
 * The small error vocabulary of llmops. Every error a user can act on is one of these;
 * the host translates it once, at the top, into an exit code and annotations.
 * @module
 */

/** Exit codes of the CLI and step results on CI (DESIGN.md "Contracts users rely on"). */
export const ExitCode = {
  Success: 0,
  /** The work ran but a quality gate or the failed-line tolerance failed. */
  GateFailed: 1,
  /** The input is invalid (config, flow, data): nothing was run. */
  InvalidInput: 2,
  /** An outside service failed after retries. */
  ServiceFailed: 3,
  /** A bug in llmops itself (EX_SOFTWARE): never the user's fault. */
  InternalError: 70,
  /** Stopped by SIGINT (Ctrl+C, a CI cancel): what finished is saved, `--resume` continues (128 + 2). */
  Interrupted: 130,
  /** Stopped by SIGTERM (a CI cancel, a container stop): as Interrupted (128 + 15). */
  Terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A place in a user's file. Lines and columns are 1-based. */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
}

/** One thing wrong with a user's file: where, and a one-line message saying what was found and what was expected. */
export interface Problem extends SourceLocation {
  message: string;
}

export function formatLocation(at: SourceLocation): string {
  if (at.line === undefined) return at.file;
  return at.column === undefined ? `${at.file}:${at.line}` : `${at.file}:${at.line}:${at.column}`;
}

export function formatProblem(p: Problem): string {
  return `${formatLocation(p)}: ${p.message}`;
}

/** Invalid user input (configuration, flow, data). Carries every problem found in one pass. Exit code 2. */
export class ConfigError extends Error {
  readonly exitCode = ExitCode.InvalidInput;
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
  static at(at: SourceLocation, message: string): ConfigError {
    return new ConfigError([{ ...at, message }]);
  }
}

/** The work ran, but a quality gate or the failed-line tolerance did not pass. Exit code 1. */
export class GateFailed extends Error {
  readonly exitCode = ExitCode.GateFailed;
  constructor(
    message: string,
    readonly failures: string[] = [],
  ) {
    super(message);
    this.name = 'GateFailed';
  }
}

/** An outside service (LLM API, Azure, storage) failed after retries. Exit code 3. */
export class ServiceError extends Error {
  readonly exitCode = ExitCode.ServiceFailed;
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

/** The step was stopped by a signal before it finished; what it saved can be resumed. Exit code 128 + signal. */
export class Canceled extends Error {
  readonly exitCode: typeof ExitCode.Interrupted | typeof ExitCode.Terminated;
  constructor(
    readonly signal: 'SIGINT' | 'SIGTERM',
    message: string,
  ) {
    super(message);
    this.name = 'Canceled';
    this.exitCode = signal === 'SIGINT' ? ExitCode.Interrupted : ExitCode.Terminated;
  }
}

/** A bug in llmops itself: never the user's fault, reported with its stack. */
export class InternalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InternalError';
  }
}

/** The exit code an error maps to. Anything else is our bug: 70 (EX_SOFTWARE), never mistaken for a gate failure. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof ConfigError || err instanceof GateFailed || err instanceof ServiceError || err instanceof Canceled)
    return err.exitCode;
  return ExitCode.InternalError;
}
