/**
 * Errors of the template layer. Names and messages follow Prompt Flow's so that a line failure reads the same
 * as it would under `pf run` (promptflow-formats.md §2.1, §2.4).
 * @module
 */

/** A template that cannot be parsed. `line`/`column` are 1-based positions in the template source. */
export class TemplateSyntaxError extends Error {
  /** The Python exception type Jinja would raise (`TemplateSyntaxError` or `TemplateAssertionError`). */
  readonly pyType: string;
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
    pyType = 'TemplateSyntaxError',
  ) {
    super(`${reason} (line ${line}, column ${column})`);
    this.name = 'TemplateSyntaxError';
    this.pyType = pyType;
  }
}

/**
 * A failure while evaluating a template. `pyType` is the Python exception class Jinja2 would raise
 * (`UndefinedError`, `TypeError`, `ValueError`, `ZeroDivisionError`, `SecurityError`), `reason` its message.
 */
export class TemplateEvalError extends Error {
  constructor(
    readonly pyType: string,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'TemplateEvalError';
  }
}

/**
 * Prompt Flow's `UserError/ToolExecutionError/JinjaTemplateError`: any failure to render a prompt.
 * The engine turns it into a failed line. The message is exactly Prompt Flow's:
 * `Failed to render jinja template: <PyType>: <reason>. Please modify your prompt to fix the issue.`
 */
export class JinjaTemplateError extends Error {
  readonly code = 'JinjaTemplateError';
  readonly errorType = 'UserError';
  constructor(
    readonly pyType: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Failed to render jinja template: ${pyType}: ${reason}. Please modify your prompt to fix the issue.`,
      options,
    );
    this.name = 'JinjaTemplateError';
  }
}

/** Codes of chat-parsing errors, as Prompt Flow names them (all are UserErrors). */
export type ChatParseErrorCode =
  'ChatAPIInvalidRole' | 'ChatAPIFunctionRoleInvalidFormat' | 'ChatAPIToolRoleInvalidFormat';

/** The rendered prompt is not a valid chat prompt (§2.4). `code` is Prompt Flow's error class name. */
export class ChatParseError extends Error {
  readonly errorType = 'UserError';
  constructor(
    readonly code: ChatParseErrorCode,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}
