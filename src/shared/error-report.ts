/**
 * The one error boundary of llmops, host-agnostic: what a thrown error means for the exit-code
 * contract and which lines tell the user about it. The CLI and both CI runners print these
 * lines through their Host; none of them decides the mapping on its own.
 * @module
 */
import {
  Canceled,
  ConfigError,
  exitCodeOf,
  ExitCode,
  formatProblem,
  GateFailed,
  ServiceError,
  type SourceLocation,
} from './errors.js';

/** One line for the user, tied to a place in their file when there is one (an annotation on CI). */
export interface ErrorLine {
  text: string;
  at?: SourceLocation;
}

export interface ErrorReport {
  exitCode: ExitCode;
  /** What the exit code means, for a failure headline. */
  meaning: string;
  /** The lines to log as errors, in order. Only an internal error carries a stack trace. */
  lines: ErrorLine[];
  /** The same lines shortened for a job summary: locations inline, no stack trace. */
  summary: string[];
}

export const EXIT_CODE_MEANING: Record<ExitCode, string> = {
  [ExitCode.Success]: 'success',
  [ExitCode.GateFailed]: 'a quality gate or the failed-line tolerance failed',
  [ExitCode.InvalidInput]: 'invalid input, nothing was run',
  [ExitCode.ServiceFailed]: 'an outside service failed after retries',
  [ExitCode.InternalError]: 'internal error in llmops',
  [ExitCode.Interrupted]: 'stopped by SIGINT; what finished is saved',
  [ExitCode.Terminated]: 'stopped by SIGTERM; what finished is saved',
};

/** Translate anything thrown by a step or command into the exit-code contract and the lines that explain it. */
export function describeError(err: unknown): ErrorReport {
  const exitCode = exitCodeOf(err);
  const meaning = EXIT_CODE_MEANING[exitCode];
  if (err instanceof ConfigError) {
    const n = err.problems.length;
    const closing = `${n} problem${n === 1 ? '' : 's'} found; nothing was run.`;
    return {
      exitCode,
      meaning,
      lines: [...err.problems.map((p) => ({ text: p.message, at: p })), { text: closing }],
      summary: [...err.problems.map(formatProblem), closing],
    };
  }
  if (err instanceof GateFailed) {
    return {
      exitCode,
      meaning,
      lines: [{ text: err.message }, ...err.failures.map((f) => ({ text: `  ${f}` }))],
      summary: [err.message, ...err.failures],
    };
  }
  if (err instanceof ServiceError || err instanceof Canceled)
    return { exitCode, meaning, lines: [{ text: err.message }], summary: [err.message] };
  const e = err as Error | undefined;
  return {
    exitCode,
    meaning,
    lines: [{ text: `internal error (a bug in llmops, please report it with this log): ${e?.stack ?? String(err)}` }],
    summary: [`internal error: ${e?.message ?? String(err)}`],
  };
}
