/**
 * experiment.yaml's `flow: {target: http, ...}`: any HTTP endpoint as the flow under test, checked and typed here
 * (every problem at file:line:column), and the `responses` preset for the OpenAI Responses-style agent protocol
 * (POST {model, input: [...]}, or for a Foundry hosted agent {agent: {type: "agent_reference", name}, input: [...]}
 * → output[].content[].text, usage).
 * @module
 */
import type { Problem, SourceLocation } from '../errors.js';
import { describeValue, locate, type PathSegment, type SourceFile } from '../source.js';
import { parseJsonPath } from './json-path.js';
import type { FlowInputDef, FlowOutputDef, HttpFlow, HttpTarget } from './model.js';

type Raw = Record<string, unknown>;

const KEYS = ['target', 'preset', 'url', 'method', 'headers', 'body', 'inputs', 'outputs', 'usage', 'timeout_s'];
const PRESET_KEYS = ['model', 'agent', 'input'];
const METHODS: HttpTarget['method'][] = ['POST', 'PUT', 'PATCH', 'GET'];
const ANY_REF = /\$\{([^{}]*)\}/g;
const DEFAULT_TIMEOUT_S = 120;

/** True when experiment.yaml's `flow:` is an endpoint rather than a flow folder. */
export function isHttpTargetValue(value: unknown): value is Raw {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface HttpTargetContext {
  source: SourceFile;
  /** Where `flow:` is in the source (['flow'] for experiment.yaml, ['parity', 'candidate'] ...). */
  at: PathSegment[];
  /** Absolute path of the configuration file (the target's "flow file"). */
  file: string;
  /** The folder the use case lives in (the target's working directory). */
  baseDir: string;
  name: string;
}

/** The typed target, or undefined with every problem pushed. */
export function loadHttpTarget(raw: Raw, ctx: HttpTargetContext, problems: Problem[]): HttpFlow | undefined {
  const where = (p: PathSegment[], part: 'key' | 'value' = 'value'): SourceLocation =>
    locate(ctx.source, [...ctx.at, ...p], part);
  const name = (p: PathSegment[]) => [...ctx.at, ...p].join('.');
  const before = problems.length;
  const add = (p: PathSegment[], message: string, part: 'key' | 'value' = 'value') =>
    problems.push({ ...where(p, part), message: `${name(p)}: ${message}` });

  if (raw.target !== 'http')
    add(['target'], `found ${describeValue(raw.target)}, expected "http" (or a flow folder path instead of a mapping)`);
  const preset = raw.preset;
  if (preset !== undefined && preset !== 'responses')
    add(['preset'], `found ${describeValue(preset)}, expected "responses" (the OpenAI Responses-style agent protocol)`);
  for (const key of Object.keys(raw)) {
    if (KEYS.includes(key) || (preset === 'responses' && PRESET_KEYS.includes(key))) continue;
    const known = preset === 'responses' ? [...KEYS, ...PRESET_KEYS] : KEYS;
    add([key], `unknown key, expected one of: ${known.join(', ')}`, 'key');
  }

  const url = raw.url;
  if (typeof url !== 'string' || url.trim() === '')
    add(['url'], `found ${describeValue(url)}, expected the endpoint's URL (http:// or https://, \${VAR} allowed)`);
  else if (!url.startsWith('${') && !/^https?:\/\/[^/\s]+/.test(url))
    add(['url'], `found ${JSON.stringify(url)}, expected an http:// or https:// URL`);

  const method = (raw.method === undefined ? 'POST' : String(raw.method).toUpperCase()) as HttpTarget['method'];
  if (!METHODS.includes(method))
    add(
      ['method'],
      `found ${describeValue(raw.method)}, expected POST, PUT or PATCH (the body sent as JSON) or GET (the inputs as query parameters)`,
    );
  else if (method !== 'POST' && preset === 'responses')
    add(['method'], `found ${describeValue(raw.method)}, expected POST (the responses preset's method)`);
  else if (method === 'GET') {
    if (raw.body !== undefined)
      add(
        ['body'],
        'a GET sends no body: its inputs: go as query parameters (use POST, PUT or PATCH for a body)',
        'key',
      );
    if (raw.inputs === undefined)
      add([], 'a GET needs inputs:, the names of the line values sent as query parameters', 'key');
  }

  const headers: Record<string, string> = {};
  if (raw.headers !== undefined && raw.headers !== null) {
    if (typeof raw.headers !== 'object' || Array.isArray(raw.headers))
      add(['headers'], `found ${describeValue(raw.headers)}, expected a mapping of Header-Name: value`);
    else
      for (const [h, v] of Object.entries(raw.headers as Raw)) {
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h)) add(['headers', h], 'is not a valid header name', 'key');
        else if (typeof v !== 'string' && typeof v !== 'number')
          add(['headers', h], `found ${describeValue(v)}, expected a text (\${VAR} reads an environment variable)`);
        else headers[h] = String(v);
      }
  }

  let timeoutSec = DEFAULT_TIMEOUT_S;
  if (raw.timeout_s !== undefined) {
    if (typeof raw.timeout_s !== 'number' || !(raw.timeout_s > 0))
      add(['timeout_s'], `found ${describeValue(raw.timeout_s)}, expected a number of seconds > 0`);
    else timeoutSec = raw.timeout_s;
  }

  let body: unknown = raw.body;
  let outputs: HttpTarget['outputs'] = {};
  let usage: HttpTarget['usage'] = {
    prompt: '$.usage.prompt_tokens',
    completion: '$.usage.completion_tokens',
    total: '$.usage.total_tokens',
  };
  let declared: string[] | undefined;

  if (preset === 'responses') {
    if (raw.model === undefined && raw.agent === undefined)
      add(
        ['preset'],
        'the responses preset needs model: (or agent:), the agent or model name the endpoint answers as',
        'key',
      );
    if (raw.model !== undefined && (typeof raw.model !== 'string' || raw.model === ''))
      add(
        ['model'],
        `found ${describeValue(raw.model)}, expected the model (or deployment) name the endpoint answers as`,
      );
    const agent = raw.agent === undefined ? undefined : agentReference(raw.agent, add);
    const input = raw.input ?? 'question';
    if (typeof input !== 'string' || !/^[A-Za-z_][\w-]*$/.test(input))
      add(['input'], `found ${describeValue(input)}, expected the name of the flow input sent as the user's message`);
    // A hosted agent is named by reference (Foundry's form); a model by its name, as the Responses API takes it.
    body ??= {
      ...(raw.model !== undefined ? { model: raw.model } : {}),
      ...(agent ? { agent } : {}),
      input: [{ role: 'user', content: `\${inputs.${String(input)}}` }],
    };
    outputs = { answer: { path: '$.output[*].content[*].text', join: '' } };
    usage = { prompt: '$.usage.input_tokens', completion: '$.usage.output_tokens', total: '$.usage.total_tokens' };
  } else if (body === undefined && method !== 'GET')
    add([], 'has no body, expected body: the request template (with ${inputs.<name>} where line values go)', 'key');

  if (raw.outputs !== undefined || preset !== 'responses') {
    outputs = { ...outputs, ...checkOutputs(raw.outputs, add) };
    if (isHttpTargetValue(raw.outputs) && Object.keys(raw.outputs).length === 0)
      add(['outputs'], 'is empty, expected at least one output: <name>: <JSON path>');
  }
  if (raw.usage !== undefined) usage = checkUsage(raw.usage, add);

  if (raw.inputs !== undefined) {
    if (!Array.isArray(raw.inputs) || raw.inputs.some((n) => typeof n !== 'string' || !/^[A-Za-z_][\w-]*$/.test(n)))
      add(['inputs'], `found ${describeValue(raw.inputs)}, expected a list of input names`);
    else declared = raw.inputs as string[];
  }
  // A GET's query: each input under its own name (the client turns the rendered fields into the query string).
  if (method === 'GET' && declared) body = Object.fromEntries(declared.map((n) => [n, `\${inputs.${n}}`]));
  const referenced = new Set<string>();
  walkStrings(body, [], (s, p) => {
    for (const m of s.matchAll(ANY_REF)) {
      if (/^inputs\.[A-Za-z_][\w-]*$/.test(m[1])) referenced.add(m[1].slice('inputs.'.length));
      else add(['body', ...p], `found ${JSON.stringify(m[0])}, expected \${inputs.<name>} (a value of the line)`);
    }
  });
  if (declared)
    for (const r of referenced)
      if (!declared.includes(r))
        add(
          ['inputs'],
          `the body uses \${inputs.${r}}, which is not listed here; expected it among: ${declared.join(', ')}`,
        );

  if (problems.length > before) return undefined;
  const inputAt = where(raw.inputs !== undefined ? ['inputs'] : ['body']);
  const inputs: Record<string, FlowInputDef> = {};
  for (const n of declared ?? [...referenced])
    inputs[n] = { name: n, hasDefault: false, isChatInput: false, at: inputAt };
  const flowOutputs: Record<string, FlowOutputDef> = {};
  for (const n of Object.keys(outputs))
    flowOutputs[n] = { name: n, isChatOutput: false, evaluationOnly: false, at: where(['outputs', n]) };
  const at = where([]);
  return {
    kind: 'http',
    file: ctx.file,
    displayFile: ctx.source.file,
    workingDir: ctx.baseDir,
    name: ctx.name,
    warnings: [],
    raw,
    inputs,
    outputs: flowOutputs,
    additionalIncludes: [],
    target: {
      url: String(url),
      method,
      headers,
      body,
      outputs,
      usage,
      timeoutSec,
      ...(preset === 'responses' ? { preset } : {}),
      at,
    },
  };
}

