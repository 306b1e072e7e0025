/**
 * What the local model answers: a pure function of the request, the rules and the seed.
 *
 * Default answer (no rule matched) — the **echo**:
 * - chat: one line per message received, `<role>: <text>` joined with "\n", where `<text>` is the message
 *   content (text parts of a content array concatenated, image parts as `[image]`); a message `name` shows as
 *   `<role>(<name>): …`; assistant tool calls are appended as `-> fn(<arguments>)`, comma-separated
 *   (`assistant: -> get_weather({"city":"Oslo"})` when the content is empty).
 *   Example: `system: You are terse.\nuser: Hi` .
 *   With `response_format: {type: "json_object"}` the echo is JSON instead:
 *   `{"echo":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hi"}]}`.
 * - completions: the prompt itself (one choice per prompt of an array prompt).
 *
 * Then, like a real model: the answer is cut at the first `stop` sequence (finish_reason "stop") and to
 * `max_tokens` / `max_completion_tokens` tokens (finish_reason "length"; /completions defaults to 16 tokens
 * as the OpenAI API does). `n` > 1 repeats the same choice.
 * @module
 */
import { ApiError } from './api-error.js';
import { fillJson, fillTemplate, type CompiledRule } from './rules.js';
import { hexId } from './seeded.js';
import {
  contentText,
  countChatTokens,
  countTextTokens,
  truncateToTokens,
  type CountableMessage,
} from '../shared/llm/tokens.js';

type Body = Record<string, unknown>;
type Message = CountableMessage & { tool_call_id?: unknown };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface AnswerMessage {
  role: 'assistant';
  content: string | null;
  refusal: null;
  tool_calls?: ToolCall[];
  function_call?: { name: string; arguments: string };
}

export interface PlannedChat {
  message: AnswerMessage;
  finishReason: 'stop' | 'length' | 'tool_calls' | 'function_call';
  n: number;
  promptTokens: number;
  completionTokens: number;
}

export interface PlannedCompletion {
  choices: { text: string; finishReason: 'stop' | 'length' }[];
  promptTokens: number;
  completionTokens: number;
}

/** One message in the echo format. */
export function echoLine(m: Message): string {
  const who = typeof m.name === 'string' ? `${String(m.role)}(${m.name})` : String(m.role);
  const text = contentText(m.content);
  if (!Array.isArray(m.tool_calls) || m.tool_calls.length === 0) return `${who}: ${text}`;
  const calls = (m.tool_calls as { function?: { name?: string; arguments?: string } }[]).map(
    (c) => `${c.function?.name ?? ''}(${c.function?.arguments ?? ''})`,
  );
  return `${who}: ${text ? `${text} ` : ''}-> ${calls.join(', ')}`;
}

/** All messages in the echo format. */
export function echoText(messages: readonly Message[]): string {
  return messages.map(echoLine).join('\n');
}

function lastUserText(messages: readonly Message[]): string {
  for (let i = messages.length - 1; i >= 0; i--)
    if (messages[i].role === 'user') return contentText(messages[i].content);
  return '';
}

/** The first rule matching, with its match. */
function findRule(
  rules: readonly CompiledRule[],
  model: string,
  lastUser: () => string,
  all: () => string,
  canCallTools: boolean,
) {
  for (const r of rules) {
    if (r.model && !r.model.test(model)) continue;
    if (r.rule.tool_calls && !canCallTools) continue;
    const match = r.regex.exec(r.scope === 'all' ? all() : lastUser());
    if (match) return { r, match };
  }
  return undefined;
}

function ruleError(r: CompiledRule): ApiError {
  const e = r.rule.error!;
  return new ApiError(
    e.status,
    e.message,
    e.type ?? (e.status >= 500 ? 'server_error' : 'invalid_request_error'),
    null,
    e.code ?? null,
  );
}

/** Cut at the first stop sequence, then to the token limit. */
function shape(
  text: string,
  stop: unknown,
  maxTokens: number | undefined,
  model: string,
): { text: string; finishReason: 'stop' | 'length' } {
  const stops = typeof stop === 'string' ? [stop] : Array.isArray(stop) ? (stop as string[]) : [];
  let cut = text.length;
  for (const s of stops) {
    const at = s ? text.indexOf(s) : -1;
    if (at >= 0 && at < cut) cut = at;
  }
  const stopped = cut < text.length ? text.slice(0, cut) : text;
  if (maxTokens === undefined) return { text: stopped, finishReason: 'stop' };
  const t = truncateToTokens(stopped, maxTokens, model);
  return { text: t.text, finishReason: t.truncated ? 'length' : 'stop' };
}

