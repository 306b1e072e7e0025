/**
 * Telemetry around one command or step: started from the environment before the work, flushed (bounded) after
 * it, whatever its outcome. Every value the host is told to mask is masked in captured content too.
 * @module
 */
import type { Host } from '../host/host.js';
import { startTelemetry, type TelemetryOptions } from './setup.js';

export async function withTelemetry<T>(
  host: Pick<Host, 'mask' | 'warning'>,
  body: () => Promise<T>,
  options: Omit<TelemetryOptions, 'warn' | 'secrets'> = {},
): Promise<T> {
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
