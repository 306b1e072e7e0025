/**
 * A stateful Azure Resource Manager emulator for Microsoft.MachineLearningServices over HTTPS on
 * loopback. Every request is checked against the vendored 2025-12-01 spec with Microsoft's live
 * validator (oav); a request the spec rejects gets ARM's error shape with 400 and is recorded as
 * invalid, so tests can assert that none was. Responses are validated too. Resources are kept by
 * ARM id (case-insensitive, as ARM does); operations the spec marks long-running answer 201 +
 * `Azure-AsyncOperation` (PUT) or 202 + `Location` + `Retry-After` (DELETE, POST) and finish after a
 * few polls. Faults (429 with Retry-After, 5xx, 409, 403, provisioning failure) are injected by rule.
 * Only tokens issued by the loopback Entra emulator for this audience are accepted.
 *
 * Handlers are per operationId; later work adds jobs and endpoints behaviour with `handle()`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { EntraEmulator, type EntraClient } from './entra.js';
import { ML_SPEC, SpecValidator, specificationDir, type SpecIssue } from './spec-validator.js';
import { makeLoopbackCertificate, trustInThisProcess, type LoopbackCertificate } from './tls.js';

const API_VERSION = '2025-12-01';
const PROVIDER = 'Microsoft.MachineLearningServices';

export interface EmulatorWorkspace {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location?: string;
}

export interface DefaultDatastore {
  accountName: string;
  accountKey: string;
  containerName: string;
  /** AccountKey (default) or Sas: what listSecrets returns; None: identity-based, no secrets. */
  credentials?: 'AccountKey' | 'Sas' | 'None';
  /** Makes the SAS token listSecrets returns (credentials Sas). */
  sasToken?: () => string;
}

export interface FaultRule {
  method?: string;
  /** Matches the request path (no query): a substring or a RegExp. */
  path?: string | RegExp;
  operationId?: string;
  /** How many matching requests fail (default 1). */
  times?: number;
  status?: number;
  code?: string;
  message?: string;
  /** Seconds, sent as Retry-After (429/503). */
  retryAfter?: number;
  /** Instead of an HTTP error: the long-running operation starts, then ends Failed with this message. */
  provisioningFailure?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
  operationId?: string;
  status: number;
  /** ARM platform URLs (operation status/results) are not in the RP spec and not validated. */
  platform: boolean;
  requestIssues: SpecIssue[];
  responseIssues: SpecIssue[];
  fault?: boolean;
}

export interface HandlerContext {
  emulator: ArmEmulator;
  method: string;
  /** Path of the request (ARM id of the resource for resource operations). */
  id: string;
  query: Record<string, string>;
  body: unknown;
  workspace: EmulatorWorkspace;
  operationId: string;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
}

export interface HandlerResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (ctx: HandlerContext) => HandlerResult | Promise<HandlerResult>;

interface Operation {
  id: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  pollsLeft: number;
  startTime: string;
  endTime?: string;
  error?: { code: string; message: string };
  /** What finishing does to the emulator's state. */
  finish: (failed: boolean) => void;
  /** Body of the Location result when done (a POST's answer). */
  result?: unknown;
}

interface SpecOperation {
  operationId: string;
  longRunning: boolean;
  responses: string[];
}

export interface EmulatorOptions {
  workspaces?: EmulatorWorkspace[];
  datastore: DefaultDatastore;
  clients?: EntraClient[];
  /** Polls an operation answers InProgress before it ends (default 2). */
  lroPolls?: number;
  /** Retry-After (seconds) on long-running operations (default 10, the spec's minimum). */
  lroRetryAfter?: number;
  /**
   * `retry-after-ms` sent beside Retry-After (default 20): Azure's finer-grained header, which clients
   * prefer, so tests do not wait 10 s per poll. Null: not sent.
   */
  lroRetryAfterMs?: number | null;
  /**
   * More vendored spec files (paths under `specification/`) to validate and serve, e.g. Microsoft.App's: their
   * resources live in the workspaces' subscriptions, outside any workspace.
   */
  specs?: string[];
  /** More DNS names the emulator's certificate covers (the other loopback HTTPS servers share it). */
  certificateNames?: string[];
}

