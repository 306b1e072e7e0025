/**
 * Request validation with OpenAI's wording and error shape, so a flow that would be rejected by the real
 * service is rejected here too (wrong types, missing `model`/`messages`, json_object without "json").
 * @module
 */
import { invalid } from './api-error.js';
import { contentText } from '../shared/llm/tokens.js';

type Body = Record<string, unknown>;

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function number(body: Body, key: string, min: number, max: number, integer = false): void {
  const v = body[key];
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw invalid(
      key,
      `Invalid type for '${key}': expected ${integer ? 'an integer' : 'a number'}, but got ${describe(v)} instead.`,
      'invalid_type',
    );
  }
  if (v < min || v > max)
    throw invalid(
      key,
      `Invalid '${key}': ${v} is out of range; expected a value between ${min} and ${max}.`,
      'invalid_value',
    );
}

function bool(body: Body, key: string): void {
  const v = body[key];
  if (v !== undefined && v !== null && typeof v !== 'boolean') {
    throw invalid(
      key,
      `Invalid type for '${key}': expected a boolean, but got ${describe(v)} instead.`,
      'invalid_type',
    );
  }
}

/** The request body must be a JSON object. */
export function requireObject(body: unknown): Body {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid(null, `Invalid request body: expected a JSON object, but got ${describe(body)} instead.`);
  }
  return body as Body;
}

function requireModel(body: Body, modelRequired: boolean): void {
  if (body.model === undefined || body.model === null) {
    if (modelRequired) throw invalid('model', "Missing required parameter: 'model'.", 'missing_required_parameter');
    return;
  }
  if (typeof body.model !== 'string' || body.model === '') {
    throw invalid(
      'model',
      `Invalid type for 'model': expected a non-empty string, but got ${describe(body.model)} instead.`,
      'invalid_type',
    );
  }
}

function sampling(body: Body): void {
  number(body, 'temperature', 0, 2);
  number(body, 'top_p', 0, 1);
  number(body, 'n', 1, 128, true);
  number(body, 'max_tokens', 1, 1_000_000, true);
  number(body, 'max_completion_tokens', 1, 1_000_000, true);
  number(body, 'presence_penalty', -2, 2);
  number(body, 'frequency_penalty', -2, 2);
  number(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true);
  bool(body, 'stream');
  const stop = body.stop;
  if (stop !== undefined && stop !== null) {
    const list = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(list) || list.some((s) => typeof s !== 'string') || list.length > 4) {
      throw invalid('stop', "Invalid 'stop': expected a string or an array of at most 4 strings.", 'invalid_type');
    }
  }
}

function messages(body: Body): void {
  const list = body.messages;
  if (list === undefined || list === null)
    throw invalid('messages', "Missing required parameter: 'messages'.", 'missing_required_parameter');
  if (!Array.isArray(list))
    throw invalid(
      'messages',
      `Invalid type for 'messages': expected an array, but got ${describe(list)} instead.`,
      'invalid_type',
    );
  if (list.length === 0)
    throw invalid(
      'messages',
      "Invalid 'messages': empty array. Expected an array with minimum length 1.",
      'empty_array',
    );
  list.forEach((m: unknown, i) => {
    const at = `messages[${i}]`;
    if (!m || typeof m !== 'object' || Array.isArray(m))
      throw invalid(
        at,
        `Invalid type for '${at}': expected an object, but got ${describe(m)} instead.`,
        'invalid_type',
      );
    const msg = m as Body;
    if (typeof msg.role !== 'string')
      throw invalid(`${at}.role`, `Missing required parameter: '${at}.role'.`, 'missing_required_parameter');
    if (!ROLES.has(msg.role)) {
      throw invalid(
        `${at}.role`,
        `Invalid value: '${msg.role}'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'.`,
        'invalid_value',
      );
    }
    const c = msg.content;
    const ok =
      typeof c === 'string' || Array.isArray(c) || ((c === null || c === undefined) && msg.role === 'assistant');
    if (!ok)
      throw invalid(
        `${at}.content`,
        `Invalid type for '${at}.content': expected a string or an array of content parts, but got ${describe(c)} instead.`,
        'invalid_type',
      );
  });
}

