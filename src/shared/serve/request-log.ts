/**
 * The served-request log for post-production evaluation (opt-in): a sample of the completed /score requests,
 * one JSON line each, with configured PII fields and secrets redacted. Its lines are a dataset as they are
 * (`register-data` versions it, an experiment maps `${data.inputs.text}` / `${data.outputs.entities}`):
 *
 *   {"time": "...", "request_id": "...", "inputs.text": "...", "inputs.entity_type": "...", "outputs.entities": [...]}
 *
 * Inputs and outputs are flat `inputs.<name>` / `outputs.<name>` columns (column mapping reads a dotted column
 * name whole), so an input and an output of the same name never clash. A request is sampled by a hash of its
 * request id: the same id is always in or out, and a rate of 0.1 keeps about one in ten. Lines are appended by
 * one stream after the answer was sent, so logging never delays a response; with the log off the server holds
 * no RequestLog at all.
 *
 * For monitoring, each request line also says who answered and how: `deployment` (LLMOPS_DEPLOYMENT: the
 * version or colour, so blue and green can be told apart), `status`, `latency_ms` and the line's `tokens` and
 * `cost_usd`. What is not a dataset row goes to a sibling file, `<name>.events.jsonl`, so the log stays a
 * dataset: failed requests (`"type": "error"`, with the error's kind) and feedback (`"type": "feedback"`, keyed by
 * request id). Failures are sampled by the same hash as answers, so rates computed from the log are unbiased.
 * @module
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { connectionSecrets, type Connection } from '../config/connections.js';
import { ConfigError } from '../errors.js';
import { sharedRedactor, piiKinds, ALL_PII_KINDS, type PiiKind, type Redactor } from '../safety/redactor.js';

export interface RequestLogOptions {
  /** The JSONL file appended to (its folder is created). */
  file: string;
  /** Share of completed requests logged, 0..1 (default 1). */
  sampleRate?: number;
  /** Input/output field names (any depth, case-insensitive) whose values are replaced by "[REDACTED]". */
  redactFields?: readonly string[];
  /** Values never written (connection keys, the server's API key): replaced wherever they appear in text. */
  secrets?: readonly string[];
  /** PII kinds redacted in every text by the one redactor (safety/redactor.ts). */
  piiKinds?: readonly PiiKind[];
  /** Who is answering (LLMOPS_DEPLOYMENT: a deployment, version or colour), written on every line. */
  deployment?: string;
}

/** How a request went, beside its inputs and outputs. */
export interface RequestOutcome {
  /** Time from the request's arrival to its answer, ms. */
  latencyMs: number;
  status: number;
  usage?: { promptTokens: number; completionTokens: number; totalTokens: number; costUsd?: number };
}

/** The events file beside a request log: `requests.jsonl` → `requests.events.jsonl`. */
export function eventsFileOf(file: string): string {
  return file.endsWith('.jsonl') ? `${file.slice(0, -'.jsonl'.length)}.events.jsonl` : `${file}.events.jsonl`;
}

/** Field names redacted whatever the configuration: what holds credentials. */
const SECRET_FIELDS = ['api_key', 'apikey', 'api-key', 'authorization', 'password', 'secret', 'token', 'access_token'];
const REDACTED = '[REDACTED]';

export class RequestLog {
  private readonly stream: WriteStream;
  private events: WriteStream | undefined;
  private readonly threshold: number;
  private readonly fields: Set<string>;
  private readonly secrets: string[];
  private failure: Error | undefined;
  private readonly pii: Redactor | undefined;
  /** Lines waiting for PII redaction (asynchronous), written in the order they were recorded. */
  private pending: Promise<void> = Promise.resolve();

