/**
 * Reads what served flows recorded into monitor records: request logs (`flow serve --request-log`, one file or a
 * folder of them, e.g. one per replica, with their `.events.jsonl` siblings) and OTLP file exports (the
 * OpenTelemetry collector's `file` exporter: one JSON `{"resourceSpans": [...]}` object per line). Every line is
 * checked; what is wrong is reported at file:line:column and nothing is read half.
 *
 * From OTLP, a request is a SERVER span: `http.response.status_code`, `error.type`, `llmops.request_id` (else
 * the trace id) and `llmops.deployment` (on the span or its resource), with the `gen_ai.usage.input_tokens` /
 * `gen_ai.usage.output_tokens` and `llmops.cost_usd` of every span of its trace summed into it.
 * @module
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Problem } from '../errors.js';
import { eventsFileOf } from '../serve/request-log.js';
import type { FeedbackRecord, MonitorData, RequestRecord } from './records.js';

const MAX_PROBLEMS = 20;
const EXPECTED_LINE =
  'expected a request-log line (with "request_id"), an events line ("type": "error" or "feedback") or an OTLP export line ("resourceSpans")';

/** The files behind the paths given: folders are walked for *.jsonl / *.json; a log brings its events file. */
export function monitorFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (f: string) => {
    const key = path.resolve(f);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(f);
    }
  };
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.jsonl?$/.test(name)) add(full);
    }
  };
  for (const p of paths) {
    if (!existsSync(p))
      throw ConfigError.at({ file: p }, 'not found; expected a request log, a folder of them or an OTLP file export');
    if (statSync(p).isDirectory()) walk(p);
    else {
      add(p);
      const events = eventsFileOf(p);
      if (events !== p && existsSync(events)) add(events);
    }
  }
  return out;
}

interface Span {
  traceId: string;
  server: boolean;
  attrs: Record<string, unknown>;
  resource: Record<string, unknown>;
  end: number;
  start: number;
  errorStatus: boolean;
  where: string;
}

