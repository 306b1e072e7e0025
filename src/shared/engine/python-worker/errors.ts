/**
 * Errors of the Python worker pool. PythonCodeError is the user's code failing (a line
 * failure for the engine); the others are the worker process itself failing.
 * @module
 */
import type { PyErrorInfo } from './protocol.js';

/** The flow's Python code failed (or could not be loaded). `info.message` is Prompt Flow's message. */
export class PythonCodeError extends Error {
  constructor(
    readonly info: PyErrorInfo,
    readonly stdout = '',
    readonly stderr = '',
  ) {
    super(info.message);
    this.name = 'PythonCodeError';
  }
  /** Prompt Flow error code (ToolExecutionError, NoToolDefined, …). */
  get code(): string {
    return this.info.code;
  }
}

/** The worker process died (or could not start) while the request was in flight. */
export class PythonWorkerCrashed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PythonWorkerCrashed';
  }
}

/** The request did not finish within its timeout; the worker running it is recycled. */
export class PythonWorkerTimeout extends Error {
  constructor(
    readonly timeoutMs: number,
    what: string,
  ) {
    super(`Python ${what} did not finish within ${timeoutMs} ms`);
    this.name = 'PythonWorkerTimeout';
  }
}

/** The pool was closed before or while the request ran. */
export class PythonPoolClosed extends Error {
  constructor() {
    super('The Python worker pool is closed');
    this.name = 'PythonPoolClosed';
  }
}
