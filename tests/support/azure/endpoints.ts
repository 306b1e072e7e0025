/**
 * Online endpoints and deployments for the ARM emulator, registered through `handle()`: endpoints with an
 * ETag (If-Match / If-None-Match honoured), keys, a traffic map the service itself validates (sums to 100,
 * only `Succeeded` deployments); deployments whose provisioning moves Creating → Succeeded only once the
 * flow that was registered really serves: the model folder and the environment's build context are
 * downloaded from the datastore (Azurite) and `llmops flow serve` is started on them, with the deployment's
 * environment variables (`${{azureml://connections/<name>/credentials/<key>}}` resolved from the
 * workspace connections given here). The scoring URI routes by the `azureml-model-deployment` header, else
 * by the traffic split. Every state change is an event, so tests can check invariants after each one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { armError, type ArmEmulator, type HandlerContext, type HandlerResult } from './arm-emulator.js';

export interface EndpointsOptions {
  /** Blob service URL of the datastore's account (Azurite, direct). */
  blobEndpoint: string;
  /** How to run the CLI for an environment that names an image: [node, dist/cli.js]; [0] runs a context's CLI. */
  command: string[];
  /** Workspace connections: name → key → value (what `${{azureml://connections/...}}` reads). */
  connections?: Record<string, Record<string, string>>;
  /** Extra environment of the served processes. */
  env?: Record<string, string>;
}

export interface EndpointEvent {
  kind: 'endpoint-put' | 'endpoint-deleted' | 'deployment-state' | 'deployment-deleted' | 'concurrent-edit';
  endpoint: string;
  deployment?: string;
  detail?: unknown;
  /** endpoint-put: the mirrored traffic written with the map. */
  mirror?: Record<string, number>;
}

export interface ScoringFault {
  deployment: string;
  /** Fail only while this deployment has at least this share of live traffic (e.g. 50: "at stage 2"). */
  whenTrafficAtLeast?: number;
  /** Fail only while this deployment receives mirrored traffic (its copies and requests naming it). */
  whileMirrored?: boolean;
  status?: number;
}

interface Backend {
  child: ChildProcess;
  url?: string;
  log: string;
  dir: string;
}

export class EndpointsEmulator {
  readonly events: EndpointEvent[] = [];
  readonly etags = new Map<string, string>();
  readonly keys = new Map<string, { primaryKey: string; secondaryKey: string }>();
  /** AML tokens issued per endpoint (AMLToken auth). */
  readonly tokens = new Map<string, string[]>();
  readonly scoringFaults: ScoringFault[] = [];
  /** Endpoint ARM ids created (each once: a second creation would be a recreation). */
  readonly creations: string[] = [];
  /** Scoring requests: which deployment answered, with what status. */
  readonly scored: { endpoint: string; deployment: string; status: number; header: boolean; mirrored?: boolean }[] = [];
  /** The CLI each deployment built from a context ran (the context's own app/dist/cli.js). */
  readonly servedFrom: string[] = [];
  onEvent?: (e: EndpointEvent) => void;
  scoringUrl = '';
  private backends = new Map<string, Backend>();
  private server!: http.Server;

  private constructor(
    readonly arm: ArmEmulator,
    readonly options: EndpointsOptions,
  ) {}

  static async attach(arm: ArmEmulator, options: EndpointsOptions): Promise<EndpointsEmulator> {
    const e = new EndpointsEmulator(arm, options);
    e.register();
    e.server = http.createServer((req, res) => void e.score(req, res));
    await new Promise<void>((r) => e.server.listen(0, '127.0.0.1', r));
    e.scoringUrl = `http://127.0.0.1:${(e.server.address() as AddressInfo).port}`;
    return e;
  }

