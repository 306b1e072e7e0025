/**
 * Rules of the local model server: loading (a YAML file or objects), validation with file:line:column,
 * compilation of the regexes and templating of answers.
 *
 * File format (a list, or a mapping with a `rules:` list):
 * ```yaml
 * rules:
 *   - match: "capital of (\\w+)"          # regex on the last user message
 *     flags: i
 *     answer: "The capital of {{1}} is Paris."
 *   - match: "sentiment"
 *     scope: all                           # regex on all messages (echo format)
 *     json: { sentiment: positive }        # content = JSON text (for response_format json_object)
 *   - match: "weather in (?<city>\\w+)"
 *     tool_calls: [{ name: get_weather, arguments: { city: "{{city}}" } }]
 * ```
 * @module
 */
import { resolve } from 'node:path';
import { ConfigError, type Problem } from '../shared/errors.js';
import { describeValue, formatPath, locate, readSource, type PathSegment, type SourceFile } from '../shared/source.js';
import type { Rule } from './types.js';

/** A rule ready to test. */
export interface CompiledRule {
  index: number;
  regex: RegExp;
  scope: 'last_user' | 'all';
  model?: RegExp;
  rule: Rule;
}

const KEYS = new Set(['match', 'flags', 'scope', 'model', 'answer', 'answers', 'json', 'tool_calls', 'error']);
const ANSWER_KEYS = ['answer', 'answers', 'json', 'tool_calls', 'error'] as const;

/** Read and compile a rules file. Problems are ConfigErrors naming file:line:column. */
export function loadRulesFile(path: string): CompiledRule[] {
  const source = readSource(resolve(path), path);
  return compileRules(source.value, source);
}

/**
 * Validate and compile rules given as plain values (from a file when `source` is given, so problems point into it;
 * otherwise problems name "rules[i]").
 */
