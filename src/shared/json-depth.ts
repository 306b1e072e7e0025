/**
 * How deep a JSON text nests, found by one scan before parsing: `JSON.parse` itself copes with any depth, but
 * every recursive walk of the result afterwards (validation, serialisation) would overflow the stack.
 * @module
 */

/** Whether the JSON text nests arrays/objects more than `limit` levels deep (strings are skipped). */
export function jsonNestsDeeper(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > limit) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}