  async stop(): Promise<void> {
    for (const b of this.backends.values()) stopBackend(b);
    this.backends.clear();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  endpoint(name: string, ws = this.arm.workspaces[0]): Record<string, unknown> | undefined {
    return this.arm.get(`${this.arm.workspaceId(ws)}/onlineEndpoints/${name}`);
  }

  traffic(name: string): Record<string, number> {
    const e = this.endpoint(name);
    return { ...((e?.properties as { traffic?: Record<string, number> })?.traffic ?? {}) };
  }

  mirror(name: string): Record<string, number> {
    const e = this.endpoint(name);
    return { ...((e?.properties as { mirrorTraffic?: Record<string, number> })?.mirrorTraffic ?? {}) };
  }

  deployments(name: string, ws = this.arm.workspaces[0]): Record<string, unknown>[] {
    return this.arm.children(`${this.arm.workspaceId(ws)}/onlineEndpoints/${name}`, 'deployments');
  }

  deploymentState(endpoint: string, deployment: string): string | undefined {
    const d = this.deployments(endpoint).find((x) => x.name === deployment);
    return (d?.properties as { provisioningState?: string } | undefined)?.provisioningState;
  }

  /** Someone else edits the traffic (portal, another pipeline): a new ETag, the map as given. */
  concurrentEdit(endpoint: string, traffic: Record<string, number>): void {
    const e = this.endpoint(endpoint)!;
    (e.properties as Record<string, unknown>).traffic = traffic;
    this.etags.set(String(e.id).toLowerCase(), `"${randomUUID()}"`);
    this.emit({ kind: 'concurrent-edit', endpoint, detail: traffic });
  }

  private emit(e: EndpointEvent): void {
    this.events.push(e);
    this.onEvent?.(e);
  }

  /** As the emulator's own long-running answers: Retry-After, and the finer retry-after-ms tests wait by. */
  private retryAfter(): Record<string, string> {
    const o = this.arm.options;
    const ms = o.lroRetryAfterMs === undefined ? 20 : o.lroRetryAfterMs;
    return { 'retry-after': String(o.lroRetryAfter ?? 10), ...(ms === null ? {} : { 'retry-after-ms': String(ms) }) };
  }

  private etagHeader(id: string): Record<string, string> {
    const tag = this.etags.get(id.toLowerCase());
    return tag ? { etag: tag } : {};
  }

  private register(): void {
    const arm = this.arm;
    arm.handle('OnlineEndpoints_Get', (ctx) => {
      const e = arm.get(ctx.id);
      return e ? { status: 200, body: e, headers: this.etagHeader(ctx.id) } : notFound(ctx.id);
    });
    arm.handle('OnlineEndpoints_CreateOrUpdate', (ctx) => this.putEndpoint(ctx));
    arm.handle('OnlineEndpoints_ListKeys', (ctx) => {
      const keys = this.keys.get(path.posix.dirname(ctx.id).toLowerCase());
      return keys ? { status: 200, body: keys } : notFound(ctx.id);
    });
    // AMLToken endpoints: a token that scoring accepts like a key.
    arm.handle('OnlineEndpoints_GetToken', (ctx) => {
      const id = path.posix.dirname(ctx.id).toLowerCase();
      const e = arm.get(id);
      if (!e) return notFound(id);
      if ((e.properties as { authMode?: string }).authMode !== 'AMLToken')
        return armError(400, 'BadArgument', 'Tokens are issued only for AMLToken endpoints');
      const token = randomBytes(32).toString('base64url');
      this.tokens.set(id, [...(this.tokens.get(id) ?? []), token]);
      const now = Math.floor(Date.now() / 1000);
      return {
        status: 200,
        body: { accessToken: token, tokenType: 'Bearer', expiryTimeUtc: now + 3600, refreshAfterTimeUtc: now + 1800 },
      };
    });
    arm.handle('OnlineEndpoints_Delete', (ctx) => {
      const name = path.posix.basename(ctx.id);
      if (!arm.get(ctx.id)) return { status: 204 };
      arm.resources.delete(ctx.id.toLowerCase());
      this.emit({ kind: 'endpoint-deleted', endpoint: name });
      return { status: 200 };
    });
    arm.handle('OnlineDeployments_CreateOrUpdate', (ctx) => this.putDeployment(ctx));
    arm.handle('OnlineDeployments_Delete', (ctx) => this.deleteDeployment(ctx));
    arm.handle('OnlineDeployments_GetLogs', (ctx) => {
      const b = this.backends.get(path.posix.dirname(ctx.id).toLowerCase());
      const tail = Number((ctx.body as { tail?: number } | undefined)?.tail ?? 50);
      return { status: 200, body: { content: (b?.log ?? '').split('\n').slice(-tail).join('\n') } };
    });
  }

  private putEndpoint(ctx: HandlerContext): HandlerResult {
    const arm = this.arm;
    const existing = arm.get(ctx.id);
    const name = path.posix.basename(ctx.id);
    const key = ctx.id.toLowerCase();
    if (ctx.headers['if-none-match'] === '*' && existing)
      return armError(412, 'PreconditionFailed', `online endpoint ${name} already exists`);
    const ifMatch = ctx.headers['if-match'];
    if (ifMatch && (!existing || ifMatch !== this.etags.get(key)))
      return armError(412, 'PreconditionFailed', `the endpoint was modified (ETag ${ifMatch} is not current)`);
    const body = ctx.body as {
      properties: {
        traffic?: Record<string, number>;
        mirrorTraffic?: Record<string, number>;
        keys?: unknown;
        compute?: string;
      };
    };
    const traffic = body.properties.traffic ?? {};
    const sum = Object.values(traffic).reduce((s, w) => s + w, 0);
    if (sum !== 100 && sum !== 0)
      return armError(400, 'BadArgument', `Traffic values must add up to 100 (or 0); got ${sum}`);
    for (const [d, w] of Object.entries(traffic)) {
      if (w === 0) continue;
      const state = existing ? this.deploymentState(name, d) : undefined;
      if (state !== 'Succeeded')
        return armError(
          400,
          'BadArgument',
          `Deployment ${d} ${state ? `is ${state}` : 'does not exist'}; traffic can only go to Succeeded deployments`,
        );
    }
    // Azure's rules for mirrored traffic: managed endpoints only, one deployment, at most 50 %, Succeeded, and
    // never one that also has live traffic.
    const mirror = Object.entries(body.properties.mirrorTraffic ?? {}).filter(([, w]) => w > 0);
    if (mirror.length > 0) {
      if (body.properties.compute)
        return armError(400, 'BadArgument', 'Mirror traffic is not supported on Kubernetes online endpoints');
      if (mirror.length > 1) return armError(400, 'BadArgument', 'Only one deployment can receive mirrored traffic');
      const [d, w] = mirror[0];
      if (w > 50) return armError(400, 'BadArgument', `Mirror traffic can be at most 50%; got ${w}`);
      if ((traffic[d] ?? 0) > 0)
        return armError(
          400,
          'BadArgument',
          `Deployment ${d} receives live traffic; it cannot also receive mirrored traffic`,
        );
      const state = existing ? this.deploymentState(name, d) : undefined;
      if (state !== 'Succeeded')
        return armError(
          400,
          'BadArgument',
          `Deployment ${d} ${state ? `is ${state}` : 'does not exist'}; mirrored traffic can only go to Succeeded deployments`,
        );
    }
    const ws = ctx.workspace;
    const resource = arm.store(ctx, existing);
    const props = resource.properties as Record<string, unknown>;
    delete props.keys;
    props.scoringUri = `${this.scoringUrl}/${name}/score`;
    props.swaggerUri = `${this.scoringUrl}/${name}/swagger.json`;
    props.provisioningState = existing ? 'Updating' : 'Creating';
    if (resource.identity)
      Object.assign(resource.identity as object, { principalId: randomUUID(), tenantId: randomUUID() });
    if (!existing) {
      this.creations.push(key);
      this.keys.set(key, {
        primaryKey: randomBytes(24).toString('base64'),
        secondaryKey: randomBytes(24).toString('base64'),
      });
    }
    this.etags.set(key, `"${randomUUID()}"`);
    this.emit({
      kind: 'endpoint-put',
      endpoint: name,
      detail: { ...traffic },
      ...(mirror.length ? { mirror: Object.fromEntries(mirror) } : {}),
    });
    const op = arm.startOperation((failed) => {
      props.provisioningState = failed ? 'Failed' : 'Succeeded';
    });
    return {
      status: existing ? 200 : 201,
      body: resource,
      headers: {
        ...this.etagHeader(ctx.id),
        'azure-asyncoperation': arm.operationUrl(ws, 'status', op.id),
        'x-ms-async-operation-timeout': 'PT1H',
        ...this.retryAfter(),
      },
    };
  }

  private putDeployment(ctx: HandlerContext): HandlerResult {
    const arm = this.arm;
    const endpointId = path.posix.dirname(path.posix.dirname(ctx.id));
    const endpoint = arm.get(endpointId);
    if (!endpoint) return notFound(endpointId);
    const endpointName = path.posix.basename(endpointId);
    const name = path.posix.basename(ctx.id);
    const existing = arm.get(ctx.id);
    const resource = arm.store(ctx, existing);
    const props = resource.properties as Record<string, unknown>;
    const setState = (s: string) => {
      props.provisioningState = s;
      this.emit({ kind: 'deployment-state', endpoint: endpointName, deployment: name, detail: s });
    };
    setState(existing ? 'Updating' : 'Creating');
    const key = ctx.id.toLowerCase();
    const old = this.backends.get(key);
    if (old) stopBackend(old);
    this.backends.delete(key);
    const op = arm.startOperation((failed) => {
      if (failed) {
        const b = this.backends.get(key);
        if (b) stopBackend(b);
      }
      setState(failed ? 'Failed' : 'Succeeded');
    });
    // Succeeded only once the flow serves: the operation stays in progress until then.
    op.pollsLeft = Number.MAX_SAFE_INTEGER;
    this.startBackend(key, props)
      .then(() => {
        op.pollsLeft = 1;
      })
      .catch((e: unknown) => {
        op.error ??= { code: 'DeploymentFailed', message: `the container did not start: ${String(e)}` };
        op.pollsLeft = 1;
      });
    return {
      status: existing ? 200 : 201,
      body: resource,
      headers: {
        'azure-asyncoperation': arm.operationUrl(ctx.workspace, 'status', op.id),
        'x-ms-async-operation-timeout': 'PT1H',
        ...this.retryAfter(),
      },
    };
  }

  private deleteDeployment(ctx: HandlerContext): HandlerResult {
    const arm = this.arm;
    const existing = arm.get(ctx.id);
    if (!existing) return { status: 204 };
    const endpointName = path.posix.basename(path.posix.dirname(path.posix.dirname(ctx.id)));
    const name = path.posix.basename(ctx.id);
    if ((this.traffic(endpointName)[name] ?? 0) > 0)
      return armError(400, 'BadArgument', `Deployment ${name} has traffic; set its traffic to 0 before deleting it`);
    (existing.properties as Record<string, unknown>).provisioningState = 'Deleting';
    this.emit({ kind: 'deployment-state', endpoint: endpointName, deployment: name, detail: 'Deleting' });
    const op = arm.startOperation(() => {
      arm.resources.delete(ctx.id.toLowerCase());
      const b = this.backends.get(ctx.id.toLowerCase());
      if (b) stopBackend(b);
      this.backends.delete(ctx.id.toLowerCase());
      this.emit({ kind: 'deployment-deleted', endpoint: endpointName, deployment: name });
    });
    return { status: 202, headers: arm.locationHeaders(ctx.workspace, op.id) };
  }

  /** Downloads the model and the environment's build context, then runs `llmops flow serve` on them. */
  private async startBackend(key: string, props: Record<string, unknown>): Promise<void> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-deployment-'));
    const model = this.arm.get(String(props.model));
    if (!model) throw new Error(`model ${String(props.model)} not found`);
    const modelUri = String((model.properties as { modelUri: string }).modelUri);
    const flowPrefix = /^azureml:\/\/datastores\/[^/]+\/paths\/(.+)$/.exec(modelUri)?.[1];
    if (!flowPrefix) throw new Error(`unsupported modelUri ${modelUri}`);
    await this.download(flowPrefix, path.join(dir, 'flow'));
    const serve = ['flow', 'serve', path.join(dir, 'flow'), '--host', '127.0.0.1', '--port', '0'];
    let args = [...this.options.command.slice(1), ...serve];
    const env = this.arm.get(String(props.environmentId));
    const contextUri = (env?.properties as { build?: { contextUri?: string } } | undefined)?.build?.contextUri;
    if (contextUri) {
      // The image built from the context runs the CLI the context carries (app/dist/cli.js, as start.sh does):
      // a context whose CLI does not start fails the deployment here as it would in Azure.
      const prefix = /\/(LocalUpload\/.+)$/.exec(contextUri)?.[1];
      if (!prefix) throw new Error(`unsupported contextUri ${contextUri}`);
      const context = path.join(dir, 'context');
      await this.download(prefix.replace(/\/?$/, '/'), context);
      args = [
        path.join(context, 'app', 'dist', 'cli.js'),
        ...serve,
        '--connections',
        path.join(context, 'connections'),
      ];
      this.servedFrom.push(args[0]);
    }
    const vars: Record<string, string> = {};
    for (const [k, v] of Object.entries((props.environmentVariables ?? {}) as Record<string, string>)) {
      const ref = /^\$\{\{azureml:\/\/connections\/([^/]+)\/credentials\/([^}]+)\}\}$/.exec(v);
      if (ref) {
        const value = this.options.connections?.[ref[1]]?.[ref[2]];
        if (value === undefined) throw new Error(`workspace connection ${ref[1]} has no ${ref[2]}`);
        vars[k] = value;
      } else vars[k] = v;
    }
    const child = spawn(this.options.command[0], args, {
      // The container's environment: only what the deployment and the image give it.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: os.tmpdir(), ...this.options.env, ...vars },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const backend: Backend = { child, log: '', dir };
    this.backends.set(key, backend);
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        backend.log += chunk.toString();
        const m = /\{[^\n]*"msg":"listening"[^\n]*\}/.exec(backend.log);
        if (m && !backend.url) {
          backend.url = (JSON.parse(m[0]) as { url: string }).url;
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('exit', (code) =>
        reject(new Error(`flow serve exited with ${code}: ${backend.log.split('\n').slice(-5).join(' ')}`)),
      );
    });
  }

