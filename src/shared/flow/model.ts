/**
 * The typed model of a loaded flow — what the executor runs. Every piece a user wrote keeps its
 * `at` (file:line:column in the flow file) so later, line-level problems point at the right place.
 * @module
 */
import type { Problem, SourceLocation } from '../errors.js';

export type FlowKind = 'dag' | 'flex' | 'prompty' | 'http';

/** One step of a reference's property path: a word or `['key']` (string), or `[0]` (number). */
export type PropertyStep = string | number;

/** A `${...}` reference (§1.5). */
export type Reference =
  | {
      kind: 'flow_input';
      /** The flow input's name: everything after the `inputs.` / `flow.` prefix. */
      input: string;
      prefix: 'inputs.' | 'flow.';
      /** The reference as written, e.g. `${inputs.url}`. */
      text: string;
    }
  | {
      kind: 'node';
      node: string;
      /** `output` unless written otherwise; anything else is rejected at load time. */
      section: string;
      /** The raw property text after `node.section.` ('' when none). */
      property: string;
      /** The property path parsed with Prompt Flow's token grammar (`\w+ | ['...'] | [digits]`). */
      path: PropertyStep[];
      text: string;
    };

/** A node input, an `activate.when` or an output `reference`: a reference, or a literal of any YAML type. */
export type InputAssignment =
  { kind: 'literal'; value: unknown; at: SourceLocation } | { kind: 'reference'; ref: Reference; at: SourceLocation };

/** A declared flow input (§1.2; also flex/prompty input signatures). */
export interface FlowInputDef {
  name: string;
  /** `int | double | bool | string | list | object | image` (+ internal types); prompty inputs may omit it. */
  type?: string;
  /** True when a non-null `default` is written (`default: null` counts as no default). */
  hasDefault: boolean;
  default?: unknown;
  description?: string;
  enum?: unknown[];
  isChatInput: boolean;
  /** Unset when not written (chat-history detection falls back to an input named `chat_history`). */
  isChatHistory?: boolean;
  at: SourceLocation;
}

/** A declared flow output (§1.3). */
export interface FlowOutputDef {
  name: string;
  type?: string;
  /** Always present for DAG outputs (an empty one is a load error); absent for flex/prompty signatures. */
  reference?: InputAssignment;
  description?: string;
  isChatOutput: boolean;
  evaluationOnly: boolean;
  at: SourceLocation;
}

export type NodeType = 'llm' | 'prompt' | 'python' | 'custom_llm';
export type SourceType = 'code' | 'package' | 'package_with_prompt';

export interface NodeSource {
  type: SourceType;
  /** File relative to the working directory (code / package_with_prompt). */
  path?: string;
  /** Absolute path of `path` once found (in the flow folder or an additional include). */
  resolvedPath?: string;
  /** Package tool key (package / package_with_prompt). */
  tool?: string;
  at: SourceLocation;
}

export interface ActivateConfig {
  when: InputAssignment;
  /** Compared with Python `==` semantics by the executor. */
  is: unknown;
  at: SourceLocation;
}

/** A node (§1.4). For a `use_variants` node this is the selected variant's node, with the placeholder's name. */
export interface FlowNode {
  name: string;
  type: NodeType;
  source?: NodeSource;
  /** In YAML order. */
  inputs: Record<string, InputAssignment>;
  connection?: string;
  api?: string;
  provider?: string;
  module?: string;
  /** `aggregation` or its legacy alias `reduce`. */
  aggregation: boolean;
  activate?: ActivateConfig;
  /** True for a node whose body comes from `node_variants`. */
  useVariants: boolean;
  /** The variant this node's body came from (set iff useVariants). */
  variantId?: string;
  enableCache: boolean;
  /** The node mapping as written (unknown keys kept). */
  raw: Record<string, unknown>;
  /** Position of the node (its mapping in `nodes`, or the variant's `node` mapping). */
  at: SourceLocation;
}

/** `node_variants.<node>` (§1.10). */
export interface NodeVariants {
  node: string;
  defaultVariantId: string;
  /** Variant ids in YAML order. */
  variantIds: string[];
  /** Each variant's node, already named after the placeholder node. */
  variants: Record<string, FlowNode>;
  at: SourceLocation;
}

interface FlowBase {
  /** Absolute path of the flow file. */
  file: string;
  /** The path as shown in messages (relative to the current directory when possible). */
  displayFile: string;
  /** Code root: the flow file's folder, or a flex flow's `code:`. */
  workingDir: string;
  /** `name:` key, else the sanitized folder name (prompty: the file's stem). */
  name: string;
  description?: string;
  displayName?: string;
  tags?: Record<string, unknown>;
  /** Non-fatal findings (e.g. an llm node without a connection). */
  warnings: Problem[];
  /** The top-level mapping as written. */
  raw: Record<string, unknown>;
}

export interface DagFlow extends FlowBase {
  kind: 'dag';
  inputs: Record<string, FlowInputDef>;
  /** Outputs that reference aggregation nodes are dropped (with a warning), as Prompt Flow does. */
  outputs: Record<string, FlowOutputDef>;
  /** In YAML order, with variants applied (defaults after loadFlow; see applyVariant). */
  nodes: FlowNode[];
  nodeVariants: Record<string, NodeVariants>;
  /** Node names in execution order (§1.8). */
  order: string[];
  /** Variant chosen for every `use_variants` node. */
  selection: Record<string, string>;
  environmentVariables?: Record<string, unknown> | string;
  environment?: Record<string, unknown>;
  additionalIncludes: IncludeEntry[];
  language: string;
  messageFormat: string;
  id: string;
}

