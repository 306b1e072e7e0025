/**
 * What the Python worker asks the engine (PROTOCOL.md "Callbacks"): Prompty calls, the aoai/openai tools,
 * embeddings, Jinja rendering and parse_chat — so LLM calls from Python share the engine's connections, cache, limits and
 * token accounting (added to the line that made them).
 * @module
 */
import type { Connection } from '../config/connections.js';
import type { PythonCallbacks } from './python-worker/index.js';
import { parseChat } from './template/index.js';
import { llmParamTypes, runLlmTool, templateOf, type ChatApi, type Provider } from './llm-tool.js';
import type { LlmService, Usage } from './llm-service.js';
import { loadTokenizers } from '../llm/index.js';
import { callPrompty, estimatePromptyTokens, renderPrompty, type PromptyCache } from './prompty-runner.js';
import type { RunContext } from './scheduler.js';

function lineOf(context: unknown): { usage: Usage[]; signal?: AbortSignal } {
  const ctx = context as RunContext | undefined;
  return { usage: ctx?.usage ?? [], signal: ctx?.signal };
}

/** A connection as the Python code passed it (a connection object encoded by the shim). */
function connectionOf(c: {
  name?: string | null;
  type?: string;
  value?: Record<string, unknown>;
  secret_keys?: string[];
}): Connection {
  return {
    name: c.name ?? 'python',
    type: c.type ?? 'AzureOpenAIConnection',
    value: (c.value ?? {}) as Connection['value'],
    secretKeys: c.secret_keys ?? [],
  };
}

export function makeCallbacks(service: LlmService, prompties: PromptyCache): PythonCallbacks {
  return {
    async prompty(req, { context }) {
      const p = prompties.get(req.path, req.overrides);
      if (req.action === 'render') return renderPrompty(p, req.inputs);
      if (req.action === 'estimate_token_count') {
        // The tokenizers load lazily (~0.5 s), only for flows that count tokens.
        await loadTokenizers();
        return estimatePromptyTokens(p, req.inputs);
      }
      const { usage, signal } = lineOf(context);
      return callPrompty(service, p, req.inputs, usage, signal);
    },
    async llm(req, { context }) {
      const connection = connectionOf(req.connection);
      const { provider: rawProvider, prompt, inputs, ...rest } = req.params as Record<string, unknown>;
      const provider: Provider =
        rawProvider === 'OpenAI'
          ? 'OpenAI'
          : rawProvider === 'AzureOpenAI'
            ? 'AzureOpenAI'
            : connection.type === 'AzureOpenAIConnection'
              ? 'AzureOpenAI'
              : 'OpenAI';
      const api: ChatApi = req.api === 'completion' ? 'completion' : 'chat';
      const types = llmParamTypes(provider, api);
      const params: Record<string, unknown> = {};
      const vars: Record<string, unknown> = { ...(inputs as Record<string, unknown> | undefined) };
      for (const [k, v] of Object.entries(rest)) {
        if (k in types) params[k] = v;
        else vars[k] = v;
      }
      const { usage, signal } = lineOf(context);
      return runLlmTool(
        service,
        { provider, api, connection, template: templateOf(String(prompt ?? '')), params, vars, inputsToEscape: [] },
        usage,
        signal,
      );
    },
    async embedding(req, { context }) {
      const connection = connectionOf(req.connection);
      const model =
        connection.type === 'AzureOpenAIConnection'
          ? (req.deployment_name ?? req.model)
          : (req.model ?? 'text-embedding-ada-002');
      const { usage, signal } = lineOf(context);
      const r = await service.call('embedding', connection, { model, input: req.input }, usage, signal);
      const data = (r.response as { data: { index: number; embedding: number[] }[] }).data;
      const vectors = [...data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      return Array.isArray(req.input) ? vectors : vectors[0];
    },
    async render(req) {
      return templateOf(req.template).render(req.inputs);
    },
    async parseChat(req) {
      return parseChat(req.text, { validRoles: req.validRoles });
    },
  };
}
