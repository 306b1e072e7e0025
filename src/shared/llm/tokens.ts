/**
 * Token counting with the real OpenAI tokenizers (gpt-tokenizer): o200k_base for the gpt-4o / gpt-4.1 /
 * gpt-5 / o-series families, cl100k_base for everything older (gpt-4, gpt-3.5, embeddings).
 *
 * The encodings take ~0.5 s to load, so they are imported lazily: call {@link loadTokenizers} once (the
 * model server does it at start) and the synchronous counters are then ready.
 * @module
 */

/** The subset of a gpt-tokenizer encoding module we use. */
interface Encoding {
  encode(text: string, options?: { disallowedSpecial?: Set<string> }): number[];
  decode(tokens: Iterable<number>): string;
}

/** User text may contain "<|endoftext|>": count it as plain text instead of throwing. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

let o200k: Encoding | undefined;
let cl100k: Encoding | undefined;
let loading: Promise<void> | undefined;

/** Load both encodings (idempotent; the second call costs nothing). */
export function loadTokenizers(): Promise<void> {
  // One after the other: both share gpt-tokenizer's core module, and Jest's ESM loader fails when two
  // dynamic imports race to link the same dependency.
  loading ??= (async () => {
    o200k = (await import('gpt-tokenizer/encoding/o200k_base')) as unknown as Encoding;
    cl100k = (await import('gpt-tokenizer/encoding/cl100k_base')) as unknown as Encoding;
  })();
  return loading;
}

const O200K_MODELS = /(^|[/-])(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss)/i;

/** Which encoding a model uses. Names are matched loosely so Azure deployment names like `my-gpt-4o` work. */
export function encodingNameFor(model: string | undefined): 'o200k_base' | 'cl100k_base' {
  return model && O200K_MODELS.test(model) ? 'o200k_base' : 'cl100k_base';
}

function encodingFor(model: string | undefined): Encoding {
  const enc = encodingNameFor(model) === 'o200k_base' ? o200k : cl100k;
  if (!enc) throw new Error('tokenizers not loaded: await loadTokenizers() first');
  return enc;
}

/** Tokens of a plain text. */
export function countTextTokens(text: string, model?: string): number {
  if (text.length === 0) return 0;
  return encodingFor(model).encode(text, PLAIN_TEXT).length;
}

/** The first `max` tokens of a text, and whether it was cut. */
export function truncateToTokens(text: string, max: number, model?: string): { text: string; truncated: boolean } {
  const enc = encodingFor(model);
  const tokens = enc.encode(text, PLAIN_TEXT);
  if (tokens.length <= max) return { text, truncated: false };
  return { text: enc.decode(tokens.slice(0, max)), truncated: true };
}

/** A chat message as far as token counting cares. */
export interface CountableMessage {
  role?: unknown;
  name?: unknown;
  content?: unknown;
  tool_calls?: unknown;
  function_call?: unknown;
}

/**
 * Prompt tokens of a chat request, by OpenAI's published accounting for chat models: 3 tokens of framing per
 * message, +1 when a `name` is given, and 3 tokens priming the reply. Non-text content parts count their text;
 * tool calls count their JSON.
 */
export function countChatTokens(messages: readonly CountableMessage[], model?: string): number {
  let total = 3;
  for (const m of messages) {
    total += 3;
    if (typeof m.role === 'string') total += countTextTokens(m.role, model);
    if (typeof m.name === 'string') total += 1 + countTextTokens(m.name, model);
    total += countTextTokens(contentText(m.content), model);
    if (m.tool_calls !== undefined) total += countTextTokens(JSON.stringify(m.tool_calls), model);
    if (m.function_call !== undefined) total += countTextTokens(JSON.stringify(m.function_call), model);
  }
  return total;
}

/** The text of a message content: a string, or the text parts of a content array joined ("[image]" for images). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content) {
    if (typeof part === 'string') out += part;
    else if (part && typeof part === 'object') {
      const p = part as { type?: unknown; text?: unknown };
      if (typeof p.text === 'string') out += p.text;
      else if (p.type === 'image_url' || p.type === 'image') out += '[image]';
    }
  }
  return out;
}