/**
 * `agent: <name>` or `agent: {name, version}` as the Responses request's agent reference
 * (`{type: "agent_reference", name, version?}`), or undefined with the problem added.
 */
function agentReference(
  value: unknown,
  add: (p: PathSegment[], m: string, part?: 'key' | 'value') => void,
): Record<string, string> | undefined {
  const expected = "expected the hosted agent's name, or {name, version}";
  if (typeof value === 'string' && value !== '') return { type: 'agent_reference', name: value };
  if (!isHttpTargetValue(value)) {
    add(['agent'], `found ${describeValue(value)}, ${expected}`);
    return undefined;
  }
  let ok = true;
  for (const k of Object.keys(value))
    if (k !== 'name' && k !== 'version') {
      add(['agent', k], 'unknown key, expected name or version', 'key');
      ok = false;
    }
  if (value.name === undefined) {
    add(['agent'], "has no name:, expected the hosted agent's name (and version: if pinned)", 'key');
    ok = false;
  } else if (typeof value.name !== 'string' || value.name === '') {
    add(['agent', 'name'], `found ${describeValue(value.name)}, ${expected}`);
    ok = false;
  }
  const version = value.version;
  if (version !== undefined && !(typeof version === 'string' && version !== '') && typeof version !== 'number') {
    add(['agent', 'version'], `found ${describeValue(version)}, expected the agent's version (a text or number)`);
    ok = false;
  }
  if (!ok) return undefined;
  return {
    type: 'agent_reference',
    name: value.name as string,
    ...(version !== undefined ? { version: String(version) } : {}),
  };
}

