/**
 * A Key Vault secrets endpoint over HTTPS on loopback (the emulator's certificate): GET /secrets/<name>[/<version>]
 * answers the seeded value to a bearer token the loopback Entra emulator issued for Key Vault's audience.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ArmEmulator } from './arm-emulator.js';

export class KeyVaultEmulator {
  url = '';
  /** Secret names read, one entry per successful read. */
  readonly reads: string[] = [];
  private server!: https.Server;

  constructor(
    private readonly emulator: ArmEmulator,
    private readonly secrets: Record<string, string>,
  ) {}

  async start(): Promise<this> {
    this.server = https.createServer({ cert: this.emulator.cert.cert, key: this.emulator.cert.key }, (req, res) => {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const u = new URL(req.url ?? '/', this.url);
      if (!this.emulator.entra.accepts(req.headers.authorization, 'https://vault.azure.net'))
        return json(401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer token.' } });
      const m = /^\/secrets\/([^/]+)(?:\/[^/]+)?\/?$/.exec(u.pathname);
      const value = m ? this.secrets[m[1]] : undefined;
      if (!m || value === undefined || !u.searchParams.get('api-version'))
        return json(404, {
          error: { code: 'SecretNotFound', message: `A secret with (name/id) ${m?.[1]} was not found` },
        });
      this.reads.push(m[1]);
      return json(200, { value, id: `${this.url}/secrets/${m[1]}/0123456789abcdef`, attributes: { enabled: true } });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
