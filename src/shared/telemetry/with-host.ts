/**
 * Telemetry around one command or step: started from the environment before the work, flushed (bounded) after
 * it, whatever its outcome. Every value the host is told to mask is masked in captured content too, and the
 * secret telemetry settings themselves (exporter headers, the Application Insights connection string) are masked.
 * @module
 */
import type { Host } from '../host/host.js';
import { SECRET_TELEMETRY_ENV } from './config.js';
import { startTelemetry, type TelemetryOptions } from './setup.js';

export async function withTelemetry<T>(
  host: Pick<Host, 'mask' | 'warning'>,
  body: () => Promise<T>,
  options: Omit<TelemetryOptions, 'warn' | 'secrets'> = {},
): Promise<T> {
  // Exporter headers carry API keys and a connection string an ingestion key: masked in every log, on or off.
  const env = options.env ?? process.env;
  for (const [name, value] of Object.entries(env)) if (value && SECRET_TELEMETRY_ENV.test(name)) host.mask(value);
  const secrets = new Set<string>();
  const handle = await startTelemetry({
    ...options,
    warn: (m) => host.warning(m),
    secrets: () => secrets,
  });
  if (!handle) return body();
  const mask = host.mask.bind(host);
  host.mask = (secret: string) => {
    if (secret) secrets.add(secret);
    mask(secret);
  };
  try {
    return await body();
  } finally {
    host.mask = mask;
    await handle.shutdown();
  }
}
