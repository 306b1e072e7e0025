/**
 * A Kubernetes API server emulator on loopback HTTPS: a self-signed certificate in the kubeconfig it writes
 * (bearer-token auth), discovery (`/version`, `/api`, `/apis`, each group/version's resource list) as
 * `@kubernetes/client-node` and kubectl read it, and REST over the object store: GET / LIST (label and field
 * selectors), POST, PUT, PATCH (server-side apply `application/apply-patch+yaml` with `fieldManager` and
 * `force`, JSON merge patch), DELETE. Failures are Kubernetes `Status` objects. Tests inject failures
 * (status codes for matching requests) and hooks that run before a request is served (a concurrent edit).
 * Watches are not served: our target and kubectl get/apply do not use them.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { makeLoopbackCertificate } from '../azure/tls.js';
import {
  ApiError,
  groupVersion,
  KINDS,
  matchesSelector,
  ObjectStore,
  type KubeObject,
  type ResourceKind,
} from './store.js';

export interface ApiRequest {
  method: string;
  /** The resource kind addressed (undefined for discovery). */
  kind?: ResourceKind;
  namespace?: string;
  name?: string;
  contentType: string;
  query: URLSearchParams;
  body?: KubeObject;
}

export interface InjectedFault {
  when: (r: ApiRequest) => boolean;
  status: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Serve the request first, then answer with the failure (a write that applied but whose answer was lost). */
  afterApplying?: boolean;
  retryAfterSeconds?: number;
}

export class KubeApiServer {
  readonly store = new ObjectStore();
  readonly faults: InjectedFault[] = [];
  /** Run before each request is served (after faults are checked). */
  readonly hooks: ((r: ApiRequest) => void)[] = [];
  readonly requests: { method: string; path: string; status: number; fieldManager?: string }[] = [];
  url = '';
  kubeconfigFile = '';
  private server!: https.Server;
  private token = randomBytes(16).toString('hex');

