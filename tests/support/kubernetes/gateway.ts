/**
 * The emulator's Gateway listener: real HTTP on loopback, routed by the stored HTTPRoutes attached to a stored
 * Gateway, as the Gateway API specifies: hostnames, path and header matches with the spec's precedence (exact
 * path, longest prefix, most header matches, oldest route), then a backendRef picked by weight (all weights 0:
 * 500), its Service's ready pods round-robin; `RequestMirror` filters get a copy of their `percent` (or `fraction`,
 * default all) of the rule's requests, spread evenly, whose answer is recorded in `mirroredCopies` and discarded.
 * A Service without ready pods answers 503, as an Envoy-based gateway would.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ObjectStore, type KubeObject } from './store.js';
import type { WorkloadController } from './workloads.js';

const GATEWAYS = ObjectStore.kindByKind('Gateway')!;
const ROUTES = ObjectStore.kindByKind('HTTPRoute')!;
const SERVICES = ObjectStore.kindByKind('Service')!;

interface BackendRef {
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
}
interface Match {
  path?: { type?: string; value?: string };
  headers?: { type?: string; name: string; value: string }[];
}
interface Rule {
  matches?: Match[];
  backendRefs?: BackendRef[];
  filters?: {
    type: string;
    requestMirror?: {
      backendRef: BackendRef;
      percent?: number;
      fraction?: { numerator: number; denominator?: number };
    };
  }[];
}

/** A copy sent by a RequestMirror filter: its answer never reaches the client. */
export interface MirroredCopy {
  route: string;
  backend: string;
  status: number;
}

export interface RoutedRequest {
  route: string;
  backend: string;
  status: number;
  mirrored?: string;
}

/** A backend that answers 500 while its weight on a route is at least `whenWeightAtLeast` (a bad release). */
export interface BackendFault {
  backend: string;
  whenWeightAtLeast: number;
}

export class GatewayListener {
  readonly routed: RoutedRequest[] = [];
  readonly faults: BackendFault[] = [];
  readonly mirroredCopies: MirroredCopy[] = [];
  /** Per route and mirror backend, the share of a copy owed so far: copies are exactly the percent, evenly spread. */
  private readonly mirrorCredit = new Map<string, number>();
  url = '';
  port = 0;
  private server!: http.Server;
  private next = 0;

