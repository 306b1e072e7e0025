/**
 * JSON text checks the native parser does not give: how deep a value nests (bounded, so a hostile line cannot
 * blow the stack of whatever walks it later) and where exactly a bad document goes wrong (V8's messages only
 * sometimes carry a position, never a line). Hand-written because both are small, iterative scans and no
 * well-kept library offers them without parsing the value a second time; the error locator only runs after
 * JSON.parse has already failed. Accepts Python's NaN / Infinity / -Infinity, as the data reader does.
 * @module
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The byte index at which nesting first exceeds `maxDepth` in `bytes[start, end)`, or -1. Strings are skipped.
 * A text shorter than the limit cannot exceed it, so most lines cost nothing.
 */
export function depthOverflowAt(bytes: Uint8Array, start: number, end: number, maxDepth: number): number {
  if (end - start <= maxDepth) return -1;
  let depth = 0;
  let inString = false;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      if (++depth > maxDepth) return i;
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
  return -1;
}

/** Where a JSON document is wrong: a 0-based character offset and what was expected there. */
export interface JsonFault {
  offset: number;
  message: string;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERALS = ['true', 'false', 'null', 'NaN', 'Infinity', '-Infinity'];

/**
 * The first fault of a JSON text, or undefined when it is valid JSON. `maxDepth` bounds nesting (reported as a
 * fault too). Iterative: any depth of input is scanned without recursion.
 */
export function findJsonFault(text: string, maxDepth = Infinity): JsonFault | undefined {
  const r = scanValues(text, maxDepth, false);
  return 'offset' in r ? r : undefined;
}

/** Character offsets of the elements of a top-level array (for the line of row N of a `.json` data file). */
export function topLevelElementOffsets(text: string): number[] {
  const r = scanValues(text, Infinity, true);
  return 'elements' in r ? r.elements : [];
}

type Frame = { kind: 'array' | 'object'; state: 'first' | 'value' | 'after' | 'key' | 'colon' };

function scanValues(text: string, maxDepth: number, collect: boolean): JsonFault | { elements: number[] } {
  const n = text.length;
  const elements: number[] = [];
  let i = 0;
  const stack: Frame[] = [];
  const skipWs = () => {
    while (i < n && WS.has(text.charCodeAt(i))) i++;
  };
  const found = () => (i >= n ? 'the end of the text' : JSON.stringify(text.slice(i, i + 12)));
  const fault = (expected: string): JsonFault => ({ offset: i, message: `expected ${expected}, found ${found()}` });
  const string = (): JsonFault | undefined => {
    i++;
    for (;;) {
      if (i >= n) return { offset: i, message: 'unterminated string, expected a closing "' };
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        i++;
        return undefined;
      }
      if (c < 0x20)
        return { offset: i, message: 'control character in a string, expected it escaped (\\n, \\t, \\u00XX)' };
      if (c === BACKSLASH) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6)))
            return { offset: i, message: 'bad \\u escape, expected 4 hex digits' };
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return { offset: i, message: `bad escape \\${e ?? ''} in a string` };
      } else i++;
    }
  };
  // A scalar or the opening of a container at i.
  const value = (): JsonFault | undefined => {
    skipWs();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (stack.length >= maxDepth) return { offset: i, message: `nesting deeper than ${maxDepth} levels` };
      stack.push({ kind: c === '{' ? 'object' : 'array', state: 'first' });
      i++;
      return undefined;
    }
    if (c === '"') return string();
    for (const w of LITERALS) {
      if (text.startsWith(w, i)) {
        i += w.length;
        return undefined;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fault('a value (object, array, string, number, true, false or null)');
    i = NUMBER.lastIndex;
    return undefined;
  };

  let f = value();
  if (f) return f;
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    skipWs();
    const c = text[i];
    if (top.kind === 'array') {
      if (top.state === 'first' && c === ']') {
        stack.pop();
        i++;
        continue;
      }
      if (top.state === 'first' || top.state === 'value') {
        if (collect && stack.length === 1) elements.push(i);
        top.state = 'after';
        if ((f = value())) return f;
        continue;
      }
      if (c === ',') {
        top.state = 'value';
        i++;
      } else if (c === ']') {
        stack.pop();
        i++;
      } else return fault("',' or ']' after an array element");
      continue;
    }
    // object
    if ((top.state === 'first' && c === '}') || top.state === 'after') {
      if (c === '}') {
        stack.pop();
        i++;
      } else if (c === ',') {
        top.state = 'key';
        i++;
      } else return fault("',' or '}' after a property value");
      continue;
    }
    if (top.state === 'first' || top.state === 'key') {
      if (c !== '"') return fault('a double-quoted property name');
      if ((f = string())) return f;
      top.state = 'colon';
      continue;
    }
    // colon
    if (c !== ':') return fault("':' after a property name");
    i++;
    top.state = 'after';
    if ((f = value())) return f;
  }
  skipWs();
  if (i < n) return fault('the end of the text after the value');
  return { elements };
}

/** 1-based line and column of a character offset in a text. */
export function lineColumnOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
