/**
 * A self-signed loopback certificate made with openssl at start (never committed): the emulators serve
 * HTTPS with it, child processes trust it through NODE_EXTRA_CA_CERTS, this process through
 * tls.setDefaultCACertificates.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

export interface LoopbackCertificate {
  dir: string;
  /** PEM file of the certificate: the value for NODE_EXTRA_CA_CERTS. */
  certFile: string;
  cert: string;
  key: string;
}

/** `names`: more DNS names the certificate is good for (e.g. `*.<container apps domain>`). */
export function makeLoopbackCertificate(names: string[] = []): LoopbackCertificate {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      ['subjectAltName=IP:127.0.0.1,DNS:localhost', ...names.map((n) => `DNS:${n}`)].join(','),
    ],
    { stdio: 'pipe' },
  );
  return { dir, certFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

/** Trust the certificate in this process too (for clients the test itself runs). */
export function trustInThisProcess(cert: string): void {
  const current = tls.getCACertificates('default');
  if (!current.includes(cert)) tls.setDefaultCACertificates([...current, cert]);
}