  private async download(prefix: string, to: string): Promise<void> {
    const d = this.arm.options.datastore;
    const service = new BlobServiceClient(
      this.options.blobEndpoint,
      new StorageSharedKeyCredential(d.accountName, d.accountKey),
    );
    const container = service.getContainerClient(d.containerName);
    let n = 0;
    for await (const item of container.listBlobsFlat({ prefix })) {
      const file = path.join(to, item.name.slice(prefix.length));
      mkdirSync(path.dirname(file), { recursive: true });
      await container.getBlobClient(item.name).downloadToFile(file);
      n++;
    }
    if (n === 0) throw new Error(`nothing stored under ${prefix}`);
  }

  private async score(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const m = /^\/([^/]+)\/score$/.exec(req.url ?? '');
    const ws = this.arm.workspaces[0];
    const endpointId = m ? `${this.arm.workspaceId(ws)}/onlineEndpoints/${m[1]}` : '';
    const endpoint = m ? this.arm.get(endpointId) : undefined;
    if (!m || !endpoint) return reply(404, { error: 'no such endpoint' });
    const keys = this.keys.get(endpointId.toLowerCase());
    const auth = req.headers.authorization ?? '';
    const authMode = (endpoint.properties as { authMode?: string }).authMode;
    const valid =
      authMode === 'AMLToken'
        ? (this.tokens.get(endpointId.toLowerCase()) ?? []).map((t) => `Bearer ${t}`)
        : keys
          ? [`Bearer ${keys.primaryKey}`, `Bearer ${keys.secondaryKey}`]
          : [];
    if (!valid.includes(auth))
      return reply(401, {
        error: `unauthorized: a valid endpoint ${authMode === 'AMLToken' ? 'token' : 'key'} is required`,
      });
    const traffic = this.traffic(m[1]);
    const named = req.headers['azureml-model-deployment'];
    let deployment = typeof named === 'string' ? named : undefined;
    if (!deployment) {
      let roll = Math.random() * 100;
      for (const [d, w] of Object.entries(traffic)) {
        roll -= w;
        if (roll < 0) {
          deployment = d;
          break;
        }
      }
    }
    if (!deployment) return reply(503, { error: 'no deployment receives traffic' });
    const backend = this.backends.get(`${endpointId}/deployments/${deployment}`.toLowerCase());
    if (this.deploymentState(m[1], deployment) !== 'Succeeded' || !backend?.url)
      return reply(404, { error: `deployment ${deployment} is not ready` });
    const record = (status: number) =>
      this.scored.push({ endpoint: m[1], deployment: deployment, status, header: Boolean(named) });
    // A request routed by the split (not one naming a deployment) is copied to the mirror deployment at its
    // share; the copy's answer is recorded and discarded, as Azure does.
    if (!named)
      for (const [d, w] of Object.entries(this.mirror(m[1])))
        if (Math.random() * 100 < w) void this.copyTo(m[1], endpointId, d, req, Buffer.concat(chunks));
    const fault = this.faultFor(m[1], deployment);
    // Azure names the deployment that answered: clients attribute latency and errors by it.
    res.setHeader('azureml-model-deployment', deployment);
    if (fault) {
      record(fault.status ?? 500);
      return reply(fault.status ?? 500, { error: 'injected scoring failure' });
    }
    const upstream = await fetch(`${backend.url}/score`, {
      method: 'POST',
      headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
      body: Buffer.concat(chunks),
    }).catch((e: unknown) => e as Error);
    if (upstream instanceof Error) {
      record(502);
      return reply(502, { error: upstream.message });
    }
    record(upstream.status);
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  }

