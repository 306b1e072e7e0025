/**
 * `parse_chat`: a rendered chat prompt → chat messages, exactly as Prompt Flow's tools split it
 * (promptflow-formats.md §2.4, images §2.6).
 * @module
 */
import { ChatParseError } from './errors.js';
import { PY_WHITESPACE_CLASS, pyStrip, type ImageValue } from './image.js';
import type { EscapeMap } from './prompt-result.js';
import { parsePythonLiteral } from './py-literal.js';

/** The roles a chat prompt may use, in Prompt Flow's order (used in the error message). */
export const VALID_ROLES: readonly string[] = ['system', 'user', 'assistant', 'function', 'tool'];

export type ChatContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail: string } };

/** One parsed message; keys appear in Prompt Flow's order (role, name/tool_call_id, content). */
export interface ChatMessage {
  role: string;
  name?: string;
  tool_call_id?: string;
  content?: string | ChatContentPart[];
  /** Assistant tool calls written as a Python list literal after `tool_calls:`. */
  tool_calls?: unknown[];
}

export interface ParseChatOptions {
  /** Images referenced by the inputs: a content line equal to `Image(<hash>)` becomes an `image_url` part. */
  images?: readonly ImageValue[];
  /** `detail` of image parts (vision tools' `detail` input); default `auto`. */
  imageDetail?: string;
  validRoles?: readonly string[];
  /** Only used to show an invalid role unescaped in the error message. */
  escapeMap?: EscapeMap;
}

const WS = `[${PY_WHITESPACE_CLASS}]`;
const NWS = `[^${PY_WHITESPACE_CLASS}]`;
const NAME_CONTENT = new RegExp(`\\n*#{0,2}${WS}*name${WS}*:${WS}*\\n+${WS}*(${NWS}+)${WS}*\\n*#{0,2}${WS}*content${WS}*:${WS}*\\n?([\\s\\S]*)`);
const TOOL_CALL_ID_CONTENT = new RegExp(`\\n*#{0,2}${WS}*tool_call_id${WS}*:${WS}*\\n+${WS}*(${NWS}+)${WS}*\\n*#{0,2}${WS}*content${WS}*:${WS}*\\n?([\\s\\S]*)`);
const TOOL_CALLS = new RegExp(`\\n*#{0,2}${WS}*tool_calls${WS}*:${WS}*\\n+${WS}*(\\[[\\s\\S]*?\\])`);

const separators = new Map<string, RegExp>();

/**
 * The role-marker regex: a line with an optional single `#`, a role word and `:` (case-insensitive). Python's
 * multiline `^` follows only `\n` (JS's `m` flag would also match after `\r`), hence the lookbehind.
 */
export function roleSeparator(roles: readonly string[] = VALID_ROLES, flags = 'giu'): RegExp {
  const key = `${roles.join('|')}/${flags}`;
  let re = separators.get(key);
  if (!re) {
    re = new RegExp(`(?<![^\\n])${WS}*#?${WS}*(${roles.join('|')})${WS}*:${WS}*\\n`, flags);
    separators.set(key, re);
  }
  re.lastIndex = 0;
  return re;
}

function invalidRole(role: string, validRoles: readonly string[], escapeMap?: EscapeMap): ChatParseError {
  let shown = role;
  for (const [placeholder, word] of escapeMap ?? []) shown = shown.split(placeholder).join(word);
  const valid = validRoles.map((r) => `'${r}:\\n'`).join(',');
  return new ChatParseError(
    'ChatAPIInvalidRole',
    `The Chat API requires a specific format for prompt definition, and the prompt should include separate lines as role delimiters: ${valid}. ` +
      `Current parsed role '${shown}' does not meet the requirement. If you intend to use the Completion API, please select the appropriate API type and deployment name. ` +
      `If you do intend to use the Chat API, please refer to the guideline at https://aka.ms/pfdoc/chat-prompt or view the samples in our gallery that contain 'Chat' in the name.`,
  );
}