/** A placeholder inside an init value: `${x}` reads `<PARAM>_<X>` (as connections do), `${env:X}` reads X. */
export interface InitPlaceholder {
  /** The init parameter it belongs to. */
  param: string;
  /** Path inside that parameter's value ([] = the value itself). */
  path: Array<string | number>;
  /** Environment variable read. */
  variable: string;
  /** The placeholder as written. */
  text: string;
  at: SourceLocation;
}

export interface FlexFlow extends FlowBase {
  kind: 'flex';
  /** `module:function` or `module:Class` as written. */
  entry: string;
  entryModule: string;
  entryName: string;
  /** `<workingDir>/a/b.py` for module `a.b` when that file exists (else an importable package is assumed). */
  entryFile?: string;
  code?: string;
  inputs: Record<string, FlowInputDef>;
  outputs: Record<string, FlowOutputDef>;
  init: Record<string, FlowInputDef>;
  /** Where `entry:` is written (for entry and __init__ errors). */
  entryAt?: SourceLocation;
  /** `${x}` / `${env:X}` placeholders in the `init:` defaults (resolved when the flow is prepared). */
  initPlaceholders?: InitPlaceholder[];
  /** `init.json` beside the flow file (the template's convention): `__init__` arguments over the YAML defaults. */
  initFile?: { file: string; displayFile: string; values: Record<string, unknown>; placeholders: InitPlaceholder[] };
  /** `{inputs, init}` with `${file:}`/`${env:}` resolved. */
  sample?: { inputs?: Record<string, unknown>; init?: Record<string, unknown> };
  environmentVariables?: Record<string, unknown> | string;
  environment?: Record<string, unknown>;
  additionalIncludes: IncludeEntry[];
  language: string;
}

export interface PromptyModel {
  api: 'chat' | 'completion';
  configuration: Record<string, unknown>;
  parameters: Record<string, unknown>;
  response: 'first' | 'all';
}

export interface PromptyFlow extends FlowBase {
  kind: 'prompty';
  model: PromptyModel;
  inputs: Record<string, FlowInputDef>;
  outputs: Record<string, FlowOutputDef>;
  /** Sample inputs (inline or from `${file:}`). */
  sample?: unknown;
  /** The Jinja template body (after the last `---` line). */
  template: string;
  /** 1-based line of the file where the template body starts (for template error positions). */
  templateLine: number;
  /** Template engine name (`template:` key, default jinja2). */
  templateEngine: string;
  /** The front matter after `${env:}`/`${file:}` resolution and overrides. */
  frontMatter: Record<string, unknown>;
  /** model.configuration values naming an `${env:}` variable that is not set: errors once the model is called. */
  unsetConfiguration?: Problem[];
}

/**
 * Any HTTP endpoint as the flow under test (experiment.yaml `flow: {target: http, ...}`): each line is one request
 * built from the body template over the line's inputs; each output is read from the answer by a JSON path.
 */
export interface HttpTarget {
  /** The URL as written (`${VAR}` placeholders are read from the environment when the target is prepared). */
  url: string;
  /** POST, PUT and PATCH send the body as JSON; GET sends the body's fields (each input) as query parameters. */
  method: 'POST' | 'PUT' | 'PATCH' | 'GET';
  /** Header values as written; `${VAR}` placeholders are read from the environment and masked. */
  headers: Record<string, string>;
  /** The request body template: `${inputs.<name>}` anywhere in its strings. */
  body: unknown;
  /** Output name → JSON path into the answer (`$.a.b[0]`, `$.items[*].text`); `join` makes a wildcard's texts one. */
  outputs: Record<string, { path: string; join?: string }>;
  /** JSON paths of the answer's token counts (absent: none counted). */
  usage: { prompt?: string; completion?: string; total?: string };
  timeoutSec: number;
  preset?: 'responses';
  at: SourceLocation;
}

export interface HttpFlow extends FlowBase {
  kind: 'http';
  inputs: Record<string, FlowInputDef>;
  outputs: Record<string, FlowOutputDef>;
  target: HttpTarget;
  /** An endpoint has no code of ours to copy or run: kept empty so code paths common to flows stay simple. */
  additionalIncludes: IncludeEntry[];
  environmentVariables?: undefined;
}

export type LoadedFlow = DagFlow | FlexFlow | PromptyFlow | HttpFlow;

/** One `additional_includes` entry (§1.11). */
export interface IncludeEntry {
  /** As written. */
  path: string;
  /** Absolute (relative entries are taken from the flow file's folder). */
  absolute: string;
  at: SourceLocation;
}

/** Where a flow path resolved to (§0). */
export interface ResolvedFlowPath {
  kind: Exclude<FlowKind, 'http'>;
  /** Absolute path of the flow file. */
  file: string;
  /** Absolute code root (flex `code:` applied). */
  workingDir: string;
}