  constructor(readonly options: RequestLogOptions) {
    const rate = options.sampleRate ?? 1;
    if (!(rate >= 0 && rate <= 1))
      throw ConfigError.at({ file: 'request log' }, `sample rate ${rate}: expected a number from 0 to 1`);
    this.threshold = rate * 2 ** 32;
    this.fields = new Set([...SECRET_FIELDS, ...(options.redactFields ?? [])].map((f) => f.toLowerCase()));
    // Longest first, so a secret containing another is replaced whole.
    this.secrets = [...new Set(options.secrets ?? [])].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
    mkdirSync(path.dirname(path.resolve(options.file)), { recursive: true });
    this.stream = createWriteStream(options.file, { flags: 'a' });
    // A full disk must not take the server down: the log stops, the answers go on.
    this.stream.on('error', (e) => (this.failure ??= e));
    this.pii = options.piiKinds?.length ? sharedRedactor(options.piiKinds) : undefined;
  }

  /** Whether the request with this id is in the sample. */
  sampled(requestId: string): boolean {
    if (this.threshold >= 2 ** 32) return true;
    return createHash('sha256').update(requestId).digest().readUInt32BE(0) < this.threshold;
  }

  /** Appends one completed request when it is in the sample (`extra`: fields of ours, e.g. a guard event). */
  record(
    requestId: string,
    inputs: Record<string, unknown>,
    outputs: Record<string, unknown>,
    outcome?: RequestOutcome,
    extra?: Record<string, unknown>,
  ): void {
    if (this.failure || !this.sampled(requestId)) return;
    const line: Record<string, unknown> = { time: new Date().toISOString(), request_id: requestId, ...extra };
    if (this.options.deployment) line.deployment = this.options.deployment;
    if (outcome) {
      line.status = outcome.status;
      line.latency_ms = Math.round(outcome.latencyMs * 100) / 100;
      const u = outcome.usage;
      if (u && u.totalTokens > 0)
        line.tokens = { prompt: u.promptTokens, completion: u.completionTokens, total: u.totalTokens };
      // Twelve significant digits: a sum of per-call prices carries float noise (0.000010949999999999998).
      if (u?.costUsd !== undefined) line.cost_usd = Number(u.costUsd.toPrecision(12));
    }
    for (const [k, v] of Object.entries(inputs)) line[`inputs.${k}`] = this.redact(k, v);
    for (const [k, v] of Object.entries(outputs)) line[`outputs.${k}`] = this.redact(k, v);
    const pii = this.pii;
    if (!pii) return void this.stream.write(JSON.stringify(line) + '\n');
    this.pending = this.pending.then(async () => {
      const redacted = await pii.redactValue(line).catch((e: Error) => {
        this.failure ??= e; // never write a line whose PII could not be redacted
        return undefined;
      });
      if (redacted) this.stream.write(JSON.stringify(redacted) + '\n');
    });
  }

  /** Appends a failed request (in the sample) to the events file: its status, latency and the error's kind. */
  recordFailure(requestId: string, outcome: RequestOutcome, error: { kind: string; message: string }): void {
    if (this.failure || !this.sampled(requestId)) return;
    this.event({
      type: 'error',
      request_id: requestId,
      status: outcome.status,
      latency_ms: Math.round(outcome.latencyMs * 100) / 100,
      error: { kind: error.kind, message: this.maskSecrets(error.message) },
    });
  }

  /** Appends feedback on a request to the events file (always: feedback is rare and joined by request id). */
  recordFeedback(feedback: { request_id: string; rating?: number; label?: string; comment?: string }): void {
    if (this.failure) return;
    this.event({
      type: 'feedback',
      ...feedback,
      ...(feedback.comment !== undefined ? { comment: this.maskSecrets(feedback.comment) } : {}),
    });
  }