/** Reads every file; ConfigError listing the bad lines (file:line:column) when any is not what was expected. */
export function readMonitorData(paths: readonly string[]): MonitorData {
  const files = monitorFiles(paths);
  const problems: Problem[] = [];
  const requests: RequestRecord[] = [];
  const feedback: FeedbackRecord[] = [];
  const spans: Span[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((text, i) => {
      if (problems.length >= MAX_PROBLEMS || text.trim() === '') return;
      const at = (key: string | undefined, message: string) => {
        const column = key ? text.indexOf(`"${key}"`) + 1 : 1;
        problems.push({ file, line: i + 1, column: Math.max(1, column), message });
      };
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        const m = /position (\d+)/.exec((e as Error).message);
        problems.push({
          file,
          line: i + 1,
          column: m ? Number(m[1]) + 1 : 1,
          message: `not JSON (${(e as Error).message}); ${EXPECTED_LINE}`,
        });
        return;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        return at(undefined, `found ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}; ${EXPECTED_LINE}`);
      const o = value as Record<string, unknown>;
      const where = `${file}:${i + 1}`;
      if ('resourceSpans' in o) return readOtlpLine(o, where, spans, at);
      const time = Date.parse(String(o.time));
      if (typeof o.time !== 'string' || Number.isNaN(time))
        return at('time', `"time" is ${JSON.stringify(o.time) ?? 'missing'}; expected an ISO 8601 date-time`);
      if (typeof o.request_id !== 'string' || o.request_id === '')
        return at(
          'request_id',
          `"request_id" is ${JSON.stringify(o.request_id) ?? 'missing'}; expected the request's id`,
        );
      const deployment = typeof o.deployment === 'string' && o.deployment ? o.deployment : undefined;
      if (o.type === 'feedback') {
        if (o.rating !== undefined && (typeof o.rating !== 'number' || !Number.isFinite(o.rating)))
          return at('rating', `"rating" is ${JSON.stringify(o.rating)}; expected a number`);
        if (o.label !== undefined && typeof o.label !== 'string')
          return at('label', `"label" is ${JSON.stringify(o.label)}; expected text`);
        feedback.push({
          time,
          requestId: o.request_id,
          receivedBy: deployment,
          ...(o.rating !== undefined ? { rating: o.rating as number } : {}),
          ...(o.label !== undefined ? { label: o.label as string } : {}),
          source: where,
        });
        return;
      }
      if (o.type !== undefined && o.type !== 'error')
        return at(
          'type',
          `"type" is ${JSON.stringify(o.type)}; expected "error" or "feedback" (or no type: a request)`,
        );
      const status = o.status === undefined ? (o.type === 'error' ? 500 : 200) : o.status;
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 599)
        return at('status', `"status" is ${JSON.stringify(o.status)}; expected an HTTP status code`);
      if (o.latency_ms !== undefined && !(typeof o.latency_ms === 'number' && o.latency_ms >= 0))
        return at(
          'latency_ms',
          `"latency_ms" is ${JSON.stringify(o.latency_ms)}; expected milliseconds (a number ≥ 0)`,
        );
      const record: RequestRecord = { time, requestId: o.request_id, deployment, status, source: where };
      if (typeof o.latency_ms === 'number') record.latencyMs = o.latency_ms;
      const tokens = o.tokens as Record<string, unknown> | undefined;
      if (tokens !== undefined) {
        if (typeof tokens !== 'object' || tokens === null || typeof tokens.total !== 'number')
          return at(
            'tokens',
            `"tokens" is ${JSON.stringify(tokens)}; expected {"prompt": n, "completion": n, "total": n}`,
          );
        record.tokens = {
          prompt: Number(tokens.prompt ?? 0),
          completion: Number(tokens.completion ?? 0),
          total: tokens.total,
        };
      }
      if (typeof o.cost_usd === 'number') record.costUsd = o.cost_usd;
      if (o.type === 'error') {
        const err = o.error as Record<string, unknown> | undefined;
        record.errorKind = typeof err?.kind === 'string' ? err.kind : 'SystemError';
      } else {
        record.inputs = {};
        record.outputs = {};
        for (const [k, v] of Object.entries(o)) {
          if (k.startsWith('inputs.')) record.inputs[k.slice(7)] = v;
          else if (k.startsWith('outputs.')) record.outputs[k.slice(8)] = v;
        }
      }
      requests.push(record);
    });
  }
  if (problems.length) throw new ConfigError(problems);
  requests.push(...requestsFromSpans(spans));
  requests.sort((a, b) => a.time - b.time);
  feedback.sort((a, b) => a.time - b.time);
  return { requests, feedback, files };
}

/** An OTLP AnyValue as a plain value (int64s arrive as strings in OTLP/JSON). */
function anyValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if ('stringValue' in o) return o.stringValue;
  if ('intValue' in o) return Number(o.intValue);
  if ('doubleValue' in o) return Number(o.doubleValue);
  if ('boolValue' in o) return o.boolValue;
  return undefined;
}

function attributes(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (Array.isArray(list))
    for (const kv of list as { key?: unknown; value?: unknown }[])
      if (typeof kv?.key === 'string') out[kv.key] = anyValue(kv.value);
  return out;
}