  private faultFor(endpoint: string, deployment: string): ScoringFault | undefined {
    const share = this.traffic(endpoint)[deployment] ?? 0;
    const mirrored = (this.mirror(endpoint)[deployment] ?? 0) > 0;
    return this.scoringFaults.find(
      (f) => f.deployment === deployment && share >= (f.whenTrafficAtLeast ?? 0) && (!f.whileMirrored || mirrored),
    );
  }

  /** The mirrored copy of a request: sent to the deployment's server, its answer recorded, then dropped. */
  private async copyTo(
    endpoint: string,
    endpointId: string,
    deployment: string,
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<void> {
    const backend = this.backends.get(`${endpointId}/deployments/${deployment}`.toLowerCase());
    const fault = this.faultFor(endpoint, deployment);
    let status = 404;
    if (backend?.url && this.deploymentState(endpoint, deployment) === 'Succeeded')
      status =
        fault?.status ??
        (await fetch(`${backend.url}/score`, {
          method: 'POST',
          headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
          body,
        }).then(
          async (r) => (await r.arrayBuffer(), r.status),
          () => 502,
        ));
    this.scored.push({ endpoint, deployment, status, header: false, mirrored: true });
  }
}

function stopBackend(b: Backend): void {
  b.child.removeAllListeners('exit');
  b.child.on('exit', () => undefined);
  b.child.kill('SIGTERM');
  rmSync(b.dir, { recursive: true, force: true });
}

function notFound(id: string): HandlerResult {
  return armError(404, 'ResourceNotFound', `The resource ${id} was not found.`);
}
