/**
 * Regular-expression match of an output.
 * @module
 */

export interface RegexMatchOptions {
  /** Flags for a string pattern (e.g. 'i', 'u', 's', 'm'); 'g' and 'y' are ignored. */
  flags?: string;
  /** Require the whole text to match, not just a part; default false (search anywhere). */
  fullMatch?: boolean;
}

const compiled = new Map<string, RegExp>();

/** The pattern as a stateless RegExp: 'g'/'y' would carry lastIndex from one line to the next. */
function toRegExp(pattern: string | RegExp, flags: string, fullMatch: boolean): RegExp {
  const source = typeof pattern === 'string' ? pattern : pattern.source;
  const allFlags = (typeof pattern === 'string' ? flags : pattern.flags).replace(/[gy]/g, '');
  const key = `${fullMatch ? 1 : 0}/${allFlags}/${source}`;
  let re = compiled.get(key);
  if (!re) {
    re = new RegExp(fullMatch ? `^(?:${source})$` : source, allFlags);
    if (compiled.size > 1000) compiled.clear();
    compiled.set(key, re);
  }
  return re;
}

/**
 * 1 when `text` matches the JavaScript regular expression, else 0. A string pattern is compiled
 * once and cached. With `fullMatch` the pattern must span the whole text (like Python's re.fullmatch).
 * @throws SyntaxError for an invalid pattern.
 */
export function regexMatch(text: string, pattern: string | RegExp, options: RegexMatchOptions = {}): 0 | 1 {
  return toRegExp(pattern, options.flags ?? '', options.fullMatch ?? false).test(text) ? 1 : 0;
}
