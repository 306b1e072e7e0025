/**
 * A flow prepared for serving: the executor (built once, on the engine's public API), the declared inputs used
 * to validate requests, the outputs a caller may see (without `evaluation_only` ones) and the stream plan.
 * @module
 */
import type { Connection } from '../config/connections.js';
import { ConfigError } from '../errors.js';
import { applyVariant, loadFlow, parseVariantSpec, type FlowInputDef, type LoadedFlow } from '../flow/index.js';
import {
  createExecutor,
  LineFailure,
  parseValue,
  ValueParseError,
  type FlowExecutor,
  type LineResult,
  type LlmServiceOptions,
  type PfError,
} from '../engine/index.js';
import { applyConnectionOverrides, initFromEnv, planStream, type StreamPlan } from './flow-setup.js';
import { StreamingLlmService, withStreamSink } from './stream-service.js';

export interface ServeFlowOptions {
  /** Flow folder, flow.dag.yaml, flow.flex.yaml or .prompty — or an already loaded flow. */
  flow: string | LoadedFlow;
  /** `${node.variant_id}` (DAG flows only; may be given several times). */
  variants?: string[];
  connections?: readonly Connection[];
  /** Stands in for connection names that are not defined (e.g. connectionFromEnv()). */
  fallbackConnection?: Connection;
  /** Where `<CONN>_<KEY>` overrides and PF_FLOW_INIT_CONFIG are read. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Flex `__init__` arguments of the caller, over PF_FLOW_INIT_CONFIG, init.json, sample.init and the YAML defaults. */
  init?: Record<string, unknown>;
  /** Names in `init` given as command-line text (converted by declared type or annotation). */
  initText?: string[];
  llm?: LlmServiceOptions;
  /** Python worker processes (each runs 16 calls at once). Default 1. */
  pythonWorkers?: number;
  python?: string;
  /** Per-request time limit in ms (0 = none). Default 300000, Prompt Flow's serving timeout. */
  requestTimeoutMs?: number;
}