function tools(body: Body): void {
  const list = body.tools;
  if (list === undefined || list === null) return;
  if (!Array.isArray(list))
    throw invalid(
      'tools',
      `Invalid type for 'tools': expected an array, but got ${describe(list)} instead.`,
      'invalid_type',
    );
  list.forEach((t: unknown, i) => {
    const fn = (t as Body | null)?.function as Body | undefined;
    if (!t || typeof t !== 'object' || (t as Body).type !== 'function' || !fn || typeof fn.name !== 'string') {
      throw invalid(
        `tools[${i}]`,
        `Invalid 'tools[${i}]': expected {"type": "function", "function": {"name": ...}}.`,
        'invalid_value',
      );
    }
  });
  const fns = body.functions;
  if (fns !== undefined && fns !== null && !Array.isArray(fns))
    throw invalid(
      'functions',
      `Invalid type for 'functions': expected an array, but got ${describe(fns)} instead.`,
      'invalid_type',
    );
}

function responseFormat(body: Body): void {
  const rf = body.response_format;
  if (rf === undefined || rf === null) return;
  const type = (rf as Body).type;
  if (typeof rf !== 'object' || !['text', 'json_object', 'json_schema'].includes(type as string)) {
    throw invalid(
      'response_format.type',
      'Invalid \'response_format\': expected {"type": "text" | "json_object" | "json_schema"}.',
      'invalid_value',
    );
  }
  if (type === 'json_object') {
    const all = (body.messages as Body[]).map((m) => contentText(m.content)).join('\n');
    if (!/json/i.test(all)) {
      throw invalid(
        'messages',
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
      );
    }
  }
}

/** Validate a /chat/completions body. */
export function validateChat(raw: unknown, modelRequired: boolean): Body {
  const body = requireObject(raw);
  requireModel(body, modelRequired);
  messages(body);
  sampling(body);
  tools(body);
  responseFormat(body);
  return body;
}

/** Validate a /completions body. */
export function validateCompletion(raw: unknown, modelRequired: boolean): Body {
  const body = requireObject(raw);
  requireModel(body, modelRequired);
  const p = body.prompt;
  if (p === undefined || p === null)
    throw invalid('prompt', "Missing required parameter: 'prompt'.", 'missing_required_parameter');
  if (typeof p !== 'string' && !Array.isArray(p))
    throw invalid(
      'prompt',
      `Invalid type for 'prompt': expected a string or an array, but got ${describe(p)} instead.`,
      'invalid_type',
    );
  sampling(body);
  return body;
}

/** Validate an /embeddings body. */
export function validateEmbedding(raw: unknown, modelRequired: boolean): Body {
  const body = requireObject(raw);
  requireModel(body, modelRequired);
  const input = body.input;
  if (input === undefined || input === null)
    throw invalid('input', "Missing required parameter: 'input'.", 'missing_required_parameter');
  const ok =
    typeof input === 'string' ||
    (Array.isArray(input) &&
      input.length > 0 &&
      input.every((x) => typeof x === 'string' || typeof x === 'number' || Array.isArray(x)));
  if (!ok)
    throw invalid(
      'input',
      "Invalid 'input': expected a string or a non-empty array of strings or token arrays.",
      'invalid_type',
    );
  number(body, 'dimensions', 1, 8192, true);
  const fmt = body.encoding_format;
  if (fmt !== undefined && fmt !== null && fmt !== 'float' && fmt !== 'base64') {
    throw invalid('encoding_format', "Invalid 'encoding_format': expected 'float' or 'base64'.", 'invalid_value');
  }
  return body;
}