function checkOutputs(
  value: unknown,
  add: (p: PathSegment[], m: string, part?: 'key' | 'value') => void,
): HttpTarget['outputs'] {
  const out: HttpTarget['outputs'] = {};
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    add(
      ['outputs'],
      `found ${describeValue(value)}, expected a mapping of output name: JSON path (e.g. answer: $.reply)`,
    );
    return out;
  }
  for (const [name, spec] of Object.entries(value as Raw)) {
    const s = typeof spec === 'string' ? { path: spec } : (spec as { path?: unknown; join?: unknown } | null);
    if (!s || typeof s !== 'object' || typeof s.path !== 'string') {
      add(['outputs', name], `found ${describeValue(spec)}, expected a JSON path ($.a.b[0]) or {path, join}`);
      continue;
    }
    if (s.join !== undefined && typeof s.join !== 'string') {
      add(['outputs', name, 'join'], `found ${describeValue(s.join)}, expected the text put between the matches`);
      continue;
    }
    try {
      parseJsonPath(s.path);
      out[name] = s.join === undefined ? { path: s.path } : { path: s.path, join: s.join };
    } catch (e) {
      add(typeof spec === 'string' ? ['outputs', name] : ['outputs', name, 'path'], (e as Error).message);
    }
  }
  return out;
}

function checkUsage(
  value: unknown,
  add: (p: PathSegment[], m: string, part?: 'key' | 'value') => void,
): HttpTarget['usage'] {
  const out: HttpTarget['usage'] = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    add(
      ['usage'],
      `found ${describeValue(value)}, expected prompt_tokens / completion_tokens / total_tokens: <JSON path>`,
    );
    return out;
  }
  const names: Record<string, keyof HttpTarget['usage']> = {
    prompt_tokens: 'prompt',
    completion_tokens: 'completion',
    total_tokens: 'total',
  };
  for (const [k, v] of Object.entries(value as Raw)) {
    if (!(k in names)) {
      add(['usage', k], 'unknown key, expected prompt_tokens, completion_tokens or total_tokens', 'key');
      continue;
    }
    try {
      parseJsonPath(String(v));
      out[names[k]] = String(v);
    } catch (e) {
      add(['usage', k], (e as Error).message);
    }
  }
  return out;
}

function walkStrings(value: unknown, at: PathSegment[], visit: (s: string, at: PathSegment[]) => void): void {
  if (typeof value === 'string') visit(value, at);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, [...at, i], visit));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) walkStrings(v, [...at, k], visit);
}