function readOtlpLine(
  o: Record<string, unknown>,
  where: string,
  spans: Span[],
  at: (key: string | undefined, message: string) => void,
): void {
  if (!Array.isArray(o.resourceSpans))
    return at(
      'resourceSpans',
      '"resourceSpans" is not an array; expected the OTLP/JSON ExportTraceServiceRequest shape',
    );
  for (const rs of o.resourceSpans as Record<string, unknown>[]) {
    const resource = attributes((rs?.resource as Record<string, unknown> | undefined)?.attributes);
    for (const ss of (rs?.scopeSpans ?? []) as Record<string, unknown>[])
      for (const s of (ss?.spans ?? []) as Record<string, unknown>[]) {
        const start = Number(s?.startTimeUnixNano);
        const end = Number(s?.endTimeUnixNano);
        if (typeof s?.traceId !== 'string' || !Number.isFinite(start) || !Number.isFinite(end))
          return at(
            'spans',
            'a span has no traceId, startTimeUnixNano or endTimeUnixNano; expected OTLP/JSON spans (times in nanoseconds)',
          );
        spans.push({
          traceId: s.traceId,
          server: s.kind === 2 || s.kind === 'SPAN_KIND_SERVER',
          attrs: attributes(s.attributes),
          resource,
          start: start / 1e6,
          end: end / 1e6,
          errorStatus:
            (s.status as Record<string, unknown> | undefined)?.code === 2 ||
            (s.status as Record<string, unknown> | undefined)?.code === 'STATUS_CODE_ERROR',
          where,
        });
      }
  }
}

function requestsFromSpans(spans: readonly Span[]): RequestRecord[] {
  if (spans.length === 0) return [];
  const usage = new Map<string, { prompt: number; completion: number; cost: number; priced: boolean }>();
  for (const s of spans) {
    const u = usage.get(s.traceId) ?? { prompt: 0, completion: 0, cost: 0, priced: false };
    const input = Number(s.attrs['gen_ai.usage.input_tokens'] ?? 0);
    const output = Number(s.attrs['gen_ai.usage.output_tokens'] ?? 0);
    if (Number.isFinite(input)) u.prompt += input;
    if (Number.isFinite(output)) u.completion += output;
    const cost = s.attrs['llmops.cost_usd'];
    if (typeof cost === 'number') {
      u.cost += cost;
      u.priced = true;
    }
    usage.set(s.traceId, u);
  }
  return spans
    .filter((s) => s.server)
    .map((s) => {
      const code = s.attrs['http.response.status_code'];
      const status = typeof code === 'number' ? code : s.errorStatus ? 500 : 200;
      const errorType = s.attrs['error.type'];
      const deployment = s.attrs['llmops.deployment'] ?? s.resource['llmops.deployment'];
      const u = usage.get(s.traceId)!;
      const r: RequestRecord = {
        time: s.end,
        requestId:
          typeof s.attrs['llmops.request_id'] === 'string' ? (s.attrs['llmops.request_id'] as string) : s.traceId,
        status,
        latencyMs: s.end - s.start,
        source: s.where,
      };
      if (typeof deployment === 'string' && deployment) r.deployment = deployment;
      if (typeof errorType === 'string' && errorType) r.errorKind = errorType;
      else if (status >= 500) r.errorKind = `HTTP ${status}`;
      if (u.prompt + u.completion > 0)
        r.tokens = { prompt: u.prompt, completion: u.completion, total: u.prompt + u.completion };
      if (u.priced) r.costUsd = u.cost;
      return r;
    });
}

/** Keeps what happened in [since, until). */
export function withinWindow(data: MonitorData, since?: number, until?: number): MonitorData {
  const inside = (t: number) => (since === undefined || t >= since) && (until === undefined || t < until);
  return {
    ...data,
    requests: data.requests.filter((r) => inside(r.time)),
    feedback: data.feedback.filter((f) => inside(f.time)),
  };
}

/** `24h`, `30m`, `7d`, `90s` → ms; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

/** An ISO date-time, or a duration before `now` (`--since 2h`). ConfigError naming the option otherwise. */
export function parseInstant(text: string, option: string, now: number): number {
  const d = parseDuration(text);
  if (d !== undefined) return now - d;
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw ConfigError.at(
      { file: option },
      `found ${JSON.stringify(text)}; expected an ISO 8601 date-time (2026-12-07T10:00:00Z) or a duration before now (30m, 24h, 7d)`,
    );
  return t;
}
