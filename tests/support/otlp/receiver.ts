/**
 * A loopback OTLP/HTTP receiver for tests: accepts `POST /v1/traces` and `POST /v1/metrics` in the
 * http/protobuf encoding and decodes them with the official OpenTelemetry proto definitions (vendored under
 * ./proto) through protobufjs — what a collector would see, not a view of the SDK's objects.
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO_ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'proto');

export type AttributeValue = string | number | boolean | AttributeValue[] | null;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT, … */
  kind: string;
  attributes: Record<string, AttributeValue>;
  /** STATUS_CODE_UNSET, STATUS_CODE_OK, STATUS_CODE_ERROR */
  status: { code: string; message: string };
  resource: Record<string, AttributeValue>;
  scope: string;
  /** Start and end, nanoseconds since the epoch (as decimal strings: they exceed 2^53). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
}

export interface ReceivedPoint {
  attributes: Record<string, AttributeValue>;
  /** Sum / gauge value, or a histogram's sum. */
  value?: number;
  /** Histogram count. */
  count?: number;
}

export interface ReceivedMetric {
  name: string;
  unit: string;
  /** sum | gauge | histogram | exponentialHistogram | summary */
  type: string;
  points: ReceivedPoint[];
  resource: Record<string, AttributeValue>;
}

export interface OtlpReceiver {
  /** Base endpoint (what OTEL_EXPORTER_OTLP_ENDPOINT takes). */
  url: string;
  spans: ReceivedSpan[];
  metrics: ReceivedMetric[];
  /** Every request seen: path and content type. */
  requests: { path: string; contentType: string }[];
  /** Resolves when `test` holds (checked as payloads arrive), rejects after `timeoutMs`. */
  waitFor(test: (r: OtlpReceiver) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

let types:
  | {
      traceRequest: protobuf.Type;
      metricsRequest: protobuf.Type;
      traceResponse: protobuf.Type;
      metricsResponse: protobuf.Type;
    }
  | undefined;

function loadTypes(): NonNullable<typeof types> {
  if (types) return types;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_ROOT, target);
  root.loadSync(
    [
      'opentelemetry/proto/collector/trace/v1/trace_service.proto',
      'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
    ],
    { keepCase: false },
  );
  types = {
    traceRequest: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    traceResponse: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
    metricsRequest: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
    metricsResponse: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse'),
  };
  return types;
}

type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
};

function valueOf(v: AnyValue | undefined): AttributeValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(valueOf);
  return null;
}

function attributesOf(list: { key: string; value?: AnyValue }[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list ?? []) out[kv.key] = valueOf(kv.value);
  return out;
}

const hex = (b: string | undefined) => Buffer.from(b ?? '', 'base64').toString('hex');

const objectOptions = { longs: String, enums: String, bytes: String, defaults: false, oneofs: false };

/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protobuf objects are walked by their proto field names */
function flattenTraces(request: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributesOf(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name,
          kind: s.kind ?? 'SPAN_KIND_UNSPECIFIED',
          attributes: attributesOf(s.attributes),
          status: { code: s.status?.code ?? 'STATUS_CODE_UNSET', message: s.status?.message ?? '' },
          resource,
          scope: ss.scope?.name ?? '',
          startTimeUnixNano: String(s.startTimeUnixNano ?? '0'),
          endTimeUnixNano: String(s.endTimeUnixNano ?? '0'),
        });
      }
    }
  }
  return out;
}

function flattenMetrics(request: any): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of request.resourceMetrics ?? []) {
    const resource = attributesOf(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const type = ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary'].find((t) => m[t]) ?? 'unknown';
        const points: ReceivedPoint[] = (m[type]?.dataPoints ?? []).map((p: any) => ({
          attributes: attributesOf(p.attributes),
          value:
            p.asDouble !== undefined
              ? p.asDouble
              : p.asInt !== undefined
                ? Number(p.asInt)
                : p.sum !== undefined
                  ? Number(p.sum)
                  : undefined,
          count: p.count !== undefined ? Number(p.count) : undefined,
        }));
        out.push({ name: m.name, unit: m.unit ?? '', type, points, resource });
      }
    }
  }
  return out;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const t = loadTypes();
  const waiters = new Set<() => void>();
  const receiver: OtlpReceiver = {
    url: '',
    spans: [],
    metrics: [],
    requests: [],
    waitFor(test, timeoutMs = 15_000) {
      if (test(receiver)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!test(receiver)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `OTLP receiver: condition not met within ${timeoutMs} ms (${receiver.spans.length} spans, ${receiver.metrics.length} metrics)`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const answer = (res: ServerResponse, type: protobuf.Type) => {
    const body = type.encode(type.create({})).finish();
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': body.length });
    res.end(body);
  };
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const contentType = String(req.headers['content-type'] ?? '');
      receiver.requests.push({ path: req.url ?? '', contentType });
      if (req.method !== 'POST' || contentType !== 'application/x-protobuf') {
        res.writeHead(415).end();
        return;
      }
      try {
        if (req.url === '/v1/traces') {
          receiver.spans.push(...flattenTraces(t.traceRequest.toObject(t.traceRequest.decode(body), objectOptions)));
          answer(res, t.traceResponse);
        } else if (req.url === '/v1/metrics') {
          receiver.metrics.push(
            ...flattenMetrics(t.metricsRequest.toObject(t.metricsRequest.decode(body), objectOptions)),
          );
          answer(res, t.metricsResponse);
        } else res.writeHead(404).end();
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(e));
      }
      for (const w of [...waiters]) w();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