  private event(fields: Record<string, unknown>): void {
    if (!this.events) {
      this.events = createWriteStream(eventsFileOf(this.options.file), { flags: 'a' });
      this.events.on('error', (e) => (this.failure ??= e));
    }
    const line = {
      time: new Date().toISOString(),
      ...(this.options.deployment ? { deployment: this.options.deployment } : {}),
      ...fields,
    };
    const pii = this.pii;
    const events = this.events;
    if (!pii) return void events.write(JSON.stringify(line) + '\n');
    // Error messages and feedback comments can quote the user: the same redactor, in the same order.
    this.pending = this.pending.then(async () => {
      const redacted = await pii.redactValue(line).catch((e: Error) => {
        this.failure ??= e;
        return undefined;
      });
      if (redacted) events.write(JSON.stringify(redacted) + '\n');
    });
  }

  /** Flushes and closes the files. */
  async close(): Promise<void> {
    await this.pending;
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
    const events = this.events;
    if (events) await new Promise<void>((resolve) => events.end(() => resolve()));
  }

  private redact(key: string, value: unknown): unknown {
    if (this.fields.has(key.toLowerCase())) return REDACTED;
    if (typeof value === 'string') return this.maskSecrets(value);
    if (Array.isArray(value)) return value.map((v) => this.redact('', v));
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.redact(k, v)]));
    return value;
  }

  private maskSecrets(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }
}

/**
 * The request log the environment asks for: LLMOPS_REQUEST_LOG (the file), LLMOPS_REQUEST_LOG_SAMPLE (0..1,
 * default 1), LLMOPS_REQUEST_LOG_REDACT (comma-separated field names), LLMOPS_DEPLOYMENT (who answers; on Azure
 * Container Apps, CONTAINER_APP_REVISION when it is unset). Undefined when LLMOPS_REQUEST_LOG is unset,
 * so a deployment turns it on by its environment alone.
 */
export function requestLogFromEnv(
  env: Record<string, string | undefined> = process.env,
): Omit<RequestLogOptions, 'secrets'> | undefined {
  const file = env.LLMOPS_REQUEST_LOG?.trim();
  if (!file) return undefined;
  const rateText = env.LLMOPS_REQUEST_LOG_SAMPLE?.trim();
  const sampleRate = rateText ? Number(rateText) : 1;
  if (rateText !== undefined && rateText !== '' && !(Number.isFinite(sampleRate) && sampleRate >= 0 && sampleRate <= 1))
    throw ConfigError.at(
      { file: 'LLMOPS_REQUEST_LOG_SAMPLE' },
      `found ${JSON.stringify(rateText)}, expected a share of requests from 0 to 1 (0.1 logs about one in ten)`,
    );
  const redactFields = (env.LLMOPS_REQUEST_LOG_REDACT ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const pii = env.LLMOPS_REQUEST_LOG_PII?.trim();
  const kinds =
    pii === undefined || pii === ''
      ? undefined
      : pii === 'all'
        ? ALL_PII_KINDS
        : piiKinds(
            pii.split(',').map((k) => k.trim()),
            'LLMOPS_REQUEST_LOG_PII',
          );
  // Azure Container Apps names the revision in every container: the version a rollout shifts traffic between.
  const deployment = env.LLMOPS_DEPLOYMENT?.trim() || env.CONTAINER_APP_REVISION?.trim();
  return {
    file,
    sampleRate,
    redactFields,
    ...(deployment ? { deployment } : {}),
    ...(kinds ? { piiKinds: kinds } : {}),
  };
}

/** The server's log, when configured, with the secret values of its connections and its API key redacted. */
export function openRequestLog(o: {
  requestLog?: RequestLogOptions;
  connections?: readonly Connection[];
  fallbackConnection?: Connection;
  apiKey?: string;
}): RequestLog | undefined {
  if (!o.requestLog) return undefined;
  const connections = [...(o.connections ?? []), ...(o.fallbackConnection ? [o.fallbackConnection] : [])];
  const secrets = [...(o.requestLog.secrets ?? []), ...connectionSecrets(connections)];
  if (o.apiKey) secrets.push(o.apiKey);
  return new RequestLog({ ...o.requestLog, secrets });
}