export const TEST_CLIENT: EntraClient = {
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  clientId: '0b0f3c1e-7c41-4a2b-9f5e-3c8d1a2b4c5d',
  clientSecret: 'test-client-secret-value',
};

export const TEST_WORKSPACE: EmulatorWorkspace = {
  subscriptionId: '00000000-0000-0000-0000-000000000001',
  resourceGroup: 'rg-llmops',
  name: 'mlw-llmops',
  location: 'westeurope',
};

export class ArmEmulator {
  readonly requests: RecordedRequest[] = [];
  readonly resources = new Map<string, Record<string, unknown>>();
  readonly operations = new Map<string, Operation>();
  readonly faults: (FaultRule & { left: number })[] = [];
  readonly workspaces: EmulatorWorkspace[];
  readonly entra: EntraEmulator;
  readonly cert: LoopbackCertificate;
  url = '';
  private server!: https.Server;
  private validator!: SpecValidator;
  private specOps = new Map<string, SpecOperation>();
  private handlers = new Map<string, Handler>();
  private unvalidated: { method: string; path: RegExp; handler: Handler }[] = [];
  private tolerated: ((operationId: string | undefined, issue: SpecIssue) => boolean)[] = [];
  private clock = Date.parse('2026-11-01T00:00:00Z');

  private constructor(readonly options: EmulatorOptions) {
    this.workspaces = options.workspaces ?? [TEST_WORKSPACE];
    this.cert = makeLoopbackCertificate(options.certificateNames);
    this.entra = new EntraEmulator(this.cert, options.clients ?? [TEST_CLIENT]);
  }

  static async start(options: EmulatorOptions): Promise<ArmEmulator> {
    const emulator = new ArmEmulator(options);
    await emulator.init();
    return emulator;
  }

  /** Environment for a child process (CLI) that should use this emulator with the test service principal. */
  childEnv(client: EntraClient = TEST_CLIENT): Record<string, string> {
    return {
      NODE_EXTRA_CA_CERTS: this.cert.certFile,
      AZURE_TENANT_ID: client.tenantId,
      AZURE_CLIENT_ID: client.clientId,
      AZURE_CLIENT_SECRET: client.clientSecret,
      LLMOPS_AZURE_AUTH: 'secret',
    };
  }

  /** The `azure:` block of an experiment.yaml pointing at this emulator. */
  azureSettings(ws: EmulatorWorkspace = this.workspaces[0]): Record<string, string> {
    return {
      subscription_id: ws.subscriptionId,
      resource_group: ws.resourceGroup,
      workspace: ws.name,
      resource_manager_endpoint: this.url,
      authority_host: this.entra.url,
    };
  }

  workspaceId(ws: EmulatorWorkspace = this.workspaces[0]): string {
    return `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers/${PROVIDER}/workspaces/${ws.name}`;
  }

  /** Requests the spec rejected, and responses that broke it: both must stay empty. */
  specViolations(): RecordedRequest[] {
    return this.requests.filter((r) => r.requestIssues.length > 0 || r.responseIssues.length > 0);
  }

  inject(rule: FaultRule): void {
    this.faults.push({ ...rule, left: rule.times ?? 1 });
  }

  /** A request issue that is a defect of the spec itself (named where it is registered), not of the client. */
  tolerate(rule: (operationId: string | undefined, issue: SpecIssue) => boolean): void {
    this.tolerated.push(rule);
  }

  /** Replace or add the behaviour of one operation of the spec. */
  handle(operationId: string, handler: Handler): void {
    this.handlers.set(operationId, handler);
  }

  /**
   * Behaviour of an operation whose spec is not vendored (e.g. workspace connections, workspaceRP.json): its
   * requests are recorded as platform requests (not validated) and answered by `handler`.
   */
  handleUnvalidated(method: string, pathPattern: RegExp, handler: Handler): void {
    this.unvalidated.push({ method: method.toUpperCase(), path: pathPattern, handler });
  }

  get(id: string): Record<string, unknown> | undefined {
    return this.resources.get(id.toLowerCase());
  }

  put(id: string, resource: Record<string, unknown>): void {
    this.resources.set(id.toLowerCase(), resource);
  }

