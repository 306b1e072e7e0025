/**
 * Line failures and Prompt Flow's error shape (promptflow-formats.md §6.6): a failed node fails its line with
 * `{message, messageFormat, messageParameters, referenceCode, code, innerError, debugInfo}`; the run goes on.
 * @module
 */
import { PythonCodeError, PythonWorkerCrashed, PythonWorkerTimeout } from './python-worker/index.js';
import { ChatParseError, JinjaTemplateError } from './template/index.js';
import { ConfigError } from '../errors.js';

/** Prompt Flow's serialized error (`ExceptionPresenter.to_dict`). */
export interface PfError {
  message: string;
  messageFormat: string;
  messageParameters: Record<string, unknown>;
  referenceCode: string;
  /** `UserError` or `SystemError`. */
  code: 'UserError' | 'SystemError';
  innerError: PfInnerError | null;
  debugInfo?: { type: string; message: string; stackTrace?: string };
  additionalInfo?: Array<{ type: string; info: unknown }>;
}

export interface PfInnerError {
  code: string;
  innerError: PfInnerError | null;
}

/** A failure of one line (or of one aggregation node): never a run failure. */
export class LineFailure extends Error {
  constructor(
    message: string,
    /** Inner codes from outer to inner, e.g. ['ToolExecutionError'] or ['OpenAIError', 'WrappedOpenAIError']. */
    readonly codes: string[],
    readonly options: { system?: boolean; referenceCode?: string; cause?: unknown; traceback?: string } = {},
    /** The node that failed, when known. */
    public node?: string,
  ) {
    super(message, { cause: options.cause });
    this.name = codes[codes.length - 1] ?? 'LineFailure';
  }
}

/** Wrap whatever a node threw into a LineFailure naming the node. ConfigErrors pass through (run-level). */
export function toLineFailure(err: unknown, node?: string): LineFailure {
  const f = wrap(err, node);
  f.node ??= node;
  return f;
}

function wrap(err: unknown, node?: string): LineFailure {
  if (err instanceof LineFailure) return err;
  if (err instanceof ConfigError) {
    return new LineFailure(err.message, ['InvalidConfiguration'], {
      referenceCode: node ? `Node:${node}` : 'Executor',
      cause: err,
    });
  }
  const ref = node ? `Tool/${node}` : 'Executor';
  if (err instanceof PythonCodeError) {
    return new LineFailure(err.info.message, [err.code], {
      referenceCode: ref,
      cause: err,
      traceback: err.info.traceback,
    });
  }
  if (err instanceof PythonWorkerCrashed || err instanceof PythonWorkerTimeout) {
    return new LineFailure(err.message, [err.name], { system: true, referenceCode: ref, cause: err });
  }
  if (err instanceof JinjaTemplateError) {
    // A render stopped at the line timeout is a line timeout (served as 504), told as a template error.
    const codes =
      err.pyType === 'TimeoutError'
        ? ['ToolExecutionError', 'JinjaTemplateError', 'LineExecutionTimeoutError']
        : ['ToolExecutionError', 'JinjaTemplateError'];
    return new LineFailure(err.message, codes, { referenceCode: ref, cause: err });
  }
  if (err instanceof ChatParseError)
    return new LineFailure(err.message, ['ToolExecutionError', err.code], { referenceCode: ref, cause: err });
  const e = err as Error & { name?: string };
  if (
    e &&
    (e.name === 'LlmHttpError' ||
      e.name === 'LlmRetriesExhaustedError' ||
      e.name === 'ReplayMissError' ||
      e.name === 'EndpointUnreachableError')
  ) {
    const inner =
      e.name === 'LlmRetriesExhaustedError'
        ? 'ExceedMaxRetryTimes'
        : e.name === 'EndpointUnreachableError'
          ? 'APIConnectionError'
          : 'WrappedOpenAIError';
    const msg = node ? `OpenAI API hits ${e.name}: ${e.message}` : e.message;
    return new LineFailure(msg, ['OpenAIError', inner], { referenceCode: ref, cause: err });
  }
  const type = e?.name ?? 'Error';
  const text = e?.message ?? String(err);
  const msg = node ? `Execution failure in '${node}': (${type}) ${text}` : text;
  return new LineFailure(msg, ['ToolExecutionError'], { referenceCode: ref, cause: err });
}

/** The §6.6 dict of a failure. */
export function toPfError(err: unknown, node?: string): PfError {
  const f = toLineFailure(err, node);
  let inner: PfInnerError | null = null;
  for (let i = f.codes.length - 1; i >= 0; i--) inner = { code: f.codes[i], innerError: inner };
  const cause = (f.cause ?? f) as Error;
  return {
    message: f.message,
    messageFormat: '',
    messageParameters: {},
    referenceCode: f.options.referenceCode ?? 'Executor',
    code: f.options.system ? 'SystemError' : 'UserError',
    innerError: inner,
    debugInfo: { type: cause?.name ?? 'Error', message: cause?.message ?? f.message, stackTrace: f.options.traceback },
  };
}
