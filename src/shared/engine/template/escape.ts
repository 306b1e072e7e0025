/**
 * Role-injection escaping (Prompt Flow's `Escaper`, promptflow-formats.md §2.5): role words that appear on
 * role-marker lines inside flow-input values are swapped for random UUIDs before rendering and swapped back in
 * the parsed messages, so user text can never open a new chat message.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { findRoleLines } from './chat-parser.js';
import type { ChatMessage } from './chat-parser.js';
import { PromptResult, type EscapeMap } from './prompt-result.js';
import { ChatInputList, isDict } from './py-value.js';

function replaceAll(s: string, from: string, to: string): string {
  return s.split(from).join(to);
}

/**
 * `build_flow_input_escape_dict`: adds a placeholder for each role word (as written) found on a role-marker line
 * of a string inside `value`. Recurses into dicts and `ChatInputList`s only — plain lists are left alone, as in
 * Prompt Flow (so OpenAI-provider and prompt-node list inputs are not escaped).
 */
export function addEscapesFor(value: unknown, map: EscapeMap): EscapeMap {
  if (value instanceof ChatInputList) for (const item of value) addEscapesFor(item, map);
  else if (isDict(value)) for (const key of Object.keys(value)) addEscapesFor(value[key], map);
  // A role line needs a ':' and a newline: most values have neither, and skip the regex scan.
  else if (typeof value === 'string' && value.includes(':') && value.includes('\n')) {
    const known = new Set(map.values());
    for (const line of findRoleLines(value)) {
      const role = line.role;
      if (!known.has(role)) {
        map.set(randomUUID(), role);
        known.add(role);
      }
    }
  }
  return map;
}

/** `escape_roles_in_flow_input`: a copy of `value` with every occurrence of each mapped role word replaced. */
export function escapeRoles(value: unknown, map: EscapeMap): unknown {
  if (map.size === 0) return value;
  if (value instanceof ChatInputList) {
    const out = new ChatInputList();
    for (const item of value) out.push(escapeRoles(item, map));
    return out;
  }
  if (typeof value === 'string') {
    let s = value;
    for (const [placeholder, role] of map) s = replaceAll(s, role, placeholder);
    return s;
  }
  if (isDict(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = escapeRoles(value[key], map);
    return out;
  }
  return value;
}

/** `unescape_roles`: placeholders back to role words in a string, or in the `text` of content parts. */
export function unescapeRoles<T>(value: T, map: EscapeMap): T {
  if (map.size === 0) return value;
  if (typeof value === 'string') {
    let s: string = value;
    for (const [placeholder, role] of map) s = replaceAll(s, placeholder, role);
    return s as T;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isDict(item) && typeof item.text === 'string') item.text = unescapeRoles(item.text, map);
    }
  }
  return value;
}

/** Unescapes every field of parsed messages in place (what `build_messages` does after `parse_chat`). */
export function unescapeMessages(messages: ChatMessage[], map: EscapeMap): ChatMessage[] {
  if (map.size === 0) return messages;
  for (const message of messages) {
    const record = message as unknown as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = unescapeRoles(record[key], map);
  }
  return messages;
}

/**
 * `build_escape_dict_from_kwargs`: the maps carried by `PromptResult` inputs, then placeholders for the role
 * words in the inputs named in `inputsToEscape` (the node inputs that reference flow inputs directly).
 */
export function buildEscapeMap(inputs: Record<string, unknown>, inputsToEscape: readonly string[]): EscapeMap {
  const map: EscapeMap = new Map();
  for (const key in inputs) {
    const value = inputs[key];
    if (value instanceof PromptResult && value.needsEscape) for (const [k, v] of value.escapeMap) map.set(k, v);
  }
  // The flow inputs' placeholders come after the prompt results'. A second map only when some input is to be
  // escaped (this runs for every llm and prompt node of every line).
  let flowMap: EscapeMap | undefined;
  if (inputsToEscape.length > 0) {
    for (const key in inputs)
      if (inputsToEscape.includes(key)) flowMap = addEscapesFor(inputs[key], flowMap ?? new Map());
  }
  if (flowMap) for (const [k, v] of flowMap) map.set(k, v);
  return map;
}

/** `escape_kwargs`: prompt results replaced by their escaped text, escaped flow inputs by escaped copies. */
export function escapeInputs(
  inputs: Record<string, unknown>,
  map: EscapeMap,
  inputsToEscape: readonly string[],
): Record<string, unknown> {
  // Nothing to escape (no placeholders means no prompt result that needs its escaped text either): no copy.
  if (map.size === 0) return inputs;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(inputs)) {
    const value = inputs[key];
    if (value instanceof PromptResult && value.needsEscape) out[key] = value.escapedText;
    else if (inputsToEscape.includes(key)) out[key] = escapeRoles(value, map);
    else out[key] = value;
  }
  return out;
}