  static async start(dir: string): Promise<KubeApiServer> {
    const s = new KubeApiServer();
    const cert = makeLoopbackCertificate();
    s.server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => void s.serve(req, res));
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    s.url = `https://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    s.kubeconfigFile = path.join(dir, 'kubeconfig');
    writeFileSync(
      s.kubeconfigFile,
      JSON.stringify(
        {
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'emulator',
              cluster: { server: s.url, 'certificate-authority-data': Buffer.from(cert.cert).toString('base64') },
            },
          ],
          users: [{ name: 'ci', user: { token: s.token } }],
          contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'ci', namespace: 'default' } }],
          'current-context': 'emulator',
        },
        null,
        2,
      ),
      { mode: 0o600 },
    );
    return s;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async serve(
    req: import('node:http').IncomingMessage,
    res: import('node:http').ServerResponse,
  ): Promise<void> {
    const u = new URL(req.url ?? '/', this.url);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({
        method: req.method ?? 'GET',
        path: u.pathname,
        status,
        fieldManager: u.searchParams.get('fieldManager') ?? undefined,
      });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString('utf8');
      const discovery = this.discovery(u.pathname);
      if (discovery) return send(200, discovery);
      const r = this.route(req.method ?? 'GET', u, String(req.headers['content-type'] ?? ''), raw);
      const fault = this.faults.find((f) => (f.times ?? 1) > 0 && f.when(r));
      if (fault) fault.times = (fault.times ?? 1) - 1;
      if (fault && !fault.afterApplying) return send(fault.status, faultStatus(fault), faultHeaders(fault));
      for (const h of this.hooks) h(r);
      const [status, body] = this.handle(r);
      if (fault) return send(fault.status, faultStatus(fault), faultHeaders(fault));
      send(status, body);
    } catch (e) {
      if (e instanceof ApiError) return send(e.code, e.status());
      send(500, new ApiError(500, 'InternalError', (e as Error).stack ?? String(e)).status());
    }
  }

  private discovery(p: string): unknown {
    if (p === '/version')
      return {
        major: '1',
        minor: '32',
        gitVersion: 'v1.32.0-llmops-emulator',
        platform: 'linux/amd64',
        goVersion: 'go1.23',
      };
    if (p === '/api')
      return {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: new URL(this.url).host }],
      };
    if (p === '/apis') {
      const groups = [...new Set(KINDS.filter((k) => k.group).map((k) => groupVersion(k)))].map((gv) => {
        const [name, version] = gv.split('/');
        return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
      });
      return { kind: 'APIGroupList', apiVersion: 'v1', groups };
    }
    if (p === '/openapi/v3')
      return {
        paths: Object.fromEntries(
          this.groupVersions().map((gv) => [openapiKey(gv), { serverRelativeURL: `/openapi/v3/${openapiKey(gv)}` }]),
        ),
      };
    const doc = /^\/openapi\/v3\/(.+)$/.exec(p)?.[1];
    if (doc) {
      const gv = this.groupVersions().find((g) => openapiKey(g) === doc);
      return gv ? openapiDocument(gv) : undefined;
    }
    const gv = p === '/api/v1' ? 'v1' : /^\/apis\/([^/]+\/[^/]+)$/.exec(p)?.[1];
    if (!gv) return undefined;
    const kinds = KINDS.filter((k) => groupVersion(k) === gv);
    if (kinds.length === 0) return undefined;
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: gv,
      resources: kinds.map((k) => ({
        name: k.plural,
        singularName: k.kind.toLowerCase(),
        namespaced: k.namespaced,
        kind: k.kind,
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'],
        ...(k.shortNames ? { shortNames: k.shortNames } : {}),
      })),
    };
  }

  private groupVersions(): string[] {
    return [...new Set(KINDS.map((k) => groupVersion(k)))];
  }

  private route(method: string, u: URL, contentType: string, raw: string): ApiRequest {
    const m =
      /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?$/.exec(u.pathname) ??
      /^\/apis\/([^/]+)\/([^/]+)\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?$/.exec(u.pathname);
    if (!m) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${u.pathname})`);
    const core = u.pathname.startsWith('/api/v1');
    // /api/v1/namespaces/<name> is the namespace object itself (plural namespaces, that name).
    const [group, version, namespace, plural, name] = core
      ? ['', 'v1', m[1], m[2], m[3]]
      : [m[1], m[2], m[3], m[4], m[5]];
    const kind = ObjectStore.kindByPlural(plural, group);
    if (!kind || kind.version !== version)
      throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${u.pathname})`);
    let body: KubeObject | undefined;
    if (raw) {
      try {
        body = (contentType.includes('yaml') ? parseYaml(raw) : JSON.parse(raw)) as KubeObject;
      } catch (e) {
        throw new ApiError(400, 'BadRequest', `the body of the request could not be decoded: ${(e as Error).message}`);
      }
    }
    return {
      method,
      kind,
      namespace: kind.namespaced ? decodeURIComponent(namespace ?? '') || undefined : undefined,
      name: name ? decodeURIComponent(name) : undefined,
      contentType,
      query: u.searchParams,
      body,
    };
  }

  private handle(r: ApiRequest): [number, unknown] {
    const kind = r.kind!;
    const manager = r.query.get('fieldManager') ?? '';
    if (r.query.get('watch') === 'true' || r.query.get('watch') === '1')
      throw new ApiError(405, 'MethodNotAllowed', 'watch is not served by this emulator');
    if (r.method === 'GET' && !r.name) {
      const labels = r.query.get('labelSelector') ?? undefined;
      const fields = r.query.get('fieldSelector') ?? undefined;
      const items = this.store
        .list(kind, r.namespace)
        .filter((o) => matchesSelector(labels, (k) => o.metadata?.labels?.[k]))
        .filter((o) => matchesSelector(fields, (k) => fieldOf(o, k)));
      return [
        200,
        {
          apiVersion: groupVersion(kind),
          kind: `${kind.kind}List`,
          metadata: { resourceVersion: this.store.resourceVersion },
          items,
        },
      ];
    }
    if (!r.name && r.method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', `${r.method} needs an object name`);
    switch (r.method) {
      case 'GET': {
        const o = this.store.get(kind, r.namespace, r.name!);
        if (!o)
          throw new ApiError(
            404,
            'NotFound',
            `${kind.plural}${kind.group ? `.${kind.group}` : ''} "${r.name}" not found`,
            { name: r.name, group: kind.group, kind: kind.plural },
          );
        return [200, o];
      }
      case 'POST': {
        const name = r.body?.metadata?.name;
        if (!name) throw new ApiError(422, 'Invalid', `${kind.kind} is invalid: metadata.name: Required value`);
        return [201, this.store.put(kind, r.namespace, name, r.body!, manager || 'unknown', true)];
      }
      case 'PUT':
        return [200, this.store.put(kind, r.namespace, r.name!, r.body ?? {}, manager || 'unknown', false)];
      case 'PATCH': {
        if (r.contentType.startsWith('application/apply-patch')) {
          const existed = Boolean(this.store.get(kind, r.namespace, r.name!));
          const force = r.query.get('force') === 'true';
          return [existed ? 200 : 201, this.store.apply(kind, r.namespace, r.name!, r.body ?? {}, manager, force)];
        }
        if (
          r.contentType.startsWith('application/merge-patch') ||
          r.contentType.startsWith('application/strategic-merge-patch')
        )
          return [200, this.store.mergePatch(kind, r.namespace, r.name!, r.body ?? {}, manager || 'unknown')];
        throw new ApiError(415, 'UnsupportedMediaType', `the patch type ${r.contentType} is not served`);
      }
      case 'DELETE':
        this.store.delete(kind, r.namespace, r.name!);
        return [
          200,
          {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Success',
            details: { name: r.name, group: kind.group, kind: kind.plural },
          },
        ];
      default:
        throw new ApiError(405, 'MethodNotAllowed', `${r.method} is not allowed`);
    }
  }
}

function openapiKey(gv: string): string {
  return gv === 'v1' ? 'api/v1' : `apis/${gv}`;
}

/**
 * The least of an OpenAPI v3 document kubectl needs: the write operations of each kind, declaring the
 * `fieldValidation` query parameter, so kubectl leaves validation to the server (which validates every object).
 */
function openapiDocument(gv: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const k of KINDS.filter((x) => groupVersion(x) === gv)) {
    const base = `/${openapiKey(gv)}${k.namespaced ? '/namespaces/{namespace}' : ''}/${k.plural}/{name}`;
    const gvk = { group: k.group, version: k.version, kind: k.kind };
    const op = (action: string) => ({
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
      parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } }],
      responses: { '200': { description: 'OK' } },
    });
    paths[base] = { patch: op('patch'), put: op('put') };
    paths[base.replace(/\/\{name\}$/, '')] = { post: op('post') };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas: {} } };
}

function fieldOf(o: KubeObject, path: string): string | undefined {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur === undefined ? undefined : String(cur);
}

function faultStatus(f: InjectedFault): Record<string, unknown> {
  const reasons: Record<number, string> = {
    409: 'Conflict',
    429: 'TooManyRequests',
    500: 'InternalError',
    503: 'ServiceUnavailable',
    504: 'Timeout',
  };
  return new ApiError(f.status, reasons[f.status] ?? 'InternalError', `injected failure ${f.status}`).status();
}

function faultHeaders(f: InjectedFault): Record<string, string> {
  return f.retryAfterSeconds !== undefined ? { 'retry-after': String(f.retryAfterSeconds) } : {};
}