const FUNCTION_FORMAT =
  "Failed to parse function role prompt. Please make sure the prompt follows the format: 'name:\\nfunction_name\\ncontent:\\nfunction_content'. " +
  "'name' is required if role is function, and it should be the name of the function whose response is in the content. May contain a-z, A-Z, 0-9, and underscores, " +
  "with a maximum length of 64 characters. See more details in https://platform.openai.com/docs/api-reference/chat/create#chat/create-name or view sample 'How to use functions with chat models' in our gallery.";

const TOOL_FORMAT =
  "Failed to parse tool role prompt. Please make sure the prompt follows the format: 'tool_call_id:\\ntool_call_id\\ncontent:\\ntool_content'. " +
  "'tool_call_id' is required if role is tool, and it should be the tool call that this message is responding to. See more details in https://platform.openai.com/docs/api-reference/chat/create#chat-create-messages";

/** `to_content_str_or_list`: the stripped text, or text/image parts when a line names a referenced image. */
export function toContent(text: string, images: Map<string, ImageValue>, detail: string): string | ChatContentPart[] {
  const stripped = pyStrip(text);
  if (images.size === 0) return stripped;
  const parts: ChatContentPart[] = [];
  let hasImage = false;
  for (const line of stripped.split('\n')) {
    const key = pyStrip(line);
    const image = images.get(key);
    if (image) {
      parts.push({ type: 'image_url', image_url: { url: image.toUrl(), detail } });
      hasImage = true;
    } else if (key !== '') parts.push({ type: 'text', text: line });
  }
  return hasImage ? parts : stripped;
}

/**
 * Splits a rendered chat prompt into messages. Throws `ChatParseError` with code `ChatAPIInvalidRole` (text before
 * the first role line, or no role line), `ChatAPIFunctionRoleInvalidFormat` (function message without `name:`),
 * or `ChatAPIToolRoleInvalidFormat` (tool message without `tool_call_id:`).
 */
export function parseChat(text: string, options: ParseChatOptions = {}): ChatMessage[] {
  const validRoles = options.validRoles ?? VALID_ROLES;
  const detail = options.imageDetail ?? 'auto';
  const images = new Map((options.images ?? []).map((img) => [img.toString(), img] as const));
  const chunks = text.split(roleSeparator(validRoles));
  const messages: ChatMessage[] = [];
  for (const chunk of chunks) {
    const last = messages[messages.length - 1];
    if (last && last.role === 'tool' && !('content' in last)) {
      const m = TOOL_CALL_ID_CONTENT.exec(chunk);
      if (!m) throw new ChatParseError('ChatAPIToolRoleInvalidFormat', TOOL_FORMAT);
      last.tool_call_id = m[1]!;
      last.content = toContent(m[2]!, images, detail);
      continue;
    }
    if (last && last.role === 'assistant') {
      const calls = parseToolCalls(chunk);
      if (calls !== undefined) {
        last.tool_calls = calls;
        continue;
      }
    }
    if (last && !('content' in last) && !('tool_calls' in last)) {
      const m = NAME_CONTENT.exec(chunk);
      if (m) {
        last.name = m[1]!;
        last.content = toContent(m[2]!, images, detail);
      } else if (last.role === 'function') throw new ChatParseError('ChatAPIFunctionRoleInvalidFormat', FUNCTION_FORMAT);
      else last.content = toContent(chunk, images, detail);
      continue;
    }
    if (pyStrip(chunk) === '') continue;
    const role = pyStrip(chunk).toLowerCase();
    if (!validRoles.includes(role)) throw invalidRole(role, validRoles, options.escapeMap);
    messages.push({ role });
  }
  return messages;
}

function parseToolCalls(chunk: string): unknown[] | undefined {
  const m = TOOL_CALLS.exec(chunk);
  if (!m) return undefined;
  const value = parsePythonLiteral(m[1]!);
  // literal_eval of a bracketed text yields a list (or a list comprehension error): anything else is ignored.
  return Array.isArray(value) ? value : undefined;
}
