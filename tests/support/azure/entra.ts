/**
 * A loopback Microsoft Entra ID token endpoint, enough for @azure/identity's confidential clients
 * (MSAL node): the tenant's OpenID metadata, the instance discovery document, and the OAuth2 token
 * endpoint with the client-credentials grant (client secret). Issued tokens are opaque; the ARM
 * emulator accepts only tokens issued here for its own audience.
 */
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { LoopbackCertificate } from './tls.js';

export interface EntraClient {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /**
   * A federated credential: the token (e.g. a GitHub OIDC token or an AKS service-account token) this
   * app accepts as a client assertion, the way a federated identity credential trusts an issuer.
   */
  federatedToken?: string;
}

export interface IssuedToken {
  token: string;
  clientId: string;
  tenantId: string;
  scope: string;
}

export class EntraEmulator {
  readonly issued = new Map<string, IssuedToken>();
  /** Every request: method and path (query included), for assertions on the sign-in flow. */
  readonly requests: { method: string; path: string; grantType?: string }[] = [];
  private server!: https.Server;
  url = '';
  /** IDENTITY_HEADER of the managed identity endpoint (`<url>/msi/token`). */
  readonly msiHeader = 'msi-identity-header-for-tests';

  constructor(
    private readonly cert: LoopbackCertificate,
    readonly clients: EntraClient[],
  ) {}

  async start(): Promise<this> {
    this.server = https.createServer({ cert: this.cert.cert, key: this.cert.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () =>
        this.handle(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString(), res, req.headers),
      );
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A token as if a user had signed in elsewhere (e.g. `az login`): accepted like one issued here. */
  issue(scope: string, clientId = 'signed-in-user'): string {
    const token = jwt(this.clients[0]?.tenantId ?? '', clientId, scope);
    this.issued.set(token, { token, clientId, tenantId: this.clients[0]?.tenantId ?? '', scope });
    return token;
  }

  /** True when `authorization` carries a token issued here for `audience` (a Resource Manager origin). */
  accepts(authorization: string | undefined, audience: string): boolean {
    const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    const issued = token ? this.issued.get(token) : undefined;
    return Boolean(issued && issued.scope.split(' ').some((s) => s.replace(/\/?\.default$/, '') === audience));
  }

  private handle(
    method: string,
    url: string,
    body: string,
    res: import('node:http').ServerResponse,
    headers: import('node:http').IncomingHttpHeaders,
  ): void {
    const u = new URL(url, this.url);
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const form = new URLSearchParams(body);
    this.requests.push({ method, path: u.pathname + u.search, grantType: form.get('grant_type') ?? undefined });
    if (method === 'GET' && u.pathname === '/common/discovery/instance') {
      const host = u.host;
      return json(200, {
        tenant_discovery_endpoint: `${this.url}/{tenant}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
    }
    const metadata = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(u.pathname);
    if (method === 'GET' && metadata) {
      const tenant = metadata[1];
      return json(200, {
        token_endpoint: `${this.url}/${tenant}/oauth2/v2.0/token`,
        authorization_endpoint: `${this.url}/${tenant}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${this.url}/${tenant}/oauth2/v2.0/logout`,
        device_authorization_endpoint: `${this.url}/${tenant}/oauth2/v2.0/devicecode`,
        issuer: `${this.url}/${tenant}/v2.0`,
        jwks_uri: `${this.url}/${tenant}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'token'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      });
    }
    if (method === 'GET' && u.pathname === '/msi/token') {
      // App Service's managed identity endpoint (IDENTITY_ENDPOINT), which wants IDENTITY_HEADER back.
      if (headers['x-identity-header'] !== this.msiHeader)
        return json(401, { error: 'unauthorized', error_description: 'missing or wrong X-IDENTITY-HEADER' });
      const resource = u.searchParams.get('resource') ?? '';
      const token = this.issue(`${resource}/.default`, 'managed-identity');
      return json(200, {
        access_token: token,
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource,
        token_type: 'Bearer',
      });
    }
    const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(u.pathname);
    if (method === 'POST' && token) {
      const tenantId = token[1];
      const assertion = form.get('client_assertion');
      const client = this.clients.find(
        (c) =>
          c.tenantId === tenantId &&
          c.clientId === form.get('client_id') &&
          (assertion
            ? form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' &&
              c.federatedToken !== undefined &&
              assertion === c.federatedToken
            : c.clientSecret === form.get('client_secret')),
      );
      if (form.get('grant_type') !== 'client_credentials' || !client)
        return json(401, {
          error: 'invalid_client',
          error_description: assertion
            ? 'AADSTS700213: No matching federated identity record found for presented assertion.'
            : 'AADSTS7000215: Invalid client secret provided.',
          error_codes: [assertion ? 700213 : 7000215],
        });
      const scope = form.get('scope') ?? '';
      const issued: IssuedToken = {
        token: jwt(tenantId, client.clientId, scope),
        clientId: client.clientId,
        tenantId,
        scope,
      };
      this.issued.set(issued.token, issued);
      return json(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: issued.token });
    }
    json(404, { error: 'not_found', error_description: `${method} ${u.pathname} is not an Entra endpoint here` });
  }
}

/**
 * An access token shaped like Entra's (a JWT with aud, iss, nbf, exp; unsigned), so services that read
 * the claims without checking the signature, like Azurite's `--oauth basic`, accept it.
 */
function jwt(tenantId: string, clientId: string, scope: string): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const aud = scope.split(' ')[0].replace(/\/?\.default$/, '');
  const claims = {
    aud,
    iss: `https://sts.windows.net/${tenantId}/`,
    appid: clientId,
    tid: tenantId,
    iat: now,
    nbf: now - 60,
    exp: now + 3600,
    jti: randomBytes(8).toString('hex'),
  };
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.${randomBytes(16).toString('base64url')}`;
}
