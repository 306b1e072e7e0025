/**
 * Prompty executed natively (promptflow-formats.md §5.2): inputs by signature, render, parse_chat, one LLM
 * call with `model.parameters` verbatim, response formatting. Serves prompty flows and the Python worker's
 * `Prompty(...)` callback.
 * @module
 */
import type { Connection } from '../config/connections.js';
import { ConfigError } from '../errors.js';
import type { PromptyFlow } from '../flow/index.js';
import { loadPrompty } from '../flow/index.js';
import { countChatTokens } from '../llm/index.js';
import {
  buildChatMessages,
  collectImages,
  compileTemplate,
  preprocessImageTemplate,
  pyRepr,
  syntaxProblem,
  TemplateSyntaxError,
  type CompiledTemplate,
} from './template/index.js';
import { connectionFromEnv } from './connections.js';
import { LineFailure } from './line-error.js';
import type { LlmService, Usage } from './llm-service.js';
import { ImageInputError, loadImageInput, type ImageLoadOptions } from './images.js';

export interface PreparedPrompty {
  flow: PromptyFlow;
  template: CompiledTemplate;
  connection: Connection;
  model: string;
  provider: 'AzureOpenAI' | 'OpenAI';
  /** Input names in signature order. */
  signature: string[];
  defaults: Record<string, unknown>;
}

/** Resolves the model configuration to a connection and compiles the template (ConfigError when impossible). */
export function preparePrompty(
  flow: PromptyFlow,
  connections: Record<string, Connection>,
  env: Record<string, string | undefined> = process.env,
  fallback?: Connection,
): PreparedPrompty {
  const cfg = flow.model.configuration as Record<string, unknown>;
  const type = String(
    cfg.type ?? (cfg.azure_deployment || cfg.azure_endpoint ? 'azure_openai' : 'openai'),
  ).toLowerCase();
  const azure = type === 'azure_openai' || type === 'azureopenai';
  // Endpoint, key or deployment given as an ${env:} that is not set: say so, rather than call the literal text.
  if (typeof cfg.connection !== 'string' && flow.unsetConfiguration?.length)
    throw new ConfigError(flow.unsetConfiguration);
  let connection: Connection | undefined;
  if (typeof cfg.connection === 'string') {
    // A name that is not defined resolves as llm nodes' connections do: to the fallback, when there is one.
    connection = connections[cfg.connection] ?? (fallback ? { ...fallback, name: cfg.connection } : undefined);
    if (!connection)
      throw ConfigError.at(
        { file: flow.displayFile },
        `model.configuration.connection: connection ${JSON.stringify(cfg.connection)} is not defined; expected one of: ${Object.keys(connections).join(', ') || '(none given)'}`,
      );
  } else if (azure && cfg.azure_endpoint) {
    connection = {
      name: 'prompty',
      type: 'AzureOpenAIConnection',
      value: {
        api_base: String(cfg.azure_endpoint),
        api_key: String(cfg.api_key ?? ''),
        api_version: String(cfg.api_version ?? '2024-02-01'),
      },
      secretKeys: ['api_key'],
    };
  } else if (!azure && (cfg.base_url || cfg.api_key)) {
    const value: Record<string, string> = { api_key: String(cfg.api_key ?? '') };
    if (cfg.base_url) value.base_url = String(cfg.base_url);
    if (cfg.organization) value.organization = String(cfg.organization);
    connection = { name: 'prompty', type: 'OpenAIConnection', value, secretKeys: ['api_key'] };
  } else {
    connection = connectionFromEnv(env, 'prompty');
    if (!connection)
      throw ConfigError.at(
        { file: flow.displayFile },
        'model.configuration: no connection, endpoint or key given, and AZURE_OPENAI_ENDPOINT/AZURE_OPENAI_API_KEY or OPENAI_API_KEY are not set',
      );
  }
  const provider = connection.type === 'AzureOpenAIConnection' ? 'AzureOpenAI' : 'OpenAI';
  let template: CompiledTemplate;
  try {
    template = compileTemplate(preprocessImageTemplate(flow.template));
  } catch (e) {
    if (e instanceof TemplateSyntaxError)
      throw new ConfigError([syntaxProblem(e, flow.displayFile, flow.templateLine - 1)]);
    throw e;
  }
  const sample = flow.sample && typeof flow.sample === 'object' ? (flow.sample as Record<string, unknown>) : {};
  const signature = Object.keys(flow.inputs).length > 0 ? Object.keys(flow.inputs) : Object.keys(sample);
  const defaults: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(flow.inputs)) if (d.hasDefault) defaults[k] = d.default;
  return {
    flow,
    template,
    connection,
    model: String(cfg.azure_deployment ?? cfg.model ?? ''),
    provider,
    signature,
    defaults,
  };
}