export function compileRules(value: unknown, source?: SourceFile): CompiledRule[] {
  const problems: Problem[] = [];
  const where = (path: PathSegment[], part: 'key' | 'value' = 'value') =>
    source ? locate(source, path, part) : { file: `rules option ${formatPath(path)}` };
  const report = (path: PathSegment[], message: string, part: 'key' | 'value' = 'value') =>
    problems.push({ ...where(path, part), message });

  let list: unknown = value;
  let base: PathSegment[] = [];
  if (list && typeof list === 'object' && !Array.isArray(list) && 'rules' in list) {
    list = (list as { rules: unknown }).rules;
    base = ['rules'];
  }
  if (!Array.isArray(list)) {
    report(base, `expected a list of rules (or a mapping with a "rules:" list), found ${describeValue(list)}`);
    throw new ConfigError(problems);
  }
  const compiled: CompiledRule[] = [];
  list.forEach((item: unknown, i) => {
    const at = [...base, i];
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      report(
        at,
        `expected a rule (a mapping with "match" and one of answer/json/tool_calls/error), found ${describeValue(item)}`,
      );
      return;
    }
    const rule = item as Record<string, unknown>;
    for (const key of Object.keys(rule)) {
      if (!KEYS.has(key)) report([...at, key], `unknown key "${key}"; expected one of ${[...KEYS].join(', ')}`, 'key');
    }
    const before = problems.length;
    const regex = compileRegex(rule.match, typeof rule.flags === 'string' ? rule.flags : '', [...at, 'match'], report);
    if (rule.flags !== undefined && typeof rule.flags !== 'string')
      report([...at, 'flags'], `expected RegExp flags such as "i", found ${describeValue(rule.flags)}`);
    if (rule.scope !== undefined && rule.scope !== 'last_user' && rule.scope !== 'all') {
      report([...at, 'scope'], `expected "last_user" or "all", found ${describeValue(rule.scope)}`);
    }
    const model = rule.model === undefined ? undefined : compileRegex(rule.model, 'i', [...at, 'model'], report);
    const answers = ANSWER_KEYS.filter((k) => rule[k] !== undefined);
    if (answers.length !== 1) {
      report(
        at,
        answers.length === 0
          ? 'the rule has no answer: give one of answer, json, tool_calls, error'
          : `the rule has several answers (${answers.join(', ')}); give exactly one`,
      );
    }
    if (rule.answer !== undefined && typeof rule.answer !== 'string')
      report([...at, 'answer'], `expected a text, found ${describeValue(rule.answer)}`);
    if (
      rule.answers !== undefined &&
      !(Array.isArray(rule.answers) && rule.answers.length > 0 && rule.answers.every((a) => typeof a === 'string'))
    )
      report([...at, 'answers'], `expected a list of one or more texts, found ${describeValue(rule.answers)}`);
    checkToolCalls(rule.tool_calls, [...at, 'tool_calls'], report);
    checkError(rule.error, [...at, 'error'], report);
    if (regex) checkPlaceholders(rule, regex, at, report);
    if (regex && problems.length === before) {
      compiled.push({
        index: i,
        regex,
        scope: (rule.scope as 'all' | undefined) ?? 'last_user',
        model,
        rule: rule as unknown as Rule,
      });
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return compiled;
}

type Report = (path: PathSegment[], message: string, part?: 'key' | 'value') => void;

function compileRegex(pattern: unknown, flags: string, path: PathSegment[], report: Report): RegExp | undefined {
  if (typeof pattern !== 'string' || pattern === '') {
    report(path, `expected a regular expression (text), found ${describeValue(pattern)}`);
    return undefined;
  }
  try {
    return new RegExp(pattern, flags.replace(/[gy]/g, ''));
  } catch (e) {
    report(path, `invalid regular expression: ${(e as Error).message}`);
    return undefined;
  }
}

function checkToolCalls(calls: unknown, path: PathSegment[], report: Report): void {
  if (calls === undefined) return;
  if (!Array.isArray(calls) || calls.length === 0) {
    report(path, `expected a non-empty list of {name, arguments}, found ${describeValue(calls)}`);
    return;
  }
  calls.forEach((c: unknown, i) => {
    const name = (c as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || name === '')
      report([...path, i], `expected a tool call with a "name" (text), found ${describeValue(c)}`);
  });
}

function checkError(error: unknown, path: PathSegment[], report: Report): void {
  if (error === undefined) return;
  const e = error as { status?: unknown; message?: unknown } | null;
  if (
    !e ||
    typeof e !== 'object' ||
    !Number.isInteger(e.status) ||
    (e.status as number) < 400 ||
    (e.status as number) > 599 ||
    typeof e.message !== 'string'
  ) {
    report(path, `expected {status: 400..599, message: text, code?, type?}, found ${describeValue(error)}`);
  }
}

/** Every {{N}} / {{name}} in the answer must exist in the regex, so a typo fails at load, not at answer time. */
function checkPlaceholders(rule: Record<string, unknown>, regex: RegExp, at: PathSegment[], report: Report): void {
  const groups = new RegExp(`${regex.source}|`).exec('')!;
  const count = groups.length - 1;
  const names = new Set(Object.keys(groups.groups ?? {}));
  const text = JSON.stringify([rule.answer, rule.answers, rule.json, rule.tool_calls]);
  for (const m of text.matchAll(/\{\{\s*([\w]+)\s*\}\}/g)) {
    const ref = m[1];
    const ok = /^\d+$/.test(ref) ? Number(ref) <= count : names.has(ref);
    if (!ok) {
      const key = ANSWER_KEYS.find((k) => rule[k] !== undefined) ?? 'match';
      report(
        [...at, key],
        `placeholder {{${ref}}} does not name a group of the regex "${regex.source}" (it has ${count} group(s)${names.size ? `, named ${[...names].join(', ')}` : ''})`,
      );
    }
  }
}

/** Fill `{{N}}` / `{{name}}` placeholders of a text from a match. */
export function fillTemplate(template: string, match: RegExpExecArray): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_all, ref: string) => {
    const v = /^\d+$/.test(ref) ? match[Number(ref)] : match.groups?.[ref];
    return v ?? '';
  });
}

/** Fill placeholders in every string of a JSON value (keys are left alone). */
export function fillJson(value: unknown, match: RegExpExecArray): unknown {
  if (typeof value === 'string') return fillTemplate(value, match);
  if (Array.isArray(value)) return value.map((v) => fillJson(v, match));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fillJson(v, match);
    return out;
  }
  return value;
}
