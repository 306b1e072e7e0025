/**
 * Runs an http flow target: each line renders the body template over its inputs, sends it through the model
 * client (the same transport, retries, pacing, cache and replay as model calls: llm/client.ts) and reads each
 * output from the answer by its JSON path.
 * @module
 */
import { findRepositoryRoot, loadEnvironment } from '../config/environment.js';
import { ConfigError } from '../errors.js';
import { parseJsonPath, readJsonPath, type JsonPath } from '../flow/json-path.js';
import type { FlowInputDef, HttpFlow } from '../flow/model.js';
import type { LlmClient } from '../llm/index.js';
import { addUsage, type LlmService } from './llm-service.js';
import { LineFailure } from './line-error.js';
import type { RunContext } from './scheduler.js';

/** `${NAME}` (or `${env:NAME}`) in a URL or header value: an environment variable. */
const ENV_REF = /\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** `${inputs.<name>}` in a body string. */
const INPUT_REF = /\$\{inputs\.([A-Za-z_][\w-]*)\}/g;
const WHOLE_INPUT_REF = /^\$\{inputs\.([A-Za-z_][\w-]*)\}$/;

export interface HttpTargetCore {
  inputs: Record<string, FlowInputDef>;
  hasAggregation: false;
  line(inputs: Record<string, unknown>, ctx: RunContext): Promise<{ outputs: Record<string, unknown> }>;
  aggregate(): Promise<Record<string, unknown>>;
}

/**
 * Compiles the body and the output paths now; the URL's and headers' `${VAR}` placeholders are read from the
 * environment (CI first, then .env at the repository root; every header value told to `onSecret`) at the first
 * line. An unset variable is a ConfigError at the target's place in experiment.yaml.
 */
export function prepareHttpTarget(
  flow: HttpFlow,
  service: LlmService,
  options: { onSecret?: (value: string) => void; getVariable?: (name: string) => string | undefined } = {},
): HttpTargetCore {
  const t = flow.target;
  const environment = options.getVariable
    ? { get: options.getVariable }
    : loadEnvironment(findRepositoryRoot(flow.workingDir));
  // Read at the first line, not when the flow is prepared: a cloud run's submitting machine finishes runs whose
  // lines all ran in jobs, without the variables (loading the use case has checked them for a local run).
  let client: LlmClient | undefined;
  const connect = (): LlmClient => (client ??= httpClientOf(flow, service, environment, options.onSecret));
  const render = compileBody(t.body);
  const outputs = Object.entries(t.outputs).map(([name, o]) => ({ name, path: parseJsonPath(o.path), join: o.join }));
  const usagePaths = {
    prompt: t.usage.prompt ? parseJsonPath(t.usage.prompt) : undefined,
    completion: t.usage.completion ? parseJsonPath(t.usage.completion) : undefined,
    total: t.usage.total ? parseJsonPath(t.usage.total) : undefined,
  };
  return {
    inputs: flow.inputs,
    hasAggregation: false,
    aggregate: async () => ({}),
    async line(inputs, ctx) {
      const result = await connect().chat(render(inputs) as Record<string, unknown>, { signal: ctx.signal });
      const answer: unknown = result.response;
      if (!result.cached) {
        const tokens = tokenCounts(answer, usagePaths);
        for (const u of ctx.usage) addUsage(u, tokens, undefined);
      }
      const out: Record<string, unknown> = {};
      for (const o of outputs) {
        const value = readJsonPath(o.path, answer);
        if (value === undefined || (o.path.many && (value as unknown[]).length === 0))
          throw new LineFailure(
            `output ${o.name}: ${o.path.text} matched nothing in the endpoint's answer (${describeShape(answer)})`,
            ['UserError', 'HttpTargetOutputNotFound'],
          );
        out[o.name] = o.join !== undefined && Array.isArray(value) ? value.map(String).join(o.join) : value;
      }
      return { outputs: out };
    },
  };
}

/** The target's client, its URL's and headers' placeholders resolved (ConfigError naming unset variables). */
function httpClientOf(
  flow: HttpFlow,
  service: LlmService,
  environment: { get(name: string): string | undefined },
  onSecret?: (value: string) => void,
): LlmClient {
  const t = flow.target;
  const missing: string[] = [];
  const resolve = (text: string, secret: boolean) =>
    text.replace(ENV_REF, (_, name: string) => {
      const value = environment.get(name);
      if (value === undefined || value === '') {
        missing.push(name);
        return '';
      }
      if (secret) onSecret?.(value);
      return value;
    });
  const url = resolve(t.url, false);
  const headers: Record<string, string> = t.method === 'GET' ? {} : { 'content-type': 'application/json' };
  for (const [name, value] of Object.entries(t.headers)) headers[name] = resolve(value, true);
  if (missing.length)
    throw ConfigError.at(
      t.at,
      `http target: environment variable${missing.length > 1 ? 's' : ''} ${[...new Set(missing)].join(', ')} not set (read by \${...} in its url or headers)`,
    );
  if (!/^https?:\/\/[^/\s]+/.test(url))
    throw ConfigError.at(t.at, `http target: url is ${JSON.stringify(url)}, expected an http:// or https:// URL`);
  return service.httpClient(url, headers, t.timeoutSec * 1000, t.method);
}

/**
 * The body template as a function of a line's inputs. Substituted into the parsed structure, never into JSON
 * text, so any value is JSON-safe: a string that is exactly `${inputs.x}` takes the value with its type (a list
 * stays a list), a reference inside a longer string is replaced by the value's text.
 */
export function compileBody(template: unknown): (inputs: Record<string, unknown>) => unknown {
  if (typeof template === 'string') {
    const whole = WHOLE_INPUT_REF.exec(template);
    if (whole) return (inputs) => inputs[whole[1]] ?? null;
    if (!template.includes('${inputs.')) return () => template;
    return (inputs) => template.replace(INPUT_REF, (_, name: string) => textOf(inputs[name]));
  }
  if (Array.isArray(template)) {
    const items = template.map(compileBody);
    return (inputs) => items.map((f) => f(inputs));
  }
  if (template !== null && typeof template === 'object') {
    const entries = Object.entries(template).map(([k, v]) => [k, compileBody(v)] as const);
    return (inputs) => Object.fromEntries(entries.map(([k, f]) => [k, f(inputs)]));
  }
  return () => template;
}

function textOf(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function tokenCounts(
  answer: unknown,
  paths: { prompt?: JsonPath; completion?: JsonPath; total?: JsonPath },
): { promptTokens: number; completionTokens: number; totalTokens: number } {
  const num = (p?: JsonPath) => {
    const v = p ? readJsonPath(p, answer) : undefined;
    return typeof v === 'number' && Number.isFinite(v) ? v : 0;
  };
  const promptTokens = num(paths.prompt);
  const completionTokens = num(paths.completion);
  return { promptTokens, completionTokens, totalTokens: num(paths.total) || promptTokens + completionTokens };
}

/** What the answer looks like (its top-level keys), for a message that helps fix the path. */
function describeShape(answer: unknown): string {
  if (answer === null || typeof answer !== 'object') return `a ${answer === null ? 'null' : typeof answer}`;
  if (Array.isArray(answer)) return `a list of ${answer.length}`;
  const keys = Object.keys(answer);
  return keys.length ? `keys: ${keys.slice(0, 10).join(', ')}` : 'an empty object';
}
