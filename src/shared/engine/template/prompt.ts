/**
 * The two template-driven tools: the `prompt` node (`render_template_jinja2`) and the message building of the
 * LLM chat tools (`build_messages`), with role-injection escaping (promptflow-formats.md §2.2, §2.4, §2.5).
 * @module
 */
import { parseChat, type ChatMessage } from './chat-parser.js';
import { JinjaTemplateError } from './errors.js';
import { buildEscapeMap, escapeInputs, unescapeMessages, unescapeRoles } from './escape.js';
import type { ImageValue } from './image.js';
import { PromptResult, type EscapeMap } from './prompt-result.js';
import { toChatInputList } from './py-value.js';
import type { CompiledTemplate } from './template.js';

/**
 * Runs a `prompt` node: renders the template; when an input needs escaping (a `PromptResult` carrying a map, or a
 * role line inside an input named in `inputsToEscape`), also renders with escaped inputs and keeps the map.
 * Throws `JinjaTemplateError`.
 */
export function renderPromptNode(
  template: CompiledTemplate,
  inputs: Record<string, unknown>,
  inputsToEscape: readonly string[] = [],
): PromptResult {
  const text = template.render(inputs);
  const map = buildEscapeMap(inputs, inputsToEscape);
  if (map.size === 0) return new PromptResult(text);
  const escaped = renderUnescapingErrors(template, escapeInputs(inputs, map, inputsToEscape), map, false);
  return new PromptResult(text, escaped, map);
}

export interface BuildMessagesOptions {
  /** Node inputs that are direct flow-input references (`_inputs_to_escape`). */
  inputsToEscape?: readonly string[];
  /** AzureOpenAI chat/vision tools: lists print as lines (`ChatInputList`); also makes list inputs escapable. */
  chatInputList?: boolean;
  /** Vision tools: images referenced by the inputs (see `collectImages`), turned into `image_url` parts. */
  images?: readonly ImageValue[];
  imageDetail?: string;
}

/**
 * `build_messages`: escape, render, parse into chat messages, unescape. Throws `JinjaTemplateError` or
 * `ChatParseError`. For vision tools, preprocess the template source with `preprocessImageTemplate` first.
 */
export function buildChatMessages(
  template: CompiledTemplate,
  inputs: Record<string, unknown>,
  options: BuildMessagesOptions = {},
): ChatMessage[] {
  const inputsToEscape = options.inputsToEscape ?? [];
  const kwargs = options.chatInputList ? (toChatInputList(inputs) as Record<string, unknown>) : inputs;
  const map = buildEscapeMap(kwargs, inputsToEscape);
  const text = renderUnescapingErrors(template, escapeInputs(kwargs, map, inputsToEscape), map, false);
  const messages = parseChat(text, { images: options.images, imageDetail: options.imageDetail, escapeMap: map });
  return unescapeMessages(messages, map);
}

/** Renders; a render error's message shows role words, not placeholders (as Prompt Flow does). */
function renderUnescapingErrors(
  template: CompiledTemplate,
  vars: Record<string, unknown>,
  map: EscapeMap,
  chatInputList: boolean,
): string {
  try {
    return template.render(vars, { chatInputList });
  } catch (err) {
    if (err instanceof JinjaTemplateError && map.size > 0)
      throw new JinjaTemplateError(err.pyType, unescapeRoles(err.reason, map), { cause: err });
    throw err;
  }
}
