/**
 * The built-in LLM tools (promptflow-formats.md §2.3, §2.6): `AzureOpenAI.chat/completion`,
 * `OpenAI.chat/completion`, the `promptflow.tools.llm.llm` tool and the vision tools. Which node inputs are API
 * parameters (typed, §1.6) and which are template variables — with the deployment_name/model swap by provider —
 * the request body, and the output.
 * @module
 */
import type { Connection } from '../config/connections.js';
import { ConfigError } from '../errors.js';
import { buildChatMessages, collectImages, compileTemplate, type CompiledTemplate } from './template/index.js';
import { LineFailure } from './line-error.js';
import type { LlmService, Usage } from './llm-service.js';

export type Provider = 'AzureOpenAI' | 'OpenAI';
export type ChatApi = 'chat' | 'completion';

/** Provider of a connection (§2.3 step 1); other types cannot back an llm node. */
export function providerOf(c: Connection, where: string): Provider {
  if (c.type === 'AzureOpenAIConnection') return 'AzureOpenAI';
  if (c.type === 'OpenAIConnection' || c.type === 'ServerlessConnection') return 'OpenAI';
  throw ConfigError.at(
    { file: where },
    `connection "${c.name}" has type ${c.type}; an llm node needs an AzureOpenAIConnection, OpenAIConnection or ServerlessConnection (InvalidConnectionType)`,
  );
}

const COMMON: Record<string, string> = {
  temperature: 'double',
  top_p: 'double',
  stream: 'bool',
  stop: 'list',
  max_tokens: 'int',
  presence_penalty: 'double',
  frequency_penalty: 'double',
  logit_bias: 'object',
  user: 'string',
  response_format: 'object',
  seed: 'int',
};
const CHAT_ONLY: Record<string, string> = {
  functions: 'list',
  function_call: 'object',
  tools: 'list',
  tool_choice: 'object',
};
const COMPLETION_ONLY: Record<string, string> = {
  suffix: 'string',
  logprobs: 'int',
  echo: 'bool',
  best_of: 'int',
  n: 'int',
};

/** The tool's declared parameters (name → ValueType): the rest of the node inputs are template variables. */
export function llmParamTypes(provider: Provider, api: ChatApi): Record<string, string> {
  const model: Record<string, string> =
    provider === 'AzureOpenAI' ? { deployment_name: 'string' } : { model: 'string' };
  const n: Record<string, string> = provider === 'AzureOpenAI' ? { n: 'int' } : {};
  return api === 'chat' ? { ...model, ...n, ...COMMON, ...CHAT_ONLY } : { ...model, ...COMMON, ...COMPLETION_ONLY };
}

const VISION_PARAMS: Record<string, string> = {
  temperature: 'double',
  top_p: 'double',
  stop: 'list',
  max_tokens: 'int',
  presence_penalty: 'double',
  frequency_penalty: 'double',
  seed: 'int',
  detail: 'string',
};
/** Parameters of the vision tools (aoai_gpt4v / openai_gpt4v / llm_vision). */
export function visionParamTypes(provider: Provider): Record<string, string> {
  return {
    ...(provider === 'AzureOpenAI' ? { deployment_name: 'string' } : { model: 'string' }),
    connection: 'connection',
    ...VISION_PARAMS,
  };
}

const isEmpty = (v: unknown) =>
  v === undefined ||
  v === null ||
  v === '' ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

