/**
 * Telemetry settings from the standard OpenTelemetry environment variables (and Application Insights' connection
 * string). Nothing here loads the SDK: with none of the variables set, telemetry is off and costs nothing.
 * @module
 */
import { ConfigError } from '../errors.js';

export interface OtlpSettings {
  tracesUrl: string;
  metricsUrl: string;
  headers: Record<string, string>;
  /** Each export's time limit (ms). */
  timeoutMs: number;
}

export interface TelemetryConfig {
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, parsed. */
  resource: Record<string, string>;
  otlp?: OtlpSettings;
  /** APPLICATIONINSIGHTS_CONNECTION_STRING: the Azure Monitor exporters. */
  azureMonitor?: { connectionString: string };
  /** OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true: prompts and completions on model-call spans. */
  captureContent: boolean;
  /** How often metrics are exported (OTEL_METRIC_EXPORT_INTERVAL, ms). */
  metricIntervalMs: number;
  /** false: OTEL_TRACES_EXPORTER=none / OTEL_METRICS_EXPORTER=none turned that signal off. */
  traces: boolean;
  metrics: boolean;
  /** OTEL_TRACES_SAMPLER / _ARG; undefined: every span is kept (parent-based, always on). */
  sampler?: TraceSampler;
}

/** The variables a deployed container needs to export what it records (deploy targets pass these through). */
export const TELEMETRY_ENV = /^(OTEL_[A-Z0-9_]+|APPLICATIONINSIGHTS_CONNECTION_STRING)$/;

/** Variables whose values are secret (headers carry API keys; the connection string an ingestion key). */
export const SECRET_TELEMETRY_ENV =
  /^(OTEL_EXPORTER_OTLP(_TRACES|_METRICS|_LOGS)?_HEADERS|APPLICATIONINSIGHTS_CONNECTION_STRING)$/;

const SOURCE = { file: 'environment' };

function truthy(v: string | undefined): boolean {
  return /^(true|1|yes|on)$/i.test((v ?? '').trim());
}

/** `k=v,k2=v2` (W3C baggage-like, values percent-encoded), as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES say. */
export function parseKeyValues(text: string | undefined, variable: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text?.trim()) return out;
  for (const part of text.split(',')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq <= 0)
      throw ConfigError.at(
        SOURCE,
        `${variable}: found an entry without "key=value"; expected key=value pairs separated by commas`,
      );
    try {
      out[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      throw ConfigError.at(SOURCE, `${variable}: an entry is not valid percent-encoding; expected key=value pairs`);
    }
  }
  return out;
}

function checkUrl(url: string, variable: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw ConfigError.at(SOURCE, `${variable}: found ${JSON.stringify(url)}, expected an http(s) URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw ConfigError.at(SOURCE, `${variable}: found ${JSON.stringify(url)}, expected an http(s) URL`);
  return url;
}

/** A signal's URL: its own variable as given, else the base endpoint + `/v1/<signal>` (the OTLP exporter spec). */
function signalUrl(env: NodeJS.ProcessEnv, signal: 'traces' | 'metrics'): string | undefined {
  const own = env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`];
  if (own?.trim()) return checkUrl(own.trim(), `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`);
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return undefined;
  checkUrl(base, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  return `${base.replace(/\/+$/, '')}/v1/${signal}`;
}

function checkProtocol(env: NodeJS.ProcessEnv): void {
  for (const name of [
    'OTEL_EXPORTER_OTLP_PROTOCOL',
    'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
  ]) {
    const p = env[name]?.trim();
    if (!p || p === 'http/protobuf') continue;
    throw ConfigError.at(
      SOURCE,
      `${name}: found ${JSON.stringify(p)}, expected "http/protobuf" (the only OTLP protocol llmops ships; ` +
        "point OTEL_EXPORTER_OTLP_ENDPOINT at a collector's OTLP/HTTP port, usually 4318)",
    );
  }
}

export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

export interface TraceSampler {
  name: SamplerName;
  /** The share of traces kept by the ratio samplers (0..1). */
  ratio: number;
}

const SAMPLERS: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/** The specification's sampler variables; a value we cannot honour is an input error, not a silent default. */
function samplerOf(env: NodeJS.ProcessEnv): TraceSampler | undefined {
  const name = env.OTEL_TRACES_SAMPLER?.trim();
  if (!name) return undefined;
  if (!(SAMPLERS as readonly string[]).includes(name))
    throw ConfigError.at(
      SOURCE,
      `OTEL_TRACES_SAMPLER: found ${JSON.stringify(name)}, expected one of ${SAMPLERS.join(', ')}`,
    );
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const ratio = arg ? Number(arg) : 1;
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1)
    throw ConfigError.at(
      SOURCE,
      `OTEL_TRACES_SAMPLER_ARG: found ${JSON.stringify(arg)}, expected a number from 0 to 1`,
    );
  return { name: name as SamplerName, ratio };
}

/** The telemetry the environment asks for, or undefined (off). Bad values: ConfigError (exit 2). */
export function telemetryConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TelemetryConfig | undefined {
  if (truthy(env.OTEL_SDK_DISABLED)) return undefined;
  const tracesUrl = signalUrl(env, 'traces');
  const metricsUrl = signalUrl(env, 'metrics');
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!tracesUrl && !metricsUrl && !connectionString) return undefined;
  if (tracesUrl || metricsUrl) checkProtocol(env);
  const resource = parseKeyValues(env.OTEL_RESOURCE_ATTRIBUTES, 'OTEL_RESOURCE_ATTRIBUTES');
  const timeout = Number(env.OTEL_EXPORTER_OTLP_TIMEOUT ?? 10_000);
  const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000);
  const base = parseKeyValues(env.OTEL_EXPORTER_OTLP_HEADERS, 'OTEL_EXPORTER_OTLP_HEADERS');
  const sampler = samplerOf(env);
  return {
    serviceName: env.OTEL_SERVICE_NAME?.trim() || resource['service.name'] || 'llmops',
    resource,
    otlp:
      tracesUrl || metricsUrl
        ? {
            // A signal without its own URL still needs one: the base endpoint is required by then for both.
            tracesUrl: tracesUrl ?? metricsUrl!.replace(/\/v1\/metrics$/, '/v1/traces'),
            metricsUrl: metricsUrl ?? tracesUrl!.replace(/\/v1\/traces$/, '/v1/metrics'),
            headers: base,
            timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : 10_000,
          }
        : undefined,
    azureMonitor: connectionString ? { connectionString } : undefined,
    captureContent: truthy(env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT),
    metricIntervalMs: Number.isFinite(interval) && interval > 0 ? interval : 60_000,
    traces: env.OTEL_TRACES_EXPORTER?.trim() !== 'none',
    metrics: env.OTEL_METRICS_EXPORTER?.trim() !== 'none',
    ...(sampler ? { sampler } : {}),
  };
}
