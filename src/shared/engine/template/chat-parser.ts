/**
 * `parse_chat`: a rendered chat prompt → chat messages, exactly as Prompt Flow's tools split it
 * (promptflow-formats.md §2.4, images §2.6).
 * @module
 */
import { ChatParseError } from './errors.js';
import { isPyWs, pyStrip, type ImageValue } from './image.js';
import type { EscapeMap } from './prompt-result.js';
import { parsePythonLiteral } from './py-literal.js';

/** The roles a chat prompt may use, in Prompt Flow's order (used in the error message). */
export const VALID_ROLES: readonly string[] = ['system', 'user', 'assistant', 'function', 'tool'];

export type ChatContentPart =
  { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail: string } };

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

/*
 * Prompt Flow finds a message's `name:`/`tool_call_id:` header and `tool_calls:` list with `re.search` over
 * patterns such as `\n*#{0,2}\s*name\s*:\s*\n+\s*(\S+)\s*\n*#{0,2}\s*content\s*:\s*\n?(.*)`. Run as regexes,
 * their adjacent `\s*`/`\n+` backtrack polynomially: 4,000 newlines after `name:` took two minutes. The scans below
 * give the same matches in linear time. The optional leading `\n*#{0,2}\s*` never changes what is captured (the
 * leftmost match starts its key at the first position where the rest matches), so the scans start at the key.
 */
const skipWs = (s: string, i: number): number => {
  while (i < s.length && isPyWs(s.charCodeAt(i))) i++;
  return i;
};

/** After `KEY`: `\s*:` then a whitespace run holding a newline; the index after it, or -1. */
function afterKeyColonNewline(s: string, end: number): number {
  const colon = skipWs(s, end);
  if (s[colon] !== ':') return -1;
  const i = skipWs(s, colon + 1);
  return s.slice(colon + 1, i).includes('\n') ? i : -1;
}

/** `\s*\n*#{0,2}\s*content\s*:\s*\n?(.*)` at `q`: the captured rest, or undefined. */
function contentAt(s: string, q: number): string | undefined {
  const r = skipWs(s, q);
  let h = 0;
  while (h < 2 && s[r + h] === '#') h++;
  const t = skipWs(s, r + h);
  if (!s.startsWith('content', t)) return undefined;
  const colon = skipWs(s, t + 7);
  if (s[colon] !== ':') return undefined;
  return s.slice(skipWs(s, colon + 1));
}

/** `KEY:\n<token>\ncontent:\n<rest>` (key `name` or `tool_call_id`): [token, rest], or undefined. */
export function keyAndContent(chunk: string, key: string): [string, string] | undefined {
  for (let p = chunk.indexOf(key); p >= 0; p = chunk.indexOf(key, p + 1)) {
    const a = afterKeyColonNewline(chunk, p + key.length);
    if (a < 0 || a >= chunk.length) continue;
    let e = a;
    while (e < chunk.length && !isPyWs(chunk.charCodeAt(e))) e++;
    // `(\S+)` is greedy: the longest token after which the content header follows.
    for (let q = e; q > a; q--) {
      const rest = contentAt(chunk, q);
      if (rest !== undefined) return [chunk.slice(a, q), rest];
    }
  }
  return undefined;
}

/** `tool_calls:\n[ … ]` up to the first `]`: the bracketed text, or undefined. */
export function toolCallsText(chunk: string): string | undefined {
  for (let p = chunk.indexOf('tool_calls'); p >= 0; p = chunk.indexOf('tool_calls', p + 1)) {
    const i = afterKeyColonNewline(chunk, p + 'tool_calls'.length);
    if (i < 0 || chunk[i] !== '[') continue;
    const close = chunk.indexOf(']', i + 1);
    if (close >= 0) return chunk.slice(i, close + 1);
  }
  return undefined;
}

/** A role-marker line: where it starts and ends (after its last newline) and the role word as written. */
export interface RoleLine {
  start: number;
  end: number;
  role: string;
}

const roleWords = new Map<string, RegExp>();
const roleWord = (role: string): RegExp => {
  let re = roleWords.get(role);
  if (!re) {
    re = new RegExp(role.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'iuy');
    roleWords.set(role, re);
  }
  return re;
};

/**
 * Prompt Flow's role markers, `(?im)^\s*#?\s*(system|user|…)\s*:\s*\n` (a line with an optional single `#`, a
 * role word and `:`, case-insensitive, the marker running to the last newline of the whitespace after the colon),
 * found by a scan: as a regex its adjacent `\s*` backtrack polynomially on long whitespace runs, and rendered
 * prompts carry users' data. `^` follows only `\n`, as in Python.
 */
export function findRoleLines(text: string, roles: readonly string[] = VALID_ROLES): RoleLine[] {
  const found: RoleLine[] = [];
  let s = 0;
  while (s <= text.length) {
    const r = skipWs(text, s);
    let at = r;
    if (text[at] === '#') at = skipWs(text, at + 1);
    let matched: RoleLine | undefined;
    for (const role of roles) {
      const word = roleWord(role);
      word.lastIndex = at;
      if (!word.test(text)) continue;
      const colon = skipWs(text, word.lastIndex);
      if (text[colon] !== ':') continue;
      const nl = text.lastIndexOf('\n', skipWs(text, colon + 1) - 1);
      if (nl > colon) {
        matched = { start: s, end: nl + 1, role: text.slice(at, word.lastIndex) };
        break;
      }
    }
    if (matched) {
      found.push(matched);
      s = matched.end;
      continue;
    }
    // Every line start inside the whitespace run [s, r) reaches the same r, and fails the same way.
    const next = text.indexOf('\n', r);
    if (next < 0) break;
    s = next + 1;
  }
  return found;
}

/** `re.split` of a chat prompt on its role markers: text, role, text, role, …, text. */
function splitOnRoles(text: string, roles: readonly string[]): string[] {
  const parts: string[] = [];
  let prev = 0;
  for (const line of findRoleLines(text, roles)) {
    parts.push(text.slice(prev, line.start), line.role);
    prev = line.end;
  }
  parts.push(text.slice(prev));
  return parts;
}

function invalidRole(role: string, validRoles: readonly string[], escapeMap?: EscapeMap): ChatParseError {
  let shown = role;
  for (const [placeholder, word] of escapeMap ?? []) shown = shown.split(placeholder).join(word);
  // The "role" is whatever text preceded the first marker — possibly megabytes of data: show its start only.
  if (shown.length > 200) shown = `${shown.slice(0, 200)}… (${shown.length} characters)`;
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
  const chunks = splitOnRoles(text, validRoles);
  const messages: ChatMessage[] = [];
  for (const chunk of chunks) {
    const last = messages[messages.length - 1];
    if (last && last.role === 'tool' && !('content' in last)) {
      const m = keyAndContent(chunk, 'tool_call_id');
      if (!m) throw new ChatParseError('ChatAPIToolRoleInvalidFormat', TOOL_FORMAT);
      last.tool_call_id = m[0];
      last.content = toContent(m[1], images, detail);
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
      const m = keyAndContent(chunk, 'name');
      if (m) {
        last.name = m[0];
        last.content = toContent(m[1], images, detail);
      } else if (last.role === 'function')
        throw new ChatParseError('ChatAPIFunctionRoleInvalidFormat', FUNCTION_FORMAT);
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
  const text = toolCallsText(chunk);
  if (text === undefined) return undefined;
  const value = parsePythonLiteral(text);
  // literal_eval of a bracketed text yields a list (or a list comprehension error): anything else is ignored.
  return Array.isArray(value) ? value : undefined;
}
