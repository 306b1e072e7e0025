/**
 * Response bodies in the OpenAI shapes, including the SSE chunks of a streamed chat completion.
 * `created` is a fixed instant so a response is a pure function of its request.
 * @module
 */
import type { PlannedChat, PlannedCompletion } from './answers.js';

/** 2025-01-01T00:00:00Z — the `created` of every response, for determinism. */
export const CREATED = 1735689600;

/** The model name the server reports: it never pretends to be the requested model. */
export function standInModel(requested: string): string {
  return `llmops-local-model/${requested}`;
}

function usage(prompt: number, completion: number) {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function chatCompletion(id: string, model: string, plan: PlannedChat): object {
  const choices = [];
  for (let index = 0; index < plan.n; index++) {
    choices.push({ index, message: plan.message, logprobs: null, finish_reason: plan.finishReason });
  }
  return {
    id,
    object: 'chat.completion',
    created: CREATED,
    model: standInModel(model),
    system_fingerprint: 'llmops-local',
    choices,
    usage: usage(plan.promptTokens, plan.completionTokens),
  };
}

/** The SSE events of a streamed chat completion: role, content pieces (word by word), finish, optional usage. */
export function chatChunks(id: string, model: string, plan: PlannedChat, includeUsage: boolean): string[] {
  const base = {
    id,
    object: 'chat.completion.chunk',
    created: CREATED,
    model: standInModel(model),
    system_fingerprint: 'llmops-local',
  };
  const events: string[] = [];
  const emit = (choices: object[], extra: object = {}) =>
    events.push(`data: ${JSON.stringify({ ...base, choices, ...extra })}\n\n`);
  const pieces = plan.message.content === null ? [] : (plan.message.content.match(/\s*\S+\s*|\s+/g) ?? []);
  for (let index = 0; index < plan.n; index++) {
    emit([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
    for (const content of pieces) emit([{ index, delta: { content }, logprobs: null, finish_reason: null }]);
    if (plan.message.tool_calls) {
      const tool_calls = plan.message.tool_calls.map((c, i) => ({ index: i, ...c }));
      emit([{ index, delta: { tool_calls }, logprobs: null, finish_reason: null }]);
    }
    if (plan.message.function_call)
      emit([{ index, delta: { function_call: plan.message.function_call }, logprobs: null, finish_reason: null }]);
    emit([{ index, delta: {}, logprobs: null, finish_reason: plan.finishReason }]);
  }
  if (includeUsage) emit([], { usage: usage(plan.promptTokens, plan.completionTokens) });
  events.push('data: [DONE]\n\n');
  return events;
}

export function textCompletion(id: string, model: string, plan: PlannedCompletion): object {
  return {
    id,
    object: 'text_completion',
    created: CREATED,
    model: standInModel(model),
    choices: plan.choices.map((c, index) => ({ index, text: c.text, logprobs: null, finish_reason: c.finishReason })),
    usage: usage(plan.promptTokens, plan.completionTokens),
  };
}

export function embeddingList(model: string, vectors: (number[] | string)[], promptTokens: number): object {
  return {
    object: 'list',
    data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
    model: standInModel(model),
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

export function modelList(): object {
  return {
    object: 'list',
    data: [{ id: 'llmops-local-model', object: 'model', created: CREATED, owned_by: 'llmops' }],
  };
}