/** The prompty's inputs from call kwargs (§5.2 step 1). */
async function promptyInputs(
  p: PreparedPrompty,
  given: Record<string, unknown>,
  images?: Omit<ImageLoadOptions, 'baseDir'>,
): Promise<Record<string, unknown>> {
  const source =
    Object.keys(given).length === 0 && p.flow.sample && typeof p.flow.sample === 'object'
      ? (p.flow.sample as Record<string, unknown>)
      : given;
  const out: Record<string, unknown> = {};
  for (const name of p.signature) {
    let v = source[name];
    if (v === undefined) {
      if (!(name in p.defaults))
        throw new LineFailure(`Missing required inputs: ['${name}']`, ['MissingRequiredInputError']);
      v = p.defaults[name];
    }
    if (typeof v === 'string' && /^data:image\/[^;]+;(path|url|base64):/.test(v)) {
      const m = /^(data:image\/[^;]+;(?:path|url|base64)):\s*(.*)$/s.exec(v)!;
      try {
        v = await loadImageInput({ [m[1]]: m[2] }, { ...images, baseDir: p.flow.workingDir });
      } catch (e) {
        if (!(e instanceof ImageInputError)) throw e;
        throw new LineFailure(`Failed to load image for input '${name}': ${e.message}`, ['LoadMultimediaDataError']);
      }
    }
    out[name] = v;
  }
  return out;
}

function messagesOf(p: PreparedPrompty, inputs: Record<string, unknown>) {
  return buildChatMessages(p.template, inputs, {
    inputsToEscape: Object.keys(inputs),
    chatInputList: p.provider === 'AzureOpenAI',
    images: collectImages(Object.values(inputs)),
  });
}

/** `prompty(**inputs)`: the formatted response (§5.2 step 4). */
/** `images`: how image inputs are fetched (time limit, public hosts only for a served flow). */
export async function callPrompty(
  service: LlmService,
  p: PreparedPrompty,
  given: Record<string, unknown>,
  usage: Usage[],
  signal?: AbortSignal,
  images?: Omit<ImageLoadOptions, 'baseDir'>,
): Promise<unknown> {
  const inputs = await promptyInputs(p, given, images ?? service.fetchOptions);
  const params = { ...p.flow.model.parameters };
  delete params.stream;
  const api = p.flow.model.api;
  const body: Record<string, unknown> = { model: p.model, ...params };
  if (api === 'chat') body.messages = messagesOf(p, inputs);
  else body.prompt = p.template.render(inputs);
  const result = await service.call(api, p.connection, body, usage, signal, 'promptflow-core');
  const response = result.response as {
    choices?: Array<{ message?: { content?: string | null }; text?: string; finish_reason?: string }>;
  };
  if (p.flow.model.response === 'all') return response;
  const choice = response.choices?.[0];
  if (!choice) throw new LineFailure('The model returned no choices.', ['LLMError']);
  if (api === 'completion') return choice.text ?? '';
  if (choice.finish_reason === 'tool_calls' || choice.finish_reason === 'function_call') return choice.message;
  const format = (params.response_format as { type?: string } | undefined)?.type;
  if (format === 'json_object') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(choice.message?.content ?? '');
    } catch (e) {
      throw new LineFailure(`Failed to parse the model's JSON answer: ${(e as Error).message}`, [
        'ToolExecutionError',
        'JSONDecodeError',
      ]);
    }
    const outputs = Object.keys(p.flow.outputs);
    if (outputs.length === 0) return parsed;
    const out: Record<string, unknown> = {};
    for (const k of outputs) {
      if (!parsed || typeof parsed !== 'object' || !(k in parsed))
        throw new LineFailure(`Cannot find '${k}' in response ${JSON.stringify(parsed)}.`, ['InvalidOutputKeyError']);
      out[k] = (parsed as Record<string, unknown>)[k];
    }
    return out;
  }
  return choice.message?.content ?? null;
}

/** `prompty.render(**inputs)`: Python `str()` of the message list. */
export async function renderPrompty(p: PreparedPrompty, given: Record<string, unknown>): Promise<string> {
  const inputs = await promptyInputs(p, given);
  return p.flow.model.api === 'chat' ? pyRepr(messagesOf(p, inputs)) : p.template.render(inputs);
}

/** `prompty.estimate_token_count(**inputs)`: message tokens + max_tokens. */
export async function estimatePromptyTokens(p: PreparedPrompty, given: Record<string, unknown>): Promise<number> {
  const inputs = await promptyInputs(p, given);
  const maxTokens = Number(p.flow.model.parameters.max_tokens ?? 0) || 0;
  return countChatTokens(messagesOf(p, inputs) as never, p.model) + maxTokens;
}

/** Prompty files the Python code loads (`Prompty.load(path, model=...)`), prepared once per path + overrides. */
export class PromptyCache {
  private readonly cache = new Map<string, PreparedPrompty>();
  constructor(
    private readonly connections: Record<string, Connection>,
    private readonly fallback?: Connection,
  ) {}
  get(path: string, overrides: Record<string, unknown>): PreparedPrompty {
    const key = `${path}\u0000${JSON.stringify(overrides ?? {})}`;
    let p = this.cache.get(key);
    if (!p) {
      const flow = loadPrompty(path, {
        overrides: overrides && Object.keys(overrides).length > 0 ? overrides : undefined,
      });
      p = preparePrompty(flow, this.connections, process.env, this.fallback);
      this.cache.set(key, p);
    }
    return p;
  }
}
