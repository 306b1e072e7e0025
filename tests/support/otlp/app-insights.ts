/**
 * A loopback HTTPS stand-in for the Application Insights ingestion endpoint the Azure Monitor exporter sends to
 * (`POST /v2.1/track`, a JSON array of telemetry envelopes, gzip-encoded): it keeps the envelopes and answers as
 * the service does, every item accepted. HTTPS because the exporter only speaks HTTPS.
 * @module
 */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { makeLoopbackCertificate, type LoopbackCertificate } from '../azure/tls.js';

export interface Envelope {
  name: string;
  iKey?: string;
  tags?: Record<string, string>;
  data?: { baseType?: string; baseData?: Record<string, unknown> };
}

export interface AppInsightsStandIn {
  /** The connection string pointing the exporter here. */
  connectionString: string;
  /** The certificate to trust (NODE_EXTRA_CA_CERTS for a child process). */
  certificate: LoopbackCertificate;
  envelopes: Envelope[];
  close(): Promise<void>;
}

export const INSTRUMENTATION_KEY = '00000000-0000-4000-8000-000000000001';

export async function startAppInsightsStandIn(): Promise<AppInsightsStandIn> {
  const certificate = makeLoopbackCertificate();
  const envelopes: Envelope[] = [];
  const server = createServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !(req.url ?? '').startsWith('/v2.1/track')) {
        res.writeHead(404).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const items = JSON.parse(body.toString('utf8')) as Envelope[];
      envelopes.push(...items);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    connectionString: `InstrumentationKey=${INSTRUMENTATION_KEY};IngestionEndpoint=https://127.0.0.1:${port}/`,
    certificate,
    envelopes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
