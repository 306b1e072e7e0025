/**
 * Runs smoke tests against a scoring endpoint (a local URL, later Azure/Kubernetes scoring URIs with their key):
 * waits for the endpoint to warm up, then checks status, schema, values and latency percentiles.
 * @module
 */
import { Ajv } from 'ajv';
import { isDeepStrictEqual } from 'node:util';
import { ServiceError } from '../errors.js';
import { parseJsonPath, type SmokeSuite, type SmokeTest } from './smoke-tests.js';

export interface SmokeOptions {
  /** The scoring URL (e.g. http://127.0.0.1:8080/score). A URL without a path gets /score. */
  endpoint: string;
  /** Sent as `Authorization: Bearer <key>` (Azure ML, Kubernetes online endpoints, llmops serve --api-key-env). */
  apiKey?: string;
  /** Extra headers (e.g. `azureml-model-deployment` to reach a deployment at 0% traffic). */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

export interface SmokeTestResult {
  name: string;
  passed: boolean;
  failures: string[];
  /** Where the test is written (annotations). */
  at?: { file: string; line?: number; column?: number };
  status?: number;
  /** Per request, ms. */
  latenciesMs: number[];
  p50Ms?: number;
  p95Ms?: number;
  body?: unknown;
}

export interface SmokeResult {
  endpoint: string;
  source: string;
  passed: boolean;
  tests: SmokeTestResult[];
  /** Time spent waiting for the endpoint to answer at all. */
  warmupMs: number;
}

const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });

/** Runs every test. A test that fails does not stop the others. ServiceError when the endpoint never answered. */
export async function runSmokeTests(suite: SmokeSuite, options: SmokeOptions): Promise<SmokeResult> {
  const endpoint = scoringUrl(options.endpoint);
  const doFetch = options.fetch ?? fetch;
  const headers = {
    ...suite.headers,
    ...options.headers,
    ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
  };
  const warmStarted = performance.now();
  const warm = await warmUp(endpoint, suite, headers, doFetch);
  const warmupMs = performance.now() - warmStarted;
  const tests: SmokeTestResult[] = [];
  for (const [i, t] of suite.tests.entries())
    tests.push(await runOne(t, endpoint, headers, suite.timeoutMs, doFetch, i === 0 ? warm : undefined));
  return { endpoint, source: suite.source, passed: tests.every((t) => t.passed), tests, warmupMs };
}

export function scoringUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/score';
  return u.toString();
}

interface Answer {
  status: number;
  body: unknown;
  ms: number;
}

/** Sends the first test until the endpoint answers with something other than "not ready" (refused, 502–504). */
async function warmUp(
  endpoint: string,
  suite: SmokeSuite,
  headers: Record<string, string>,
  doFetch: typeof fetch,
): Promise<Answer> {
  const deadline = performance.now() + suite.warmupMs;
  const first = suite.tests[0];
  let delay = 200;
  let last = '';
  for (;;) {
    try {
      const a = await send(first, endpoint, headers, suite.timeoutMs, doFetch);
      if (![502, 503, 504].includes(a.status) || performance.now() >= deadline) return a;
      last = `HTTP ${a.status}`;
    } catch (e) {
      last = describeFetchError(e);
      if (performance.now() >= deadline)
        throw new ServiceError(
          `smoke test: ${endpoint} did not answer within ${Math.round(suite.warmupMs / 1000)} s (last: ${last})`,
        );
    }
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - performance.now()))));
    delay = Math.min(delay * 2, 2000);
  }
}

