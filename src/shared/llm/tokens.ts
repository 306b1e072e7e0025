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

/** Texts up to this length are encoded whole. */
const WHOLE = 1024;
/** A run with no word boundary is cut this often: BPE merging is quadratic in the length of one pre-token. */
const HARD_CUT = 64;

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;

/**
 * Splits a long text where the tokenizer's pre-split would cut anyway (before a space that starts a word, or at
 * a line start), so counts stay exact for ordinary text; a run without such a place (one 8 MB "word") is cut
 * every HARD_CUT characters, which keeps its cost linear (the count is then close, not exact).
 */
function pieces(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    const end = Math.min(start + WHOLE, text.length);
    let cut = end;
    if (end < text.length) {
      cut = -1;
      // Only the window's last quarter is searched: the cost stays linear even in a run without any boundary.
      for (let i = end; i > Math.max(start + 1, end - WHOLE / 4); i--) {
        const c = text.charCodeAt(i);
        const before = text.charCodeAt(i - 1);
        if ((c === 32 && !isSpace(before) && !isSpace(text.charCodeAt(i + 1))) || (before === 10 && !isSpace(c))) {
          cut = i;
          break;
        }
      }
      if (cut < 0) cut = Math.min(start + HARD_CUT, text.length);
    }
    out.push(text.slice(start, cut));
    start = cut;
  }
  return out;
}

function encodeBounded(enc: Encoding, text: string): number[] {
  if (text.length <= WHOLE) return enc.encode(text, PLAIN_TEXT);
  const tokens: number[] = [];
  for (const piece of pieces(text)) for (const t of enc.encode(piece, PLAIN_TEXT)) tokens.push(t);
  return tokens;
}

/** Tokens of a plain text (linear time whatever the text: see `pieces`). */
export function countTextTokens(text: string, model?: string): number {
  if (text.length === 0) return 0;
  const enc = encodingFor(model);
  if (text.length <= WHOLE) return enc.encode(text, PLAIN_TEXT).length;
  let n = 0;
  for (const piece of pieces(text)) n += enc.encode(piece, PLAIN_TEXT).length;
  return n;
}

/** The first `max` tokens of a text, and whether it was cut. Only a prefix long enough for `max` tokens is encoded. */
export function truncateToTokens(text: string, max: number, model?: string): { text: string; truncated: boolean } {
  const enc = encodingFor(model);
  // No token is longer than 256 characters in these encodings' vocabularies.
  const prefix = text.length > (max + 1) * 256 ? text.slice(0, (max + 1) * 256) : text;
  const tokens = encodeBounded(enc, prefix);
  if (tokens.length <= max && prefix.length === text.length) return { text, truncated: false };
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