  /** Direct children of `parent` of one type segment (e.g. `.../data/x` + `versions`). */
  children(parent: string, type: string): Record<string, unknown>[] {
    const prefix = `${parent}/${type}/`.toLowerCase();
    return [...this.resources.entries()]
      .filter(([k]) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/'))
      .map(([, v]) => v);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.entra.stop();
    rmSync(this.cert.dir, { recursive: true, force: true });
  }

  private async init(): Promise<void> {
    trustInThisProcess(this.cert.cert);
    await this.entra.start();
    this.validator = await SpecValidator.load(this.options.specs);
    this.loadSpecOperations();
    this.registerDefaultHandlers();
    this.server = https.createServer({ cert: this.cert.cert, key: this.cert.key }, (req, res) => {
      void this.serve(req, res).catch((e: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'EmulatorError', message: String(e) } }));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    for (const ws of this.workspaces) this.seedWorkspace(ws);
  }

  private loadSpecOperations(): void {
    for (const file of [ML_SPEC, ...(this.options.specs ?? [])]) this.loadSpecFile(file);
  }

  private loadSpecFile(file: string): void {
    const spec = JSON.parse(readFileSync(path.join(specificationDir(), file), 'utf8')) as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    for (const ops of Object.values(spec.paths))
      for (const [method, op] of Object.entries(ops)) {
        if (method === 'parameters') continue;
        const operationId = String(op.operationId);
        this.specOps.set(operationId, {
          operationId,
          longRunning: op['x-ms-long-running-operation'] === true,
          responses: Object.keys(op.responses as object),
        });
      }
  }

  private seedWorkspace(ws: EmulatorWorkspace): void {
    const d = this.options.datastore;
    const credentialsType = d.credentials ?? 'AccountKey';
    const id = `${this.workspaceId(ws)}/datastores/workspaceblobstore`;
    this.put(id, {
      id,
      name: 'workspaceblobstore',
      type: `${PROVIDER}/workspaces/datastores`,
      systemData: this.systemData(),
      properties: {
        datastoreType: 'AzureBlob',
        isDefault: true,
        accountName: d.accountName,
        containerName: d.containerName,
        endpoint: 'core.windows.net',
        protocol: 'https',
        serviceDataAccessAuthIdentity: 'WorkspaceSystemAssignedIdentity',
        // GET never returns a secret's value, only its type (the spec requires `secrets`).
        credentials:
          credentialsType === 'None'
            ? { credentialsType }
            : { credentialsType, secrets: { secretsType: credentialsType } },
        tags: {},
      },
    });
  }

  private systemData(): Record<string, string> {
    // A strictly increasing clock: "latest" must not depend on two writes in one millisecond.
    this.clock += 1000;
    const at = new Date(this.clock).toISOString();
    return {
      createdAt: at,
      createdBy: TEST_CLIENT.clientId,
      createdByType: 'Application',
      lastModifiedAt: at,
      lastModifiedBy: TEST_CLIENT.clientId,
      lastModifiedByType: 'Application',
    };
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    const u = new URL(req.url ?? '/', this.url);
    const method = (req.method ?? 'GET').toUpperCase();
    const query = Object.fromEntries(u.searchParams.entries());
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const record: RecordedRequest = {
      method,
      path: u.pathname,
      query,
      body,
      status: 0,
      platform: false,
      requestIssues: [],
      responseIssues: [],
    };
    this.requests.push(record);
    const send = async (result: HandlerResult) => {
      record.status = result.status;
      const headers = { 'content-type': 'application/json', 'x-ms-request-id': randomUUID(), ...result.headers };
      if (!record.platform && record.operationId) {
        const check = await this.validator.response(
          { url: `https://management.azure.com${req.url}`, method },
          { statusCode: String(result.status), headers, body: result.body },
        );
        record.responseIssues = check.issues;
      }
      res.writeHead(result.status, headers);
      res.end(result.body === undefined ? '' : JSON.stringify(result.body));
    };

    if (!this.entra.accepts(req.headers.authorization, this.url)) {
      record.platform = true;
      return send(
        armError(401, 'InvalidAuthenticationToken', 'The access token is missing or was not issued for this audience.'),
      );
    }
    const platform = /\/locations\/([^/]+)\/mfeOperation(?:sStatus|Results)\/([^/]+)$/.exec(u.pathname);
    if (platform) {
      record.platform = true;
      return send(this.pollOperation(u.pathname.includes('mfeOperationsStatus') ? 'status' : 'result', platform[2]));
    }

    const outside = this.unvalidated.find((h) => h.method === method && h.path.test(u.pathname));
    const outsideWs = outside && this.workspaceOf(u.pathname);
    if (outside && outsideWs) {
      record.platform = true;
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const ctx = {
        emulator: this,
        method,
        id: u.pathname,
        query,
        body,
        headers,
        workspace: outsideWs,
        operationId: '',
      };
      return send(await outside.handler(ctx));
    }
    const check = await this.validator.request({
      url: `https://management.azure.com${req.url}`,
      method,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
      body,
    });
    record.operationId = check.operationId;
    check.issues = check.issues.filter((i) => !this.tolerated.some((t) => t(check.operationId, i)));
    record.requestIssues = check.issues;
    if (check.issues.length > 0) {
      const notFound = check.issues.some((i) => i.code.startsWith('OPERATION_NOT_FOUND'));
      if (notFound) record.operationId = undefined;
      return send(
        armError(
          notFound ? 404 : 400,
          notFound ? 'NoRegisteredProviderFound' : 'InvalidRequestContent',
          check.issues.map((i) => `${i.paths.join(',') || '(request)'}: ${i.message}`).join('; '),
        ),
      );
    }
    const operationId = check.operationId!;
    const fault = this.takeFault(method, u.pathname, operationId);
    if (fault && !fault.provisioningFailure) {
      record.fault = true;
      const status = fault.status ?? 500;
      const result = armError(status, fault.code ?? defaultCode(status), fault.message ?? `injected ${status}`);
      if (fault.retryAfter !== undefined) result.headers = { 'retry-after': String(fault.retryAfter) };
      return send(result);
    }
    const ws = this.workspaceOf(u.pathname);
    if (!ws)
      return send(
        armError(404, 'ResourceNotFound', `The Resource '${PROVIDER}/workspaces' under the given path was not found.`),
      );
    const handler = this.handlers.get(operationId) ?? this.genericHandler(operationId);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const ctx: HandlerContext = {
      emulator: this,
      method,
      id: u.pathname,
      query,
      body,
      workspace: ws,
      operationId,
      headers,
    };
    let result = await handler(ctx);
    if (fault?.provisioningFailure) result = this.failProvisioning(ctx, result, fault.provisioningFailure);
    return send(result);
  }

  private takeFault(method: string, p: string, operationId: string): FaultRule | undefined {
    const rule = this.faults.find(
      (f) =>
        f.left > 0 &&
        (!f.method || f.method.toUpperCase() === method) &&
        (!f.operationId || f.operationId === operationId) &&
        (!f.path || (typeof f.path === 'string' ? p.includes(f.path) : f.path.test(p))),
    );
    if (rule) rule.left--;
    return rule;
  }

  private workspaceOf(p: string): EmulatorWorkspace | undefined {
    const lower = p.toLowerCase();
    return (
      this.workspaces.find((ws) => lower.startsWith(this.workspaceId(ws).toLowerCase())) ?? this.resourceGroupOf(p)
    );
  }

  /** Another provider's resource (App Service, Container Apps, ...) in a resource group of a known subscription. */
  private resourceGroupOf(p: string): EmulatorWorkspace | undefined {
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/([^/]+)\//i.exec(p);
    if (!m || m[3].toLowerCase() === PROVIDER.toLowerCase()) return undefined;
    const ws = this.workspaces.find((w) => w.subscriptionId.toLowerCase() === m[1].toLowerCase());
    return ws && { subscriptionId: ws.subscriptionId, resourceGroup: m[2], name: '', location: ws.location };
  }

  /** Default behaviour by the shape of the operation: CRUD on resources by id, long-running when the spec says so. */
  private genericHandler(operationId: string): Handler {
    const op = this.specOps.get(operationId);
    return (ctx) => {
      const existing = this.get(ctx.id);
      switch (ctx.method) {
        case 'GET': {
          if (operationId.endsWith('_List')) {
            const parent = path.posix.dirname(ctx.id);
            return { status: 200, body: { value: this.children(parent, path.posix.basename(ctx.id)) } };
          }
          return existing ? { status: 200, body: existing } : notFound(ctx.id);
        }
        case 'PUT': {
          const resource = this.store(ctx, existing);
          if (!op?.longRunning) return { status: existing ? 200 : 201, body: resource };
          const props = resource.properties as Record<string, unknown>;
          props.provisioningState = existing ? 'Updating' : 'Creating';
          const operation = this.startOperation((failed) => {
            props.provisioningState = failed ? 'Failed' : 'Succeeded';
          });
          return {
            status: 201,
            body: resource,
            headers: {
              'azure-asyncoperation': this.operationUrl(ctx.workspace, 'status', operation.id),
              'x-ms-async-operation-timeout': 'PT1H',
            },
          };
        }
        case 'DELETE': {
          if (!existing) return { status: 204 };
          if (!op?.longRunning) {
            this.resources.delete(ctx.id.toLowerCase());
            return { status: 200 };
          }
          const props = existing.properties as Record<string, unknown> | undefined;
          if (props) props.provisioningState = 'Deleting';
          const operation = this.startOperation(() => this.resources.delete(ctx.id.toLowerCase()));
          return { status: 202, headers: this.locationHeaders(ctx.workspace, operation.id) };
        }
        default: {
          if (op?.longRunning) {
            const operation = this.startOperation(() => undefined);
            return { status: 202, headers: this.locationHeaders(ctx.workspace, operation.id) };
          }
          return armError(501, 'NotImplemented', `the emulator has no behaviour for ${operationId}`);
        }
      }
    };
  }

  /** Store a PUT body as the resource at ctx.id, with ARM's envelope fields. */
  store(ctx: HandlerContext, existing?: Record<string, unknown>): Record<string, unknown> {
    const body = (ctx.body ?? {}) as Record<string, unknown>;
    const segments = ctx.id.split('/');
    const providerAt = segments.findIndex((s) => s.toLowerCase() === PROVIDER.toLowerCase());
    const typeParts = segments.slice(providerAt + 1).filter((_, i) => i % 2 === 0);
    const resource: Record<string, unknown> = {
      ...body,
      id: ctx.id,
      name: segments[segments.length - 1],
      type: `${PROVIDER}/${typeParts.join('/')}`,
      systemData: existing?.systemData
        ? { ...(existing.systemData as object), lastModifiedAt: new Date(this.clock).toISOString() }
        : this.systemData(),
      properties: { ...((body.properties as object) ?? {}) },
    };
    this.put(ctx.id, resource);
    return resource;
  }

  startOperation(finish: Operation['finish'], result?: unknown): Operation {
    const operation: Operation = {
      id: randomUUID(),
      status: 'InProgress',
      pollsLeft: this.options.lroPolls ?? 2,
      startTime: new Date().toISOString(),
      finish,
      result,
    };
    this.operations.set(operation.id, operation);
    return operation;
  }

  operationUrl(ws: EmulatorWorkspace, kind: 'status' | 'result', id: string): string {
    const segment = kind === 'status' ? 'mfeOperationsStatus' : 'mfeOperationResults';
    return `${this.url}/subscriptions/${ws.subscriptionId}/providers/${PROVIDER}/locations/${ws.location ?? 'westeurope'}/${segment}/${id}?api-version=${API_VERSION}`;
  }

  locationHeaders(ws: EmulatorWorkspace, id: string): Record<string, string> {
    return {
      location: this.operationUrl(ws, 'result', id),
      ...this.retryAfter(),
      'x-ms-async-operation-timeout': 'PT1H',
    };
  }

  private retryAfter(): Record<string, string> {
    const ms = this.options.lroRetryAfterMs === undefined ? 20 : this.options.lroRetryAfterMs;
    return {
      'retry-after': String(this.options.lroRetryAfter ?? 10),
      ...(ms === null ? {} : { 'retry-after-ms': String(ms) }),
    };
  }

  private failProvisioning(ctx: HandlerContext, result: HandlerResult, message: string): HandlerResult {
    const url = result.headers?.['azure-asyncoperation'] ?? result.headers?.location;
    const id = url ? /\/([^/?]+)\?/.exec(url)?.[1] : undefined;
    const operation = id ? this.operations.get(id) : undefined;
    if (operation) operation.error = { code: 'ProvisioningFailed', message };
    else if (ctx.method === 'PUT') return armError(400, 'ProvisioningFailed', message);
    return result;
  }

  private pollOperation(kind: 'status' | 'result', id: string): HandlerResult {
    const operation = this.operations.get(id);
    if (!operation) return armError(404, 'OperationNotFound', `operation ${id} not found`);
    const retryAfter = this.retryAfter();
    if (operation.status === 'InProgress') {
      if (operation.pollsLeft > 0) operation.pollsLeft--;
      if (operation.pollsLeft === 0) {
        operation.status = operation.error ? 'Failed' : 'Succeeded';
        operation.endTime = new Date().toISOString();
        operation.finish(Boolean(operation.error));
      }
    }
    if (kind === 'status')
      return {
        status: 200,
        headers: operation.status === 'InProgress' ? retryAfter : {},
        body: {
          id: operation.id,
          name: operation.id,
          status: operation.status,
          startTime: operation.startTime,
          ...(operation.endTime ? { endTime: operation.endTime } : {}),
          ...(operation.error ? { error: operation.error } : {}),
        },
      };
    if (operation.status === 'InProgress') return { status: 202, headers: retryAfter };
    if (operation.error) return armError(400, operation.error.code, operation.error.message);
    return operation.result === undefined ? { status: 204 } : { status: 200, body: operation.result };
  }

  private registerDefaultHandlers(): void {
    this.handle('Datastores_List', (ctx) => {
      let value = this.children(path.posix.dirname(ctx.id), 'datastores');
      if (ctx.query.isDefault === 'true')
        value = value.filter((d) => (d.properties as { isDefault?: boolean }).isDefault);
      return { status: 200, body: { value } };
    });
    this.handle('Datastores_ListSecrets', (ctx) => {
      const store = this.get(path.posix.dirname(ctx.id));
      if (!store) return notFound(ctx.id);
      const type = (store.properties as { credentials: { credentialsType: string } }).credentials.credentialsType;
      const d = this.options.datastore;
      if (type === 'AccountKey') return { status: 200, body: { secretsType: 'AccountKey', key: d.accountKey } };
      if (type === 'Sas') return { status: 200, body: { secretsType: 'Sas', sasToken: d.sasToken?.() ?? '' } };
      return armError(400, 'UserError', `datastore ${String(store.name)} has no secrets (credentialsType ${type})`);
    });
    this.handle('DataVersions_CreateOrUpdate', (ctx) => {
      const containerId = path.posix.dirname(path.posix.dirname(ctx.id));
      const existing = this.get(ctx.id);
      if (existing)
        // Azure ML versions are immutable: a second PUT with other content is a conflict.
        return armError(409, 'UserError', `Data asset version ${path.posix.basename(ctx.id)} already exists`);
      const resource = this.store(ctx);
      const props = resource.properties as Record<string, unknown>;
      props.isArchived ??= false;
      props.isAnonymous ??= false;
      const container = this.get(containerId);
      const version = String(resource.name);
      if (!container) {
        this.store(
          { ...ctx, id: containerId, body: { properties: { dataType: props.dataType, isArchived: false } } },
          undefined,
        );
      }
      const c = this.get(containerId)!;
      Object.assign(c.properties as object, { latestVersion: version });
      return { status: 201, body: resource };
    });
    this.handle('DataVersions_List', (ctx) => {
      let value = this.children(path.posix.dirname(ctx.id), 'versions');
      const order = (ctx.query.$orderBy ?? '').toLowerCase();
      if (order.startsWith('createdtime'))
        value = value.sort((a, b) => {
          const x = String((a.systemData as { createdAt: string }).createdAt);
          const y = String((b.systemData as { createdAt: string }).createdAt);
          return order.endsWith('desc') ? y.localeCompare(x) : x.localeCompare(y);
        });
      if (ctx.query.$top) value = value.slice(0, Number(ctx.query.$top));
      return { status: 200, body: { value } };
    });
  }
}

export function armError(status: number, code: string, message: string): HandlerResult {
  return { status, body: { error: { code, message } } };
}

function notFound(id: string): HandlerResult {
  return armError(404, 'ResourceNotFound', `The resource ${id} was not found.`);
}

function defaultCode(status: number): string {
  if (status === 429) return 'TooManyRequests';
  if (status === 409) return 'Conflict';
  if (status === 403) return 'AuthorizationFailed';
  if (status === 503) return 'ServiceUnavailable';
  return 'InternalServerError';
}