async function runOne(
  t: SmokeTest,
  endpoint: string,
  headers: Record<string, string>,
  timeoutMs: number,
  doFetch: typeof fetch,
  firstAnswer?: Answer,
): Promise<SmokeTestResult> {
  const failures: string[] = [];
  let answer: Answer;
  try {
    answer = firstAnswer ?? (await send(t, endpoint, headers, timeoutMs, doFetch));
  } catch (e) {
    return {
      name: t.name,
      at: t.at,
      passed: false,
      failures: [`request failed: ${describeFetchError(e)}`],
      latenciesMs: [],
    };
  }
  const latencies = [answer.ms];
  if (answer.status !== t.expect.status)
    failures.push(`status: expected ${t.expect.status}, got ${answer.status}${errorText(answer.body)}`);
  if (t.expect.schema) {
    const validate = ajv.compile(t.expect.schema);
    if (!validate(answer.body))
      for (const e of validate.errors ?? [])
        failures.push(`schema: ${e.instancePath ? `$${e.instancePath.replace(/\//g, '.')}` : '$'} ${e.message}`);
  }
  for (const v of t.expect.values) failures.push(...checkValue(answer.body, v));
  const result: SmokeTestResult = {
    name: t.name,
    at: t.at,
    passed: false,
    failures,
    status: answer.status,
    latenciesMs: latencies,
    body: answer.body,
  };
  if (t.latency) {
    for (let i = 1; i < t.latency.repeats; i++) {
      try {
        const a = await send(t, endpoint, headers, timeoutMs, doFetch);
        latencies.push(a.ms);
        if (a.status !== t.expect.status)
          failures.push(`latency repeat ${i}: status ${a.status}, expected ${t.expect.status}`);
      } catch (e) {
        failures.push(`latency repeat ${i}: ${describeFetchError(e)}`);
      }
    }
    result.p50Ms = percentile(latencies, 0.5);
    result.p95Ms = percentile(latencies, 0.95);
    if (t.latency.p50Ms !== undefined && result.p50Ms > t.latency.p50Ms)
      failures.push(
        `latency: p50 ${result.p50Ms.toFixed(1)} ms over ${latencies.length} requests, budget ${t.latency.p50Ms} ms`,
      );
    if (t.latency.p95Ms !== undefined && result.p95Ms > t.latency.p95Ms)
      failures.push(
        `latency: p95 ${result.p95Ms.toFixed(1)} ms over ${latencies.length} requests, budget ${t.latency.p95Ms} ms`,
      );
  }
  result.passed = failures.length === 0;
  return result;
}

async function send(
  t: SmokeTest,
  endpoint: string,
  headers: Record<string, string>,
  timeoutMs: number,
  doFetch: typeof fetch,
): Promise<Answer> {
  const body = typeof t.request === 'string' ? t.request : JSON.stringify(t.request);
  const started = performance.now();
  const res = await doFetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': typeof t.request === 'string' ? 'text/plain' : 'application/json',
      accept: t.stream ? 'text/event-stream' : 'application/json',
      ...headers,
      ...t.headers,
    },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  const isSse = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
  return { status: res.status, body: isSse ? joinEvents(text) : parseMaybeJson(text), ms };
}

/** SSE events joined as Prompt Flow's JSON answer would be: object fields merged, string pieces concatenated. */
export function joinEvents(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const block of text.split(/\n\n/)) {
    const data = block
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (!data) continue;
    const event = parseMaybeJson(data);
    if (event === null || typeof event !== 'object' || Array.isArray(event)) continue;
    for (const [k, v] of Object.entries(event))
      out[k] = typeof v === 'string' && typeof out[k] === 'string' ? out[k] + v : v;
  }
  return out;
}

function checkValue(
  body: unknown,
  v: { path: string; equals?: unknown; contains?: string; matches?: string; exists?: boolean },
): string[] {
  const steps = parseJsonPath(v.path) ?? [];
  let cur: unknown = body;
  let found = true;
  for (const s of steps) {
    if (cur !== null && typeof cur === 'object' && s in (cur as object))
      cur = (cur as Record<string | number, unknown>)[s];
    else {
      found = false;
      break;
    }
  }
  const out: string[] = [];
  const shown = found ? clip(JSON.stringify(cur)) : 'nothing (the path does not exist)';
  if (v.exists !== undefined && v.exists !== found)
    out.push(`${v.path}: expected ${v.exists ? 'to exist' : 'not to exist'}, got ${shown}`);
  if ('equals' in v && (!found || !isDeepStrictEqual(cur, v.equals)))
    out.push(`${v.path}: expected ${clip(JSON.stringify(v.equals))}, got ${shown}`);
  const asText = typeof cur === 'string' ? cur : JSON.stringify(cur);
  if (v.contains !== undefined && (!found || !asText.includes(v.contains)))
    out.push(`${v.path}: expected to contain ${JSON.stringify(v.contains)}, got ${shown}`);
  if (v.matches !== undefined && (!found || !new RegExp(v.matches).test(asText)))
    out.push(`${v.path}: expected to match /${v.matches}/, got ${shown}`);
  return out;
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorText(body: unknown): string {
  const e = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
  return typeof e === 'string' ? ` (${clip(e)})` : '';
}

function clip(s: string | undefined): string {
  const t = s ?? 'undefined';
  return t.length > 200 ? `${t.slice(0, 197)}...` : t;
}

function describeFetchError(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return 'timed out';
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
}
