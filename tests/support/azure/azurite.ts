/**
 * Azurite (npm `azurite`) as the blob account of the emulated workspace's default datastore, started
 * by the tests on a free loopback port, behind a small recording proxy so tests can assert which
 * blob requests were made (e.g. that unchanged data was not uploaded again).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { LoopbackCertificate } from './tls.js';

const require = createRequire(import.meta.url);

/** Azurite's well-known development account. */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface BlobRequest {
  method: string;
  /** Path below the account, e.g. /container/LocalUpload/<hash>/train.jsonl */
  path: string;
  query: string;
  status: number;
}

export class Azurite {
  readonly requests: BlobRequest[] = [];
  /** Blob service URL of the account, through the recording proxy: http://127.0.0.1:<port>/devstoreaccount1 */
  url = '';
  /** Azurite itself, without the proxy (for test set-up that should not be recorded). */
  directUrl = '';
  private child!: ChildProcess;
  private proxy!: http.Server | https.Server;
  private dir = '';

  /**
   * `tls`: serve HTTPS with this certificate (and the proxy too), and check Entra bearer tokens
   * (`--oauth basic`: claims, not signatures), for identity-based datastores.
   */
  static async start(options: { tls?: LoopbackCertificate } = {}): Promise<Azurite> {
    const a = new Azurite();
    await a.init(options.tls);
    return a;
  }

  private async init(tls?: LoopbackCertificate): Promise<void> {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-azurite-'));
    const port = await freePort();
    const main = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist/src/blob/main.js');
    this.child = spawn(
      process.execPath,
      [
        main,
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--location',
        this.dir,
        '--skipApiVersionCheck',
        '--loose',
        '--disableTelemetry',
        '--silent',
        ...(tls ? ['--cert', tls.certFile, '--key', path.join(tls.dir, 'key.pem'), '--oauth', 'basic'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const started = new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`Azurite did not start: ${out}`)), 30_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (/successfully listen/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.child.stdout!.on('data', onData);
      this.child.stderr!.on('data', onData);
      this.child.on('exit', (code) => reject(new Error(`Azurite exited (${code}): ${out}`)));
    });
    try {
      await started;
    } catch (e) {
      this.child.kill('SIGKILL');
      throw e;
    }
    const scheme = tls ? 'https' : 'http';
    this.directUrl = `${scheme}://127.0.0.1:${port}/${DEV_ACCOUNT}`;
    const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const entry: BlobRequest = {
        method: req.method ?? 'GET',
        path: decodeURIComponent(u.pathname.replace(`/${DEV_ACCOUNT}`, '')),
        query: u.search,
        status: 0,
      };
      this.requests.push(entry);
      const upstream = (tls ? https : http).request(
        {
          host: '127.0.0.1',
          port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: `127.0.0.1:${port}` },
        },
        (up) => {
          entry.status = up.statusCode ?? 0;
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      req.pipe(upstream);
    };
    this.proxy = tls ? https.createServer({ cert: tls.cert, key: tls.key }, forward) : http.createServer(forward);
    await new Promise<void>((resolve) => this.proxy.listen(0, '127.0.0.1', resolve));
    this.url = `${scheme}://127.0.0.1:${(this.proxy.address() as AddressInfo).port}/${DEV_ACCOUNT}`;
  }

  /** Blob writes (uploads) recorded so far. */
  writes(): BlobRequest[] {
    return this.requests.filter((r) => r.method === 'PUT');
  }

  async stop(): Promise<void> {
    this.proxy.closeAllConnections();
    await new Promise<void>((resolve) => this.proxy.close(() => resolve()));
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
