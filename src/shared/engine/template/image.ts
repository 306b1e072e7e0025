/**
 * Image values and the `![image]({{var}})` template convention (promptflow-formats.md §2.6).
 * @module
 */
import { createHash } from 'node:crypto';

/**
 * An image flowing through a flow (Prompt Flow's `Image`, a bytes subclass). In templates it prints as
 * `Image(<first 8 hex of sha1(bytes)>)`; `parseChat` turns a line holding exactly that text into an `image_url` part.
 */
export class ImageValue {
  private hash: string | undefined;
  constructor(
    readonly bytes: Uint8Array,
    /** Lower-cased MIME type, e.g. `image/png` (`image/*` when unknown). */
    readonly mimeType: string = 'image/*',
    /** The URL the image came from, sent to the model instead of the bytes when present. */
    readonly sourceUrl?: string,
  ) {
    this.mimeType = mimeType.toLowerCase();
  }

  /** First 8 hex digits of the SHA-1 of the bytes: the image's identity inside a rendered prompt. */
  get shortHash(): string {
    this.hash ??= createHash('sha1').update(this.bytes).digest('hex').slice(0, 8);
    return this.hash;
  }

  /** Python `str(image)`: `Image(1a2b3c4d)`. */
  toString(): string {
    return `Image(${this.shortHash})`;
  }

  toBase64(): string {
    return Buffer.from(this.bytes).toString('base64');
  }

  /**
   * JSON form: Prompt Flow's base64 image dict `{"data:<mime>;base64": …}`. This is how an image crosses to the
   * Python worker (which turns it back into an `Image`); records and flow outputs write file references instead.
   */
  toJSON(): Record<string, string> {
    return { [`data:${this.mimeType};base64`]: this.toBase64() };
  }

  /** The URL Prompt Flow sends to a vision model: the source URL, else a base64 data URL. */
  toUrl(): string {
    return this.sourceUrl || `data:${this.mimeType};base64,${this.toBase64()}`;
  }
}

// Python's `\s` (str.isspace) — JS `\s` differs (it has U+FEFF, lacks U+001C–U+001F).
const PY_WS = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const IMAGE_DECORATOR = new RegExp(
  `!\\[([${PY_WS}]*image[${PY_WS}]*)\\]\\(\\{\\{([${PY_WS}]*[^${PY_WS}{}]+[${PY_WS}]*)\\}\\}\\)`,
  'g',
);

/**
 * `preprocess_template_string`: `![image]({{ var }})` becomes `\n{{ var }}\n`, so the image renders on a line of
 * its own and chat parsing can recognise it. Vision tools apply this before rendering.
 */
export function preprocessImageTemplate(template: string): string {
  return template.replace(IMAGE_DECORATOR, (_all, _label: string, expr: string) => `\n{{${expr}}}\n`);
}

const IMAGE_INPUT = new RegExp(
  `!\\[([${PY_WS}]*image[${PY_WS}]*)\\]\\(\\{\\{[${PY_WS}]*([^{}]+)[${PY_WS}]*\\}\\}\\)`,
  'g',
);

/** Names used as `![image]({{name}})` in a template: those inputs are typed `image` (tool_utils). */
export function findImageInputs(template: string): string[] {
  const names: string[] = [];
  for (const m of template.matchAll(IMAGE_INPUT)) names.push(pyStrip(m[2]!));
  return names;
}

const PY_WS_CHAR = new RegExp(`[${PY_WS}]`);

/** Whether the UTF-16 unit is Python whitespace (all of Python's whitespace is in the BMP). */
export function isPyWs(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d) || (code >= 0x1c && code <= 0x1f);
  return code >= 0x85 && PY_WS_CHAR.test(String.fromCharCode(code));
}

/**
 * Python `str.strip()` with no argument (Python's whitespace set). A scan, not a `\s+$` regex: that one is
 * quadratic on a long run of whitespace followed by other text.
 */
export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isPyWs(s.charCodeAt(a))) a++;
  while (b > a && isPyWs(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Python `str.rstrip()` with no argument. */
export function pyRstrip(s: string): string {
  let b = s.length;
  while (b > 0 && isPyWs(s.charCodeAt(b - 1))) b--;
  return b === s.length ? s : s.slice(0, b);
}

/** Python's whitespace set as a regex character-class body (without brackets). */
export const PY_WHITESPACE_CLASS = PY_WS;

/** Every `ImageValue` reachable from the values (through arrays and plain objects), in first-seen order. */
export function collectImages(values: Iterable<unknown>): ImageValue[] {
  const found = new Set<ImageValue>();
  const visit = (v: unknown): void => {
    if (v instanceof ImageValue) found.add(v);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
      Object.values(v).forEach(visit);
  };
  for (const v of values) visit(v);
  return [...found];
}
