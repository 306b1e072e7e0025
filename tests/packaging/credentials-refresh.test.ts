/**
 * Long runs outlive the CI's 10-minute OIDC token: the GitHub credential must ask for a fresh
 * OIDC token every time it needs a new Azure token. Checked against a loopback HTTPS stand-in of
 * the Microsoft Entra token endpoint with a self-signed certificate made by openssl for this test,
 * in a child process that trusts it (fixtures/entra-refresh.ts).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { build, stop } from 'esbuild';

const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-entra-'));
afterAll(async () => {
  // esbuild's service process would otherwise keep Jest from exiting.
  await stop();
  rmSync(dir, { recursive: true, force: true });
});

test('every Azure token request sends a freshly fetched OIDC token as its client assertion', async () => {
  const [key, cert] = ['key.pem', 'cert.pem'].map((f) => path.join(dir, f));
  // Inside the repository, so the bundle's imports resolve from its node_modules.
  const script = path.resolve('dist/.test/entra-refresh.mjs');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  await build({
    entryPoints: ['tests/packaging/fixtures/entra-refresh.ts'],
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
    absWorkingDir: process.cwd(),
  });
  const { stdout } = await promisify(execFile)(process.execPath, [script, key, cert], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: cert },
    cwd: process.cwd(),
  });
  const seen = JSON.parse(stdout) as { kind: string; tokens: string[]; assertions: string[]; oidcCalls: number };
  expect(seen.kind).toBe('ClientAssertionCredential');
  expect(seen.tokens).toEqual(['azure-token-1', 'azure-token-2']);
  expect(seen.assertions).toHaveLength(2);
  // Each token request carried an OIDC token fetched for it, never the first one again.
  expect(new Set(seen.assertions).size).toBe(2);
  expect(seen.assertions.every((a) => /^github-oidc-\d+$/.test(a))).toBe(true);
}, 60_000);
