/** Telemetry settings from the standard OpenTelemetry variables. */
import { ConfigError } from '../../src/shared/errors.js';
import { startTelemetry, telemetry, telemetryConfigFromEnv } from '../../src/shared/telemetry/index.js';

test('off unless an exporter is configured, and off when OTEL_SDK_DISABLED says so', async () => {
  expect(telemetryConfigFromEnv({})).toBeUndefined();
  expect(telemetryConfigFromEnv({ OTEL_SERVICE_NAME: 'x' })).toBeUndefined();
  expect(
    telemetryConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }),
  ).toBeUndefined();
  expect(await startTelemetry({ env: {} })).toBeUndefined();
  expect(telemetry).toBeUndefined();
});

test('OTLP endpoints, headers and resource attributes as the specification reads them', () => {
  const c = telemetryConfigFromEnv({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://metrics:9000/custom',
    OTEL_EXPORTER_OTLP_HEADERS: 'api-key=a%20b,x-tenant=t1',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,deployment.environment=prod',
  })!;
  expect(c.otlp).toEqual({
    tracesUrl: 'http://collector:4318/v1/traces',
    metricsUrl: 'http://metrics:9000/custom',
    headers: { 'api-key': 'a b', 'x-tenant': 't1' },
    timeoutMs: 10000,
  });
  expect(c.serviceName).toBe('from-attrs');
  expect(c.resource).toEqual({ 'service.name': 'from-attrs', 'deployment.environment': 'prod' });
  expect(c.captureContent).toBe(false);
  expect([c.traces, c.metrics]).toEqual([true, true]);
  const metricsOnly = telemetryConfigFromEnv({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
    OTEL_TRACES_EXPORTER: 'none',
  })!;
  expect([metricsOnly.traces, metricsOnly.metrics]).toEqual([false, true]);
  expect(telemetryConfigFromEnv({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=k' })).toMatchObject({
    azureMonitor: { connectionString: 'InstrumentationKey=k' },
    otlp: undefined,
    serviceName: 'llmops',
  });
});

test('bad settings are input errors naming the variable', () => {
  const message = (env: NodeJS.ProcessEnv) => {
    try {
      telemetryConfigFromEnv(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error('no error');
  };
  expect(message({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toContain(
    'OTEL_EXPORTER_OTLP_PROTOCOL: found "grpc", expected "http/protobuf"',
  );
  expect(message({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toContain(
    'OTEL_EXPORTER_OTLP_ENDPOINT: found "collector:4318", expected an http(s) URL',
  );
  expect(message({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toContain(
    'OTEL_EXPORTER_OTLP_HEADERS: found an entry without "key=value"',
  );
  expect(message({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_SAMPLER: 'xray' })).toContain(
    'OTEL_TRACES_SAMPLER: found "xray", expected one of always_on, always_off, traceidratio',
  );
  expect(
    message({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c',
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '5',
    }),
  ).toContain('OTEL_TRACES_SAMPLER_ARG: found "5", expected a number from 0 to 1');
  expect(
    telemetryConfigFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    })?.sampler,
  ).toEqual({ name: 'parentbased_traceidratio', ratio: 0.1 });
});