/** Output limit of a chat answer when the request sets no max_tokens (gpt-4o's). */
export const DEFAULT_MAX_COMPLETION_TOKENS = 16_384;

/** Plan the answer of a chat request (throws ApiError for `error:` rules). */
export function planChat(
  body: Body,
  model: string,
  rules: readonly CompiledRule[],
  requestHash: number,
  seed: number,
  /** How many times this exact request has been seen, this one included (for `answers` taken in turn). */
  sight: () => number = () => 1,
): PlannedChat {
  const messages = body.messages as Message[];
  const n = typeof body.n === 'number' ? body.n : 1;
  const promptTokens = countChatTokens(messages, model);
  const tools = Array.isArray(body.tools) && body.tools.length > 0;
  const functions = !tools && Array.isArray(body.functions) && body.functions.length > 0;
  const last = messages[messages.length - 1];
  const canCallTools = (tools || functions) && last.role !== 'tool' && last.role !== 'function';
  let echo: string | undefined;
  const all = () => (echo ??= echoText(messages));
  const found = findRule(rules, model, () => lastUserText(messages), all, canCallTools);

  if (found?.r.rule.error) throw ruleError(found.r);
  if (found?.r.rule.tool_calls) {
    const calls = found.r.rule.tool_calls.map((c, i) => {
      const args = c.arguments === undefined ? {} : fillJson(c.arguments, found.match);
      return { name: c.name, arguments: typeof args === 'string' ? args : JSON.stringify(args), i };
    });
    const completionTokens = n * countTextTokens(JSON.stringify(calls), model);
    if (functions) {
      const { name, arguments: a } = calls[0];
      return {
        message: { role: 'assistant', content: null, refusal: null, function_call: { name, arguments: a } },
        finishReason: 'function_call',
        n,
        promptTokens,
        completionTokens,
      };
    }
    const toolCalls: ToolCall[] = calls.map((c) => ({
      id: `call_${hexId(requestHash, seed, c.i)}`,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    }));
    return {
      message: { role: 'assistant', content: null, refusal: null, tool_calls: toolCalls },
      finishReason: 'tool_calls',
      n,
      promptTokens,
      completionTokens,
    };
  }

  let text: string;
  if (found?.r.rule.json !== undefined) text = JSON.stringify(fillJson(found.r.rule.json, found.match));
  else if (found?.r.rule.answer !== undefined) text = fillTemplate(found.r.rule.answer, found.match);
  else if (found?.r.rule.answers !== undefined) {
    const answers = found.r.rule.answers;
    text = fillTemplate(answers[(sight() - 1) % answers.length], found.match);
  } else if ((body.response_format as Body | undefined)?.type === 'json_object') {
    text = JSON.stringify({ echo: messages.map((m) => ({ role: m.role, content: contentText(m.content) })) });
  } else text = all();

  // Like a real model, an answer has an output limit even when the request sets none: an echo of a 4 MB prompt
  // times n = 128 would otherwise be a 512 MB response.
  const maxTokens = (body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_COMPLETION_TOKENS) as number;
  const shaped = shape(text, body.stop, maxTokens, model);
  return {
    message: { role: 'assistant', content: shaped.text, refusal: null },
    finishReason: shaped.finishReason,
    n,
    promptTokens,
    completionTokens: n * countTextTokens(shaped.text, model),
  };
}

/** Plan the answer of a (legacy) completion request. */
export function planCompletion(body: Body, model: string, rules: readonly CompiledRule[]): PlannedCompletion {
  const prompt = body.prompt;
  const prompts: string[] =
    typeof prompt === 'string'
      ? [prompt]
      : (prompt as unknown[]).every((p) => typeof p === 'string')
        ? (prompt as string[])
        : [JSON.stringify(prompt)];
  const n = typeof body.n === 'number' ? body.n : 1;
  const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : 16;
  const choices: PlannedCompletion['choices'] = [];
  let promptTokens = 0;
  let completionTokens = 0;
  for (const p of prompts) {
    promptTokens += countTextTokens(p, model);
    const found = findRule(
      rules,
      model,
      () => p,
      () => p,
      false,
    );
    if (found?.r.rule.error) throw ruleError(found.r);
    let text = p;
    if (found?.r.rule.json !== undefined) text = JSON.stringify(fillJson(found.r.rule.json, found.match));
    else if (found?.r.rule.answer !== undefined) text = fillTemplate(found.r.rule.answer, found.match);
    const shaped = shape(text, body.stop, maxTokens, model);
    const tokens = countTextTokens(shaped.text, model);
    for (let i = 0; i < n; i++) {
      choices.push({ text: shaped.text, finishReason: shaped.finishReason });
      completionTokens += tokens;
    }
  }
  return { choices, promptTokens, completionTokens };
}