/** The request body, as Prompt Flow's tools send it (which params always, which only when set). */
export function requestBody(
  provider: Provider,
  api: ChatApi,
  p: Record<string, unknown>,
  content: { messages?: unknown[]; prompt?: string },
  vision = false,
): Record<string, unknown> {
  const model = provider === 'AzureOpenAI' ? p.deployment_name : p.model;
  const body: Record<string, unknown> = { model: model ?? '' };
  if (api === 'chat') body.messages = content.messages;
  else body.prompt = content.prompt;
  body.temperature = num(p.temperature ?? 1);
  body.top_p = num(p.top_p ?? 1);
  if (!vision) {
    if (provider === 'AzureOpenAI' || api === 'completion') body.n = p.n ?? 1;
    body.stream = false;
  }
  if (!isEmpty(p.stop)) body.stop = p.stop;
  const maxTokens = p.max_tokens ?? (api === 'completion' ? 16 : undefined);
  if (maxTokens !== undefined && maxTokens !== null && maxTokens !== 'inf')
    body.max_tokens = Math.trunc(num(maxTokens));
  const penaltyDefault = vision ? 0 : undefined;
  const presence = p.presence_penalty ?? penaltyDefault;
  const frequency = p.frequency_penalty ?? penaltyDefault;
  if (presence !== undefined && presence !== null) body.presence_penalty = num(presence);
  if (frequency !== undefined && frequency !== null) body.frequency_penalty = num(frequency);
  if (!isEmpty(p.logit_bias)) body.logit_bias = p.logit_bias;
  if (!isEmpty(p.user)) body.user = p.user;
  if (api === 'chat') {
    if (!isEmpty(p.tools)) {
      validateTools(p.tools as unknown[]);
      body.tools = p.tools;
      body.tool_choice = p.tool_choice ?? (provider === 'AzureOpenAI' ? 'auto' : undefined);
      if (body.tool_choice === undefined) delete body.tool_choice;
    } else if (!isEmpty(p.functions)) {
      validateFunctions(p.functions as unknown[]);
      body.functions = p.functions;
      body.function_call = p.function_call ?? 'auto';
    }
  } else {
    for (const k of ['suffix', 'logprobs', 'echo', 'best_of']) if (p[k] !== undefined && p[k] !== null) body[k] = p[k];
  }
  if (p.response_format && !isEmpty(p.response_format)) body.response_format = p.response_format;
  if (p.seed !== undefined && p.seed !== null) body.seed = p.seed;
  return body;
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function validateFunctions(fns: unknown[]): void {
  for (const f of fns) {
    const fn = f as { name?: unknown; parameters?: { type?: unknown; properties?: unknown } };
    if (
      !fn ||
      typeof fn.name !== 'string' ||
      !fn.parameters ||
      fn.parameters.type !== 'object' ||
      typeof fn.parameters.properties !== 'object'
    ) {
      throw new LineFailure(
        `Function ${JSON.stringify(f)} is invalid: each function needs a 'name' and 'parameters' of type 'object' with 'properties'.`,
        ['ToolExecutionError', 'ChatAPIInvalidFunctions'],
      );
    }
  }
}

function validateTools(tools: unknown[]): void {
  for (const t of tools) {
    const tool = t as { type?: unknown; function?: unknown };
    if (!tool || typeof tool.type !== 'string' || !tool.function)
      throw new LineFailure(`Tool ${JSON.stringify(t)} is invalid: each tool needs 'type' and 'function'.`, [
        'ToolExecutionError',
        'ChatAPIInvalidTools',
      ]);
  }
}

/** The tool's output (§2.3): the first choice's content, or its whole message when functions/tools were sent; completion → text. */
export function toolOutput(api: ChatApi, body: Record<string, unknown>, response: unknown): unknown {
  const choice = (response as { choices?: Array<{ message?: Record<string, unknown>; text?: string }> })?.choices?.[0];
  if (!choice) throw new LineFailure('The model returned no choices.', ['OpenAIError', 'LLMError']);
  if (api === 'completion') return choice.text ?? '';
  if (body.functions !== undefined || body.tools !== undefined) return choice.message ?? null;
  return choice.message?.content ?? null;
}

/** One run of an LLM tool: render/parse the prompt, call the model, return the tool's output. */
export interface LlmToolCall {
  provider: Provider;
  api: ChatApi;
  connection: Connection;
  template: CompiledTemplate;
  /** Typed API parameters. */
  params: Record<string, unknown>;
  /** Template variables. */
  vars: Record<string, unknown>;
  inputsToEscape: readonly string[];
  vision?: boolean;
  calledFrom?: string;
}

/**
 * Renders the prompt, calls the model, shapes the output. A `then` rather than an async function: a line waiting
 * for the model keeps one callback alive instead of a suspended frame (bench/README-serve.md). Errors of the
 * rendering reject the promise, as before.
 */
export function runLlmTool(
  service: LlmService,
  call: LlmToolCall,
  usage: Usage[],
  signal?: AbortSignal,
): Promise<unknown> {
  let body: Record<string, unknown>;
  try {
    body = llmRequestBody(call);
  } catch (e) {
    return Promise.reject(e as Error);
  }
  return service
    .call(call.api, call.connection, body, usage, signal, call.calledFrom)
    .then((result) => toolOutput(call.api, body, result.response));
}

function llmRequestBody(call: LlmToolCall): Record<string, unknown> {
  const chatList = call.provider === 'AzureOpenAI';
  let content: { messages?: unknown[]; prompt?: string };
  if (call.api === 'chat') {
    const images = call.vision ? collectImages(Object.values(call.vars)) : undefined;
    const imageDetail = call.vision ? String(call.params.detail ?? 'auto') : undefined;
    content = {
      messages: buildChatMessages(call.template, call.vars, {
        inputsToEscape: call.inputsToEscape,
        chatInputList: chatList || call.vision,
        images,
        imageDetail,
      }),
    };
  } else {
    content = { prompt: call.template.render(call.vars) };
  }
  return requestBody(call.provider, call.api, call.params, content, call.vision);
}

const templateCache = new Map<string, CompiledTemplate>();
/** A template given as a value at run time (a `prompt` input overriding the file): compiled once per text. */
export function templateOf(text: string): CompiledTemplate {
  let t = templateCache.get(text);
  if (!t) {
    if (templateCache.size > 256) templateCache.clear();
    t = compileTemplate(text);
    templateCache.set(text, t);
  }
  return t;
}
