/**
 * Shapes exchanged with the Python worker (src/shared/engine/python/PROTOCOL.md is the
 * prose version). Everything here is plain data as it crosses the pipe.
 * @module
 */

/** A value type of a Prompt Flow input, or a connection / model-configuration class name. */
export type PyValueType = 'int' | 'double' | 'bool' | 'string' | 'list' | 'object' | 'image' | (string & {});

/** One parameter of a tool or flex entry (spec §4.2). */
export interface PyParam {
  name: string;
  /** One value type, or every accepted connection class name of a `Union[...]`. */
  type: PyValueType[];
  /** `connection`: the literal is a connection name (the worker injects the object);
   *  `model_config`: an Azure/OpenAI model configuration dict. */
  kind: 'value' | 'connection' | 'model_config';
  hasDefault: boolean;
  /** The default, made JSON-able (present when hasDefault). */
  default?: unknown;
  /** Enum parameters: the allowed values (type is then `string`). */
  enum?: string[];
}

/** A callable's signature as the worker reports it. */
export interface PySignature {
  params: PyParam[];
  /** The callable takes `**kwargs`: extra inputs are accepted. */
  hasKwargs: boolean;
  isAsync: boolean;
  isGenerator: boolean;
}

/** The `@tool` of a python node's file. */
export interface PyToolInfo extends PySignature {
  /** Absolute path of the tool file (the key, for a package tool). */
  file: string;
  functionName: string;
  /** Set for a `@tool` method of a ToolProvider subclass. */
  className?: string;
  /** ToolProvider `__init__` parameters, fed from literal node inputs of the same names. */
  initParams?: PyParam[];
  /** `@tool(streaming_option_parameter=...)`. */
  streamingOptionParameter?: string;
}

/** An initialised flex entry. */
export interface FlexEntryInfo extends PySignature {
  /** Handle for flexCall / flexAggregate. */
  key: string;
  kind: 'function' | 'class';
  /** `Class.__call__` or the function's qualified name (used in error messages). */
  name: string;
  initParams?: PyParam[];
  hasAggregate: boolean;
}

/** §3.2 runtime connection: `{type: "AzureOpenAIConnection", value: {...}, secret_keys: [...]}`. */
export interface RuntimeConnection {
  type: string;
  module?: string;
  value: Record<string, unknown>;
  secret_keys?: string[];
}

/** The error object of a failed request (PROTOCOL.md "Errors"). */
export interface PyErrorInfo {
  /** Prompt Flow style code: ToolExecutionError, ScriptExecutionError, NoToolDefined,
   *  MultipleToolsDefined, PythonLoadError, FileNotFound, ConnectionNotFound,
   *  NodeInputValidationError, FlowEntryInitializationError, InvalidAggregationFunction,
   *  InvalidFlexFlowEntry, EntryNotFound, OutputNotSerializable, InvalidRequest. */
  code: string;
  /** Python exception class name, e.g. `ValueError`. */
  type: string;
  module: string;
  /** `str(exception)`. */
  excMessage: string;
  /** User-facing message: "Execution failure in '<node>': (<ExcType>) <msg>" for code failures. */
  message: string;
  /** Formatted traceback of user frames (worker frames removed). */
  traceback: string;
  /** Where in the user's code it arose: the SyntaxError's place, else the innermost user frame. */
  location?: { file: string; line: number; column?: number };
  /** ModuleNotFoundError: the module that could not be found. */
  missingModule?: string;
  /** A class entry's required `__init__` arguments that no init value gave. */
  missingInit?: string[];
}

/** What `check_code` finds in a flow's Python files (from its entry files through their local imports). */
export interface PyCodeCheck {
  /** Every file reached (absolute). */
  files: string[];
  /** `entry`: the entry file through which the file was reached. */
  syntax: Array<{ file: string; line: number; column: number; message: string; entry?: string }>;
  /** Modules imported but not importable, each once, at the first place it is imported. */
  missing: Array<{ module: string; file: string; line: number; entry?: string }>;
}

/** Worker → engine reply to one request. */
export interface PyReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: PyErrorInfo;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** What a successful call / flexCall gives back. */
export interface PyCallResult {
  /** The return value, JSON-ified (flex: normalised to an object, non-dicts as {output: v}). */
  output: unknown;
  /** Metrics logged with log_metric — only for aggregation calls (else undefined). */
  metrics?: Record<string, unknown>;
  stdout: string;
  stderr: string;
  /** Time spent inside the worker, in milliseconds. */
  durationMs: number;
}

/** What flexAggregate gives back. */
export interface PyAggregateResult extends PyCallResult {
  /** `__aggregate__`'s returned dict merged over log_metric calls; {} when neither. */
  metrics: Record<string, unknown>;
  /** Set when __aggregate__ returned a non-dict (no metrics from the return value). */
  warning?: string;
}

/** Which request a callback came from, as given to call()/flexCall() via `context`. */
export interface CallbackContext {
  /** The `context` value passed with the originating request (e.g. line number and node name). */
  context: unknown;
  /** Worker process id. */
  pid: number;
}

/** Engine handlers for requests the Python code makes back (PROTOCOL.md "Callbacks"). */
export interface PythonCallbacks {
  /** `Prompty(...)(**inputs)`: action `call` | `render` | `estimate_token_count`. */
  prompty?(
    req: { path: string; overrides: Record<string, unknown>; inputs: Record<string, unknown>; action: string },
    ctx: CallbackContext,
  ): Promise<unknown>;
  /** `promptflow.tools.aoai.chat` / `openai.chat` / `completion`. */
  llm?(
    req: {
      connection: { name?: string | null; type?: string; value?: Record<string, unknown>; secret_keys?: string[] };
      api: 'chat' | 'completion';
      params: Record<string, unknown>;
    },
    ctx: CallbackContext,
  ): Promise<unknown>;
  /** `promptflow.tools.embedding.embedding(connection, input, deployment_name|model)` → a vector, or one per text. */
  embedding?(
    req: {
      connection: { name?: string | null; type?: string; value?: Record<string, unknown>; secret_keys?: string[] };
      input: string | string[];
      deployment_name?: string;
      model?: string;
    },
    ctx: CallbackContext,
  ): Promise<unknown>;
  /** `render_jinja_template(template, **inputs)` → string. */
  render?(req: { template: string; inputs: Record<string, unknown> }, ctx: CallbackContext): Promise<unknown>;
  /** `parse_chat(text)` → message list. */
  parseChat?(req: { text: string; validRoles?: string[] }, ctx: CallbackContext): Promise<unknown>;
  /** The evaluation SDK stand-in (shim promptflow/evals, azure/ai/evaluation): a built-in evaluator's score,
   *  or the line errors of an `evaluate()` call. Handled by src/shared/eval/code-evaluators. */
  codeEvaluator?(req: Record<string, unknown>, ctx: CallbackContext): Promise<unknown>;
}

/** First line a worker writes. */
export interface ReadyMessage {
  ready: true;
  pid: number;
  python: string;
  /** True when our promptflow shim is in use (the real package is not importable). */
  shim: boolean;
  /** Directory of the promptflow package the worker's flow code imports. */
  promptflow: string | null;
}