  constructor(
    readonly store: ObjectStore,
    readonly workloads: WorkloadController,
  ) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const u = new URL(req.url ?? '/', this.url);
    const found = this.match(u.pathname, String(req.headers.host ?? '').replace(/:\d+$/, ''), req.headers);
    if (!found) return plain(res, 404, 'no route matched', this.routed, '-', '-');
    const { route, rule } = found;
    const refs = rule.backendRefs ?? [];
    const total = refs.reduce((s, b) => s + (b.weight ?? 1), 0);
    if (total === 0) return plain(res, 500, 'every backend has weight 0', this.routed, route, '-');
    let pick = Math.random() * total;
    const ref = refs.find((b) => (pick -= b.weight ?? 1) < 0) ?? refs[refs.length - 1];
    const ns = String(found.namespace);
    let mirrored: string | undefined;
    for (const f of rule.filters ?? [])
      if (f.type === 'RequestMirror' && f.requestMirror) {
        const m = f.requestMirror;
        const percent =
          m.percent ?? (m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : 100);
        const key = `${ns}/${route}/${m.backendRef.name}`;
        const credit = (this.mirrorCredit.get(key) ?? 0) + percent;
        const copy = credit >= 100;
        this.mirrorCredit.set(key, copy ? credit - 100 : credit);
        if (!copy) continue;
        mirrored = m.backendRef.name;
        const backend = m.backendRef.name;
        void this.forward(ns, m.backendRef, req, body).then(
          (a) => this.mirroredCopies.push({ route, backend, status: a?.status ?? 503 }),
          () => this.mirroredCopies.push({ route, backend, status: 502 }),
        );
      }
    const fault = this.faults.find((f) => f.backend === ref.name && this.weightOf(ref.name) >= f.whenWeightAtLeast);
    if (fault) return plain(res, 500, `injected failure of ${ref.name}`, this.routed, route, ref.name);
    try {
      const answer = await this.forward(ns, ref, req, body);
      if (!answer) return plain(res, 503, `no healthy upstream (${ref.name})`, this.routed, route, ref.name);
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
      this.routed.push({ route, backend: ref.name, status: answer.status, ...(mirrored ? { mirrored } : {}) });
    } catch (e) {
      plain(res, 502, `upstream connect error: ${(e as Error).message}`, this.routed, route, ref.name);
    }
  }

  /** The backend's weight on the weighted rule of any route (0 when it has none). */
  private weightOf(backend: string): number {
    let weight = 0;
    for (const r of this.store.list(ROUTES))
      for (const rule of (r.spec as { rules?: Rule[] }).rules ?? [])
        if (!(rule.matches ?? []).some((m) => m.headers?.length))
          for (const b of rule.backendRefs ?? []) if (b.name === backend) weight = Math.max(weight, b.weight ?? 1);
    return weight;
  }

  private match(
    pathname: string,
    host: string,
    headers: http.IncomingHttpHeaders,
  ): { route: string; namespace: string; rule: Rule } | undefined {
    const gateways = new Set(
      this.store.list(GATEWAYS).map((g) => `${String(g.metadata?.namespace)}/${String(g.metadata?.name)}`),
    );
    const candidates: { route: KubeObject; rule: Rule; order: number[] }[] = [];
    for (const route of this.store.list(ROUTES)) {
      const ns = String(route.metadata?.namespace);
      const spec = route.spec as {
        parentRefs?: { name: string; namespace?: string }[];
        hostnames?: string[];
        rules?: Rule[];
      };
      if (!(spec.parentRefs ?? []).some((p) => gateways.has(`${p.namespace ?? ns}/${p.name}`))) continue;
      if (spec.hostnames?.length && !spec.hostnames.some((h) => hostMatches(h, host))) continue;
      for (const rule of spec.rules ?? [])
        for (const m of rule.matches?.length ? rule.matches : [{ path: { type: 'PathPrefix', value: '/' } }]) {
          const p = m.path ?? { type: 'PathPrefix', value: '/' };
          const value = p.value ?? '/';
          const pathOk =
            p.type === 'Exact'
              ? pathname === value
              : value === '/' ||
                pathname === value.replace(/\/$/, '') ||
                pathname.startsWith(value.replace(/\/?$/, '/'));
          const headersOk = (m.headers ?? []).every((h) => headers[h.name.toLowerCase()] === h.value);
          if (!pathOk || !headersOk) continue;
          candidates.push({
            route,
            rule,
            // Gateway API precedence: exact path, longest path, most header matches, oldest route, name.
            order: [p.type === 'Exact' ? 0 : 1, -value.length, -(m.headers?.length ?? 0)],
          });
        }
    }
    candidates.sort(
      (a, b) =>
        a.order[0] - b.order[0] ||
        a.order[1] - b.order[1] ||
        a.order[2] - b.order[2] ||
        String(a.route.metadata?.creationTimestamp).localeCompare(String(b.route.metadata?.creationTimestamp)) ||
        `${a.route.metadata?.namespace}/${a.route.metadata?.name}`.localeCompare(
          `${b.route.metadata?.namespace}/${b.route.metadata?.name}`,
        ),
    );
    const best = candidates[0];
    return best
      ? { route: String(best.route.metadata?.name), namespace: String(best.route.metadata?.namespace), rule: best.rule }
      : undefined;
  }

  /** Sends the request to one ready pod of the Service; undefined when it has none. */
  private async forward(
    ns: string,
    ref: BackendRef,
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: http.OutgoingHttpHeaders; body: Buffer } | undefined> {
    const svc = this.store.get(SERVICES, ref.namespace ?? ns, ref.name);
    if (!svc) return undefined;
    const spec = svc.spec as {
      selector?: Record<string, string>;
      ports?: { port: number; targetPort?: number | string }[];
    };
    const port = spec.ports?.find((p) => ref.port === undefined || p.port === ref.port);
    if (!port || !spec.selector) return undefined;
    const pods = this.workloads.readyPods(ref.namespace ?? ns, spec.selector);
    if (pods.length === 0) return undefined;
    const pod = pods[this.next++ % pods.length];
    const target = typeof port.targetPort === 'number' ? port.targetPort : port.port;
    const real = pod.ports.get(target) ?? [...pod.ports.values()][0];
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: `127.0.0.1:${real}` };
      delete headers['transfer-encoding'];
      headers['content-length'] = String(body.length);
      const out = http.request(
        { host: '127.0.0.1', port: real, method: req.method, path: req.url, headers },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            const h = { ...answer.headers };
            delete h['transfer-encoding'];
            delete h.connection;
            resolve({ status: answer.statusCode ?? 502, headers: h, body: Buffer.concat(parts) });
          });
          answer.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }
}

function hostMatches(pattern: string, host: string): boolean {
  return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : pattern === host;
}

function plain(
  res: http.ServerResponse,
  status: number,
  text: string,
  log: RoutedRequest[],
  route: string,
  backend: string,
): void {
  log.push({ route, backend, status });
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(text);
}
