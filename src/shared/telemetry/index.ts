/**
 * Telemetry (OpenTelemetry): off unless the standard environment configures an exporter.
 * @module
 */
export { startTelemetry, redactTelemetryContent, type TelemetryHandle, type TelemetryOptions } from './setup.js';
export { telemetryConfigFromEnv, TELEMETRY_ENV, SECRET_TELEMETRY_ENV, type TelemetryConfig } from './config.js';
export { telemetry, errorTypeOf, type RunAttributes, type Telemetry } from './hooks.js';