/** A request the caller got wrong: answered with 400 and `{"error": {"code": "UserError", ...}}`. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

export interface ServeRunner {
  readonly flow: LoadedFlow;
  readonly inputs: Record<string, FlowInputDef>;
  readonly stream?: StreamPlan;
  /** Parses a request body (its text) into validated flow inputs (RequestError when the caller got it wrong). */
  parseBody(text: string, contentType: string | undefined): Record<string, unknown>;
  /** Runs one line. With `onChunk`, the stream plan's node streams its answer into it. */
  run(
    inputs: Record<string, unknown>,
    options: { signal?: AbortSignal; onChunk?: (text: string) => void; parent?: object },
  ): Promise<LineResult>;
  /** The outputs a caller sees: the flow's outputs minus `evaluation_only` ones. */
  visibleOutputs(outputs: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

/** Loads the flow, applies variants, overrides and init, and prepares the executor (ConfigError if it cannot). */
export async function createServeRunner(options: ServeFlowOptions): Promise<ServeRunner> {
  const env = options.env ?? process.env;
  let flow = typeof options.flow === 'string' ? loadFlow(options.flow) : options.flow;
  for (const spec of options.variants ?? []) {
    if (flow.kind !== 'dag') throw ConfigError.at({ file: '--variant' }, `a ${flow.kind} flow has no variants`);
    const v = parseVariantSpec(spec, { file: '--variant' });
    flow = applyVariant(flow, { ...flow.selection, [v.node]: v.variantId });
  }
  const connections = applyConnectionOverrides(options.connections ?? [], env);
  const fallback = options.fallbackConnection
    ? applyConnectionOverrides([options.fallbackConnection], env)[0]
    : undefined;
  const executor: FlowExecutor = await createExecutor(flow, {
    connections,
    fallbackConnection: fallback,
    llm: new StreamingLlmService(options.llm),
    init: options.init ? { ...initFromEnv(env), ...options.init } : initFromEnv(env),
    initText: options.initText,
    pythonWorkers: options.pythonWorkers,
    python: options.python,
    lineTimeoutMs: options.requestTimeoutMs ?? 300_000,
    // Callers must not make the server fetch internal addresses through image URLs.
    imageUrls: 'public',
  });
  const hidden = new Set(
    Object.values(flow.outputs)
      .filter((o) => o.evaluationOnly)
      .map((o) => o.name),
  );
  const inputs = executor.inputs;
  return {
    flow,
    inputs,
    stream: planStream(flow),
    parseBody: (text, contentType) => validateInputs(inputs, parseRequestBody(inputs, text, contentType)),
    run(lineInputs, { signal, onChunk, parent }) {
      if (!onChunk) return executor.runLine(lineInputs, { signal, parent });
      return withStreamSink({ onChunk, claimed: false }, () => executor.runLine(lineInputs, { signal, parent }));
    },
    visibleOutputs(outputs) {
      if (hidden.size === 0) return outputs;
      const visible: Record<string, unknown> = {};
      for (const k in outputs) if (!hidden.has(k)) visible[k] = outputs[k];
      return visible;
    },
    close: () => executor.close(),
  };
}

/** §7.2: a JSON object of inputs; a non-JSON body is the value of a flow's only input. */
function parseRequestBody(
  inputs: Record<string, FlowInputDef>,
  text: string,
  contentType: string | undefined,
): Record<string, unknown> {
  const names = Object.keys(inputs);
  if (names.length === 0 || text.trim() === '') return {};
  let value: unknown;
  let jsonError: string | undefined;
  try {
    value = JSON.parse(text);
  } catch (e) {
    jsonError = (e as Error).message;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  const saidJson = /\bjson\b/i.test(contentType ?? '');
  if (names.length === 1 && !saidJson) return { [names[0]]: text };
  if (jsonError !== undefined) {
    if (names.length > 1 && !saidJson)
      throw new RequestError(
        `The request body is not JSON; a flow with several inputs (${names.join(', ')}) needs a JSON object of inputs (JsonPayloadRequiredForMultipleInputFields)`,
        415,
      );
    throw new RequestError(`The request body is not valid JSON: ${jsonError}`);
  }
  throw new RequestError(
    `The request body is ${Array.isArray(value) ? 'a JSON array' : `JSON ${value === null ? 'null' : typeof value}`}, expected a JSON object of flow inputs (${names.join(', ')})`,
  );
}

/** Defaults for absent inputs, then the declared types; every problem of the request in one message. */
function validateInputs(defs: Record<string, FlowInputDef>, raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  const problems: string[] = [];
  for (const [name, def] of Object.entries(defs)) {
    let v = raw[name];
    if (v === undefined || v === null) {
      if (!def.hasDefault) {
        problems.push(`flow input '${name}' is required${def.type ? ` (type ${def.type})` : ''} but was not given`);
        continue;
      }
      v = def.default;
      // A Python default of None (`chat_history: list = None`): left to the engine, which passes None as flow test
      // and bulk-run do; there is no value to check the type of.
      if (v === null || v === undefined) {
        delete out[name];
        continue;
      }
    }
    try {
      // Checked here so a bad request is a 400; the engine coerces the value itself when it runs the line.
      // Images are not checked here: loading one reads a file or fetches a URL, which the line does itself.
      if (def.type && def.type !== 'image') parseValue(def.type, v);
      out[name] = v;
    } catch (e) {
      // An image path the engine refuses (missing, or outside the working directory) is the caller's error too.
      if (e instanceof LineFailure) {
        problems.push(e.message);
        continue;
      }
      if (!(e instanceof ValueParseError)) throw e;
      problems.push(`flow input '${name}' must be of type ${def.type}, found ${describe(v)}`);
    }
  }
  if (problems.length > 0) throw new RequestError(`Invalid flow inputs: ${problems.join('; ')}`);
  return out;
}

function describe(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** HTTP status of a failed line: Prompt Flow's UserError → 400, SystemError → 500, a timeout → 504. */
export function statusOfLineError(error: PfError | undefined): number {
  let inner = error?.innerError;
  while (inner) {
    if (inner.code === 'LineExecutionTimeoutError') return 504;
    inner = inner.innerError;
  }
  return error?.code === 'UserError' ? 400 : 500;
}
