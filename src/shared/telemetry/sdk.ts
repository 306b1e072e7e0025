/**
 * Telemetry on the OpenTelemetry SDK: spans for served requests, lines, nodes and model calls (GenAI semantic
 * conventions), and the metrics beside them. Loaded only by setup.ts's dynamic import, when telemetry is on.
 * Attribute names are written out: the GenAI ones are still "incubating" in @opentelemetry/semantic-conventions,
 * whose guidance is to copy incubating names rather than import them.
 * @module
 */
import {
  context as otelContext,
  defaultTextMapGetter,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { setGlobalErrorHandler, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { TelemetryConfig, TraceSampler } from './config.js';
import {
  errorTypeOf,
  type LineStatus,
  type ModelCallOutcome,
  type ModelCallStart,
  type ModelCallTrace,
  type RequestTrace,
  type RunAttributes,
  type Telemetry,
} from './hooks.js';

export interface SdkOptions {
  /** Applied to captured prompt and completion text before it leaves the process (secrets and PII). */
  redact: (text: string) => string;
  version?: string;
}

export interface SdkTelemetry extends Telemetry {
  /** Exports what is buffered and stops; resolves false when the time ran out or an export failed. */
  shutdown(timeoutMs: number): Promise<boolean>;
  /**
   * Personal data redacted from captured content and model-call error messages from now on (after `redact`).
   * The redactor is asynchronous: a model-call span then ends once its texts are redacted, with the call's own
   * end time, and shutdown waits for those spans before exporting.
   */
  redactPersonalData(redact: ((text: string) => Promise<string>) | undefined): void;
}

const propagator = new W3CTraceContextPropagator();

// Buckets of the GenAI conventions' advice (seconds; tokens), so backends draw the same histograms everywhere.
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const MS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

async function exportersOf(config: TelemetryConfig): Promise<{ spans: SpanExporter[]; metrics: PushMetricExporter[] }> {
  const spans: SpanExporter[] = [];
  const metrics: PushMetricExporter[] = [];
  if (config.otlp) {
    const common = { headers: config.otlp.headers, timeoutMillis: config.otlp.timeoutMs };
    spans.push(new OTLPTraceExporter({ ...common, url: config.otlp.tracesUrl }));
    metrics.push(new OTLPMetricExporter({ ...common, url: config.otlp.metricsUrl }));
  }
  if (config.azureMonitor) {
    // Loaded only for Azure Monitor (a large module); a CommonJS module's exports may sit under `default`.
    const loaded = await import('@azure/monitor-opentelemetry-exporter');
    const { AzureMonitorTraceExporter, AzureMonitorMetricExporter } =
      (loaded as { default?: typeof loaded }).default ?? loaded;
    const options = { connectionString: config.azureMonitor.connectionString };
    spans.push(new AzureMonitorTraceExporter(options));
    metrics.push(new AzureMonitorMetricExporter(options));
  }
  return { spans: config.traces ? spans : [], metrics: config.metrics ? metrics : [] };
}

function withTimeout(work: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    work.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}

/** The GenAI system name of a provider's endpoint. */
function finishReasonsOf(response: unknown): string[] | undefined {
  const choices = (response as { choices?: { finish_reason?: unknown }[] } | undefined)?.choices;
  if (!Array.isArray(choices)) return undefined;
  const reasons = choices.map((c) => c?.finish_reason).filter((r): r is string => typeof r === 'string');
  return reasons.length ? reasons : undefined;
}

function outputMessagesOf(response: unknown): unknown {
  const choices = (response as { choices?: { message?: unknown; text?: unknown }[] } | undefined)?.choices;
  if (!Array.isArray(choices)) return undefined;
  return choices.map((c) => c?.message ?? c?.text);
}

/** The SDK sampler of the configured one. Metrics are recorded whatever the sampler keeps of the traces. */
function samplerOf({ name, ratio }: TraceSampler): Sampler {
  const root = name.endsWith('always_off')
    ? new AlwaysOffSampler()
    : name.endsWith('traceidratio')
      ? new TraceIdRatioBasedSampler(ratio)
      : new AlwaysOnSampler();
  return name.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

/** The W3C `traceparent` of a span, written from its context (no propagation context to build per call). */
function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

interface ResponseDimensions {
  all: Attributes;
  input: Attributes;
  output: Attributes;
}

/**
 * A model call's metric dimensions, built once per (operation, provider, model, response model) rather than
 * spread into new objects on every call: a bulk run makes the same few sets thousands of times a second.
 * The SDK only reads these objects, so sharing them is safe.
 */
class CallDimensions {
  private readonly bases = new Map<string, Attributes>();
  private readonly responses = new WeakMap<Attributes, Map<string, ResponseDimensions>>();

  base(operation: string, system: string, model: string): Attributes {
    const key = `${operation}\n${system}\n${model}`;
    let base = this.bases.get(key);
    if (!base) {
      base = {
        'gen_ai.operation.name': operation,
        'gen_ai.system': system,
        'gen_ai.provider.name': system === 'az.ai.openai' ? 'azure.ai.openai' : system,
        'gen_ai.request.model': model,
      };
      this.bases.set(key, base);
    }
    return base;
  }

  of(base: Attributes, responseModel: string | undefined): ResponseDimensions {
    let byModel = this.responses.get(base);
    if (!byModel) this.responses.set(base, (byModel = new Map()));
    const key = responseModel ?? '';
    let dims = byModel.get(key);
    if (!dims) {
      const all: Attributes = responseModel ? { ...base, 'gen_ai.response.model': responseModel } : { ...base };
      dims = {
        all,
        input: { ...all, 'gen_ai.token.type': 'input' },
        output: { ...all, 'gen_ai.token.type': 'output' },
      };
      byModel.set(key, dims);
    }
    return dims;
  }
}

/** Sends the SDK's own errors (failed exports) to `keep` instead of the console. */
export function catchSdkErrors(keep: (error: unknown) => void): void {
  setGlobalErrorHandler(keep);
  const ignore = () => undefined;
  diag.setLogger({ error: keep, warn: ignore, info: ignore, debug: ignore, verbose: ignore }, DiagLogLevel.ERROR);
}

export async function createSdkTelemetry(config: TelemetryConfig, options: SdkOptions): Promise<SdkTelemetry> {
  const { spans: spanExporters, metrics: metricExporters } = await exportersOf(config);
  const resource = defaultResource().merge(
    resourceFromAttributes({
      ...config.resource,
      'service.name': config.serviceName,
      ...(options.version ? { 'service.version': options.version } : {}),
    }),
  );
  const tracerProvider = new BasicTracerProvider({
    resource,
    // Given explicitly: the SDK would read only process.env, not the environment this config came from.
    sampler: samplerOf(config.sampler ?? { name: 'parentbased_always_on', ratio: 1 }),
    spanProcessors: spanExporters.map(
      // A bulk run makes thousands of spans a second: a queue and batches larger than the SDK's defaults (2048,
      // 512) keep them from being dropped between exports, at a bounded memory cost.
      (e) =>
        new BatchSpanProcessor(e, {
          scheduledDelayMillis: 1000,
          maxQueueSize: 16_384,
          maxExportBatchSize: 2048,
          exportTimeoutMillis: config.otlp?.timeoutMs,
        }),
    ),
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: metricExporters.map(
      (exporter) =>
        new PeriodicExportingMetricReader({
          exporter,
          exportIntervalMillis: config.metricIntervalMs,
          exportTimeoutMillis: Math.min(config.metricIntervalMs, config.otlp?.timeoutMs ?? 30_000),
        }),
    ),
  });
  const tracer: Tracer = tracerProvider.getTracer('llmops', options.version);
  const meter = meterProvider.getMeter('llmops', options.version);

  const lineDuration = meter.createHistogram('llmops.line.duration', {
    unit: 's',
    description: 'Time to run one line of a flow',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const nodeDuration = meter.createHistogram('llmops.node.duration', {
    unit: 's',
    description: 'Time to run one node of a flow',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const operationDuration = meter.createHistogram('gen_ai.client.operation.duration', {
    unit: 's',
    description: 'GenAI operation duration',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const tokenUsage = meter.createHistogram('gen_ai.client.token.usage', {
    unit: '{token}',
    description: 'Measures number of input and output tokens used',
    advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
  });
  const cost = meter.createCounter('llmops.llm.cost', { unit: 'USD', description: 'Estimated cost of model calls' });
  const errors = meter.createCounter('llmops.errors', { unit: '{error}', description: 'Errors by kind and scope' });
  const throttled = meter.createCounter('llmops.llm.throttled', {
    unit: '{response}',
    description: 'HTTP 429 answers from model endpoints',
  });
  const retries = meter.createCounter('llmops.llm.retries', {
    unit: '{attempt}',
    description: 'Model call attempts beyond the first',
  });
  const cacheHits = meter.createCounter('llmops.llm.cache.hits', {
    unit: '{call}',
    description: 'Model calls answered from the response cache',
  });
  const requestDuration = meter.createHistogram('http.server.request.duration', {
    unit: 's',
    description: 'Duration of HTTP server requests',
    advice: { explicitBucketBoundaries: MS_BUCKETS },
  });
  const serveCache = meter.createCounter('llmops.serve.cache.requests', {
    unit: '{request}',
    description: 'Served requests by what the response cache did (llmops.cache.result: hit, coalesced, miss, bypass)',
  });
  const activeRequests = meter.createUpDownCounter('http.server.active_requests', {
    unit: '{request}',
    description: 'Number of active HTTP server requests',
  });

  const dimensions = new CallDimensions();
  const spans = new WeakMap<object, Span>();
  const contextOf = (key: object | undefined): Context => {
    const parent = key && spans.get(key);
    return parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
  };
  const fail = (span: Span, errorType: string, message?: string) => {
    span.setStatus({ code: SpanStatusCode.ERROR, message });
    span.setAttribute('error.type', errorType);
  };
  const content = (value: unknown): string => options.redact(typeof value === 'string' ? value : JSON.stringify(value));
  let personalData: ((text: string) => Promise<string>) | undefined;
  // Spans whose texts are still being redacted: shutdown exports only once they have ended.
  const redacting = new Set<Promise<void>>();
  /** A span's text attribute, set at once or, with personal data redacted, once it is. */
  const setText = (span: Span, name: string, text: string, late: Promise<unknown>[] | undefined) => {
    if (!late || !personalData) span.setAttribute(name, text);
    else late.push(personalData(text).then((redacted) => span.setAttribute(name, redacted)));
  };

  return {
    lineStart(key, lineNumber, run: RunAttributes | undefined, parent) {
      const attributes: Attributes = { 'llmops.line.number': lineNumber };
      if (run?.runId) attributes['llmops.run.id'] = run.runId;
      if (run?.variant) attributes['llmops.variant'] = run.variant;
      if (run?.dataset) attributes['llmops.dataset'] = run.dataset;
      if (run?.flow) attributes['llmops.flow'] = run.flow;
      spans.set(key, tracer.startSpan('llmops.line', { attributes }, contextOf(parent)));
    },
    lineEnd(key, status: LineStatus, errorType, latencyMs) {
      const span = spans.get(key);
      spans.delete(key);
      const attributes: Attributes = { 'llmops.line.status': status };
      if (errorType) {
        attributes['error.type'] = errorType;
        errors.add(1, { 'llmops.scope': 'line', 'error.type': errorType });
      }
      lineDuration.record(latencyMs / 1000, attributes);
      if (!span) return;
      span.setAttribute('llmops.line.status', status);
      if (errorType) fail(span, errorType);
      span.end();
    },
    nodeStart(parentKey, key, node) {
      spans.set(
        key,
        tracer.startSpan(`llmops.node ${node}`, { attributes: { 'llmops.node': node } }, contextOf(parentKey)),
      );
    },
    nodeEnd(key, node, errorType, latencyMs) {
      const span = spans.get(key);
      spans.delete(key);
      const attributes: Attributes = { 'llmops.node': node };
      if (errorType) {
        attributes['error.type'] = errorType;
        errors.add(1, { 'llmops.scope': 'node', 'error.type': errorType });
      }
      nodeDuration.record(latencyMs / 1000, attributes);
      if (!span) return;
      if (errorType) fail(span, errorType);
      span.end();
    },
    modelCallStart(parentKey, call: ModelCallStart): ModelCallTrace {
      const operation =
        call.api === 'embedding' ? 'embeddings' : call.api === 'completion' ? 'text_completion' : 'chat';
      const base = dimensions.base(operation, call.system, call.model);
      const attributes: Attributes = { ...base };
      const b = call.body;
      if (typeof b.temperature === 'number') attributes['gen_ai.request.temperature'] = b.temperature;
      if (typeof b.top_p === 'number') attributes['gen_ai.request.top_p'] = b.top_p;
      if (typeof b.max_tokens === 'number') attributes['gen_ai.request.max_tokens'] = b.max_tokens;
      const input = config.captureContent ? (b.messages ?? b.prompt ?? b.input) : undefined;
      if (input !== undefined && !personalData) attributes['gen_ai.input.messages'] = content(input);
      const span = tracer.startSpan(
        `${operation} ${call.model}`,
        { kind: SpanKind.CLIENT, attributes },
        contextOf(parentKey),
      );
      // Redacted while the model answers; the span ends only after it is. Nothing to wait for when capture is off.
      let late: Promise<unknown>[] | undefined = personalData && config.captureContent ? [] : undefined;
      if (input !== undefined && late) setText(span, 'gen_ai.input.messages', content(input), late);
      const started = performance.now();
      return {
        traceparent: traceparentOf(span),
        end(outcome: ModelCallOutcome) {
          const seconds = (performance.now() - started) / 1000;
          const response = outcome.response as { model?: unknown; id?: unknown } | undefined;
          const responseModel = typeof response?.model === 'string' ? response.model : undefined;
          if (responseModel) span.setAttribute('gen_ai.response.model', responseModel);
          const dims = outcome.error === undefined ? dimensions.of(base, responseModel) : undefined;
          const metricAttributes: Attributes = dims ? dims.all : { ...base };
          if (responseModel && !dims) metricAttributes['gen_ai.response.model'] = responseModel;
          if (typeof response?.id === 'string') span.setAttribute('gen_ai.response.id', response.id);
          const reasons = finishReasonsOf(response);
          if (reasons) span.setAttribute('gen_ai.response.finish_reasons', reasons);
          if (outcome.usage) {
            span.setAttribute('gen_ai.usage.input_tokens', outcome.usage.promptTokens);
            span.setAttribute('gen_ai.usage.output_tokens', outcome.usage.completionTokens);
            if (!outcome.cached) {
              const input = dims?.input ?? { ...metricAttributes, 'gen_ai.token.type': 'input' };
              const output = dims?.output ?? { ...metricAttributes, 'gen_ai.token.type': 'output' };
              tokenUsage.record(outcome.usage.promptTokens, input);
              tokenUsage.record(outcome.usage.completionTokens, output);
            }
          }
          if (outcome.costUsd !== undefined) {
            span.setAttribute('llmops.cost.usd', outcome.costUsd);
            cost.add(outcome.costUsd, metricAttributes);
          }
          if (outcome.cached) {
            span.setAttribute('llmops.cache.hit', true);
            cacheHits.add(1, metricAttributes);
          }
          if (outcome.attempts !== undefined && outcome.attempts > 1) {
            span.setAttribute('llmops.attempts', outcome.attempts);
            retries.add(outcome.attempts - 1, metricAttributes);
          }
          if (config.captureContent && response) {
            const out = outputMessagesOf(response);
            if (out !== undefined) setText(span, 'gen_ai.output.messages', content(out), late);
          }
          if (outcome.error !== undefined) {
            const errorType = errorTypeOf(outcome.error);
            metricAttributes['error.type'] = errorType;
            errors.add(1, { 'llmops.scope': 'model', 'error.type': errorType });
            const message = options.redact((outcome.error as Error)?.message ?? String(outcome.error));
            if (!personalData) fail(span, errorType, message);
            else {
              span.setAttribute('error.type', errorType);
              (late ??= []).push(
                personalData(message).then(
                  (redacted) => fail(span, errorType, redacted),
                  () => fail(span, errorType),
                ),
              );
            }
          }
          operationDuration.record(seconds, metricAttributes);
          if (!late?.length) return span.end();
          // A text that could not be redacted is left out, never sent as it was.
          const endTime = performance.now();
          const ending = Promise.allSettled(late).then(() => {
            span.end(endTime);
            redacting.delete(ending);
          });
          redacting.add(ending);
        },
      };
    },
    throttled(url) {
      throttled.add(1, { 'server.address': new URL(url).host });
    },
    requestStart(route, traceparent): RequestTrace {
      const parent = traceparent
        ? propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter)
        : otelContext.active();
      const span = tracer.startSpan(
        `POST ${route}`,
        { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': route } },
        parent,
      );
      const key = {};
      spans.set(key, span);
      const dims: Attributes = { 'http.request.method': 'POST', 'http.route': route };
      activeRequests.add(1, dims);
      const started = performance.now();
      return {
        parent: key,
        end(status, errorKind) {
          activeRequests.add(-1, dims);
          spans.delete(key);
          const attributes: Attributes = { ...dims, 'http.response.status_code': status };
          if (errorKind || status >= 500) {
            attributes['error.type'] = errorKind ?? String(status);
            errors.add(1, { 'llmops.scope': 'request', 'error.type': attributes['error.type'] as string });
          }
          requestDuration.record((performance.now() - started) / 1000, attributes);
          span.setAttribute('http.response.status_code', status);
          if (this.cacheResult) {
            serveCache.add(1, { ...dims, 'llmops.cache.result': this.cacheResult });
            span.setAttribute('llmops.cache.result', this.cacheResult);
          }
          if (status >= 500) fail(span, String(attributes['error.type']));
          span.end();
        },
      };
    },
    async shutdown(timeoutMs) {
      // Shutting down exports what is buffered (a flush first would send cumulative metrics twice).
      const ended = Promise.all([...redacting]);
      return withTimeout(
        ended.then(() => Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()])),
        timeoutMs,
      );
    },
    redactPersonalData(redact) {
      personalData = redact;
    },
  };
}
