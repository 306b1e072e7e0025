/**
 * Turns telemetry on from the environment: the SDK is imported only then (setup is the one place that loads it),
 * installed as the process's telemetry (hooks.ts), and flushed within a bounded time when the work ends.
 * Telemetry never fails the work: an exporter that cannot reach its collector costs a warning.
 * @module
 */
import { redact as maskSecrets } from '../host/host.js';
import { telemetryConfigFromEnv, type TelemetryConfig } from './config.js';
import { setTelemetry, telemetry } from './hooks.js';
import type { SdkTelemetry } from './sdk.js';

export interface TelemetryOptions {
  env?: NodeJS.ProcessEnv;
  /** Applied to captured prompt/completion text after secret masking (personal data: redactTelemetryContent). */
  redact?: (text: string) => string;
  /** Secret values masked in captured text (connection keys, tokens). */
  secrets?: () => Iterable<string>;
  /** Told why telemetry could not be sent (never thrown). */
  warn?: (message: string) => void;
  version?: string;
}

export interface TelemetryHandle {
  readonly config: TelemetryConfig;
  /** Flushes and stops within `timeoutMs` (default 5 s); warns, never throws, when the collector is not there. */
  shutdown(timeoutMs?: number): Promise<void>;
}

let current: { handle: TelemetryHandle; sdk: SdkTelemetry } | undefined;

/**
 * Starts telemetry when the environment configures it (OTEL_EXPORTER_OTLP_*, APPLICATIONINSIGHTS_CONNECTION_STRING);
 * returns undefined (and loads nothing) when it does not. A bad setting is a ConfigError (exit 2).
 */
export async function startTelemetry(options: TelemetryOptions = {}): Promise<TelemetryHandle | undefined> {
  const config = telemetryConfigFromEnv(options.env ?? process.env);
  if (!config) return undefined;
  if (current) return current.handle;
  const { createSdkTelemetry, catchSdkErrors } = await import('./sdk.js');
  // Export failures reach the SDK's global error handler and diag logger: the first one is a warning at once (a
  // server may run for days), the rest are counted into one more at shutdown.
  let failures = 0;
  const warnOf = (why: string) =>
    `telemetry could not be sent to ${describeTargets(config)}: ${maskSecrets(why, secretValues(config))}`;
  catchSdkErrors((e) => {
    if (failures++ === 0) options.warn?.(warnOf(e instanceof Error ? e.message : String(e)));
  });
  const redact = (text: string): string => {
    const masked = options.secrets ? maskSecrets(text, options.secrets()) : text;
    return options.redact ? options.redact(masked) : masked;
  };
  const sdk = await createSdkTelemetry(config, { redact, version: options.version });
  const handle: TelemetryHandle = {
    config,
    async shutdown(timeoutMs = 5000) {
      if (current?.sdk !== sdk) return;
      current = undefined;
      if (telemetry === sdk) setTelemetry(undefined);
      const failedBefore = failures;
      const flushed = await sdk.shutdown(timeoutMs);
      if (!flushed) options.warn?.(warnOf(`no answer within ${timeoutMs} ms while flushing`));
      else if (failures > failedBefore && failedBefore > 0) options.warn?.(warnOf(`${failures} exports failed in all`));
    },
  };
  current = { handle, sdk };
  setTelemetry(sdk);
  return handle;
}

/**
 * Personal data redacted (by the use case's redactor, safety/redactor.ts) in what telemetry captures from now on:
 * prompt and completion content and model-call error messages, after secret masking. Nothing when telemetry is off.
 */
export function redactTelemetryContent(redact: (text: string) => Promise<string>): void {
  current?.sdk.redactPersonalData(redact);
}

function describeTargets(config: TelemetryConfig): string {
  const targets: string[] = [];
  if (config.otlp) targets.push(config.otlp.tracesUrl.replace(/\/v1\/traces$/, ''));
  if (config.azureMonitor) targets.push('Azure Monitor');
  return targets.join(' and ');
}

function secretValues(config: TelemetryConfig): string[] {
  return [...Object.values(config.otlp?.headers ?? {}), config.azureMonitor?.connectionString ?? ''];
}
