/**
 * The Kubernetes emulator's object store: the resource kinds it serves (with their discovery entries and the
 * kubernetes-models class each stored object is validated with), resourceVersion / generation bookkeeping, and
 * server-side apply kept simple: each field manager owns the leaf fields it applied (lists are atomic, as
 * `x-kubernetes-list-type: atomic`), a field it stops applying is removed, a field another manager owns with a
 * different value is a conflict unless forced, and `metadata.resourceVersion` in an applied object is a
 * precondition. Objects come back with `managedFields` in the FieldsV1 shape.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Event, Namespace, Pod, Secret, Service } from 'kubernetes-models/v1';
import { Gateway, HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown> & {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
  };
  [k: string]: unknown;
};

interface ModelClass {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each model class takes its own shape
  new (data: any): { validate(): void };
}

export interface ResourceKind {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  model: ModelClass;
  /** Whether `spec` changes bump metadata.generation. */
  generation: boolean;
}

export const KINDS: ResourceKind[] = [
  {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    namespaced: false,
    shortNames: ['ns'],
    model: Namespace,
    generation: false,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Service',
    plural: 'services',
    namespaced: true,
    shortNames: ['svc'],
    model: Service,
    generation: false,
  },
  { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true, model: Secret, generation: false },
  {
    group: '',
    version: 'v1',
    kind: 'Pod',
    plural: 'pods',
    namespaced: true,
    shortNames: ['po'],
    model: Pod,
    generation: false,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Event',
    plural: 'events',
    namespaced: true,
    shortNames: ['ev'],
    model: Event,
    generation: false,
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    plural: 'deployments',
    namespaced: true,
    shortNames: ['deploy'],
    model: Deployment,
    generation: true,
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'Gateway',
    plural: 'gateways',
    namespaced: true,
    shortNames: ['gtw'],
    model: Gateway,
    generation: true,
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'HTTPRoute',
    plural: 'httproutes',
    namespaced: true,
    model: HTTPRoute,
    generation: true,
  },
  {
    group: 'autoscaling',
    version: 'v2',
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    namespaced: true,
    shortNames: ['hpa'],
    model: HorizontalPodAutoscaler,
    generation: true,
  },
];

export function groupVersion(k: ResourceKind): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

/** A failed API call, answered as a Kubernetes `Status`. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  status(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

type Path = string[];
const SYSTEM_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'deletionTimestamp',
]);

/** Leaf paths of an applied object (lists are one leaf); apiVersion/kind/system metadata and status excluded. */
export function leaves(obj: unknown, prefix: Path = []): Path[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return [prefix];
  const out: Path[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (prefix.length === 0 && (k === 'apiVersion' || k === 'kind' || k === 'status')) continue;
    if (prefix.length === 1 && prefix[0] === 'metadata' && SYSTEM_METADATA.has(k)) continue;
    if (v === undefined) continue;
    out.push(...leaves(v, [...prefix, k]));
  }
  return out.length === 0 && prefix.length > 0 ? [prefix] : out;
}

function getAt(obj: unknown, p: Path): unknown {
  let cur = obj;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function setAt(obj: Record<string, unknown>, p: Path, value: unknown): void {
  let cur = obj;
  for (const k of p.slice(0, -1)) {
    if (cur[k] === null || typeof cur[k] !== 'object' || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[p[p.length - 1]] = structuredClone(value);
}

function deleteAt(obj: Record<string, unknown>, p: Path): void {
  const parents: Record<string, unknown>[] = [];
  let cur: unknown = obj;
  for (const k of p.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return;
    parents.push(cur as Record<string, unknown>);
    cur = (cur as Record<string, unknown>)[k];
  }
  if (cur === null || typeof cur !== 'object') return;
  delete (cur as Record<string, unknown>)[p[p.length - 1]];
  // Empty parents go too (a map whose last owned field was removed).
  for (let i = p.length - 2; i >= 0; i--) {
    const parent = parents[i];
    const child = parent[p[i]];
    if (child && typeof child === 'object' && !Array.isArray(child) && Object.keys(child).length === 0)
      delete parent[p[i]];
    else break;
  }
}

const key = (p: Path) => JSON.stringify(p);

interface Entry {
  kind: ResourceKind;
  obj: KubeObject;
  /** Leaf path (JSON) → field manager and operation. */
  owners: Map<string, { manager: string; operation: 'Apply' | 'Update'; time: string }>;
}

export interface StoreChange {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  kind: ResourceKind;
  obj: KubeObject;
  /** The object before the change (MODIFIED). */
  before?: KubeObject;
}

export class ObjectStore {
  private entries = new Map<string, Entry>();
  private version = 1000;
  readonly listeners: ((c: StoreChange) => void)[] = [];

  static kindByPlural(plural: string, group: string): ResourceKind | undefined {
    return KINDS.find((k) => k.plural === plural && k.group === group);
  }

  static kindByKind(kind: string): ResourceKind | undefined {
    return KINDS.find((k) => k.kind === kind);
  }

  private id(kind: ResourceKind, namespace: string | undefined, name: string): string {
    return `${kind.plural}|${kind.group}|${kind.namespaced ? namespace : ''}|${name}`;
  }

  get(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject | undefined {
    const e = this.entries.get(this.id(kind, namespace, name));
    return e ? this.render(e) : undefined;
  }

  list(kind: ResourceKind, namespace?: string): KubeObject[] {
    return [...this.entries.values()]
      .filter((e) => e.kind === kind && (!namespace || !kind.namespaced || e.obj.metadata?.namespace === namespace))
      .map((e) => this.render(e))
      .sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
  }

  /** The list's resourceVersion: the store's current one. */
  get resourceVersion(): string {
    return String(this.version);
  }

  private render(e: Entry): KubeObject {
    const byManager = new Map<string, { operation: string; time: string; paths: Path[] }>();
    for (const [k, o] of e.owners) {
      const m = byManager.get(o.manager) ?? { operation: o.operation, time: o.time, paths: [] };
      m.paths.push(JSON.parse(k) as Path);
      byManager.set(o.manager, m);
    }
    const managedFields = [...byManager].map(([manager, m]) => ({
      manager,
      operation: m.operation,
      apiVersion: groupVersion(e.kind),
      time: m.time,
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1(m.paths),
    }));
    const obj = structuredClone(e.obj);
    if (managedFields.length) obj.metadata = { ...obj.metadata, managedFields };
    return obj;
  }

  /**
   * Server-side apply of `applied` by `manager`. Creates the object when absent; `force` takes over fields
   * owned by others instead of refusing.
   */
  apply(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
    applied: KubeObject,
    manager: string,
    force: boolean,
  ): KubeObject {
    if (!manager) throw new ApiError(400, 'BadRequest', 'fieldManager is required for apply requests');
    checkIdentity(kind, namespace, name, applied);
    const id = this.id(kind, namespace, name);
    const existing = this.entries.get(id);
    const rv = applied.metadata?.resourceVersion;
    if (rv !== undefined && (!existing || existing.obj.metadata?.resourceVersion !== rv))
      throw conflict(
        kind,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    const paths = leaves(applied);
    const newKeys = new Set(paths.map(key));
    const now = new Date().toISOString();
    const owners = new Map(existing?.owners ?? []);
    const conflicts: string[] = [];
    for (const p of paths) {
      const o = owners.get(key(p));
      if (o && o.manager !== manager && !isDeepStrictEqual(getAt(existing?.obj, p), getAt(applied, p)))
        conflicts.push(`conflict with "${o.manager}": .${p.join('.')}`);
    }
    if (conflicts.length && !force)
      throw new ApiError(
        409,
        'Conflict',
        `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${conflicts.join('; ')}`,
        {
          name,
          kind: kind.plural,
          causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: c })),
        },
      );
    const next = structuredClone(existing?.obj ?? {}) as Record<string, unknown>;
    for (const [k, o] of existing?.owners ?? [])
      if (o.manager === manager && !newKeys.has(k)) {
        deleteAt(next, JSON.parse(k) as Path);
        owners.delete(k);
      }
    for (const p of paths) {
      setAt(next, p, getAt(applied, p));
      owners.set(key(p), { manager, operation: 'Apply', time: now });
    }
    next.apiVersion = groupVersion(kind);
    next.kind = kind.kind;
    return this.commit(kind, namespace, name, next as KubeObject, owners, existing);
  }

  /** Create (POST) or replace (PUT, resourceVersion checked when given): the manager owns every field. */
  put(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
    obj: KubeObject,
    manager: string,
    create: boolean,
  ): KubeObject {
    checkIdentity(kind, namespace, name, obj);
    const id = this.id(kind, namespace, name);
    const existing = this.entries.get(id);
    if (create && existing)
      throw new ApiError(409, 'AlreadyExists', `${kind.plural} "${name}" already exists`, { name, kind: kind.plural });
    if (!create && !existing) throw notFound(kind, name);
    const rv = obj.metadata?.resourceVersion;
    if (!create && rv !== undefined && existing!.obj.metadata?.resourceVersion !== rv)
      throw conflict(
        kind,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    const now = new Date().toISOString();
    const owners = new Map<string, Entry['owners'] extends Map<string, infer V> ? V : never>();
    for (const [k, o] of existing?.owners ?? []) owners.set(k, o);
    for (const p of leaves(obj))
      if (!isDeepStrictEqual(getAt(existing?.obj, p), getAt(obj, p)) || !owners.has(key(p)))
        owners.set(key(p), { manager, operation: 'Update', time: now });
    const next = structuredClone(obj);
    if (existing && next.status === undefined) next.status = existing.obj.status;
    next.apiVersion = groupVersion(kind);
    next.kind = kind.kind;
    return this.commit(kind, namespace, name, next, owners, existing);
  }

  /** JSON merge patch (RFC 7386) by `manager`; `null` deletes a field. */
  mergePatch(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
    patch: KubeObject,
    manager: string,
  ): KubeObject {
    const existing = this.entries.get(this.id(kind, namespace, name));
    if (!existing) throw notFound(kind, name);
    const merged = mergePatch(structuredClone(existing.obj), patch) as KubeObject;
    if (patch.metadata?.resourceVersion === undefined && merged.metadata) delete merged.metadata.resourceVersion;
    return this.put(kind, namespace, name, merged, manager, false);
  }

  /** The controller's own writes: status only, no ownership, no generation bump. */
  setStatus(kind: ResourceKind, namespace: string | undefined, name: string, status: unknown): KubeObject | undefined {
    const e = this.entries.get(this.id(kind, namespace, name));
    if (!e) return undefined;
    if (isDeepStrictEqual(e.obj.status, status)) return this.render(e);
    const next = structuredClone(e.obj);
    next.status = status;
    return this.commit(kind, namespace, name, next, e.owners, e);
  }

  delete(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject {
    const id = this.id(kind, namespace, name);
    const e = this.entries.get(id);
    if (!e) throw notFound(kind, name);
    this.entries.delete(id);
    this.version++;
    const obj = this.render(e);
    for (const l of this.listeners) l({ type: 'DELETED', kind, obj });
    return obj;
  }

  private commit(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
    next: KubeObject,
    owners: Entry['owners'],
    existing: Entry | undefined,
  ): KubeObject {
    const before = existing?.obj;
    const meta = (next.metadata ??= {});
    delete meta.managedFields;
    meta.name = name;
    if (kind.namespaced) meta.namespace = namespace;
    else delete meta.namespace;
    meta.uid = (before?.metadata?.uid as string | undefined) ?? randomUUID();
    meta.creationTimestamp = before?.metadata?.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (kind.generation) {
      const changed = !before || !isDeepStrictEqual(before.spec, next.spec);
      meta.generation = (before?.metadata?.generation ?? 0) + (changed ? 1 : 0);
    }
    if (kind.kind === 'Secret' && next.stringData) {
      // Write-only, as the API server does: folded into data (base64).
      const data = (next.data ?? {}) as Record<string, string>;
      for (const [k, v] of Object.entries(next.stringData as Record<string, string>))
        data[k] = Buffer.from(v).toString('base64');
      next.data = data;
      delete next.stringData;
    }
    const candidate = { ...next, metadata: { ...meta, resourceVersion: String(this.version + 1) } };
    validate(kind, candidate);
    if (
      before &&
      isDeepStrictEqual(
        { ...before, metadata: { ...before.metadata, resourceVersion: '' } },
        { ...candidate, metadata: { ...candidate.metadata, resourceVersion: '' } },
      ) &&
      sameOwners(existing!.owners, owners)
    )
      return this.render(existing!);
    this.version++;
    const entry: Entry = { kind, obj: candidate, owners };
    this.entries.set(this.id(kind, namespace, name), entry);
    const obj = this.render(entry);
    for (const l of this.listeners) l({ type: before ? 'MODIFIED' : 'ADDED', kind, obj, before });
    return obj;
  }
}

function sameOwners(a: Entry['owners'], b: Entry['owners']): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k)?.manager !== v.manager) return false;
  return true;
}

/** Every stored object must satisfy its OpenAPI schema (kubernetes-models); else 422 Invalid. */
function validate(kind: ResourceKind, obj: KubeObject): void {
  try {
    new kind.model(obj).validate();
  } catch (e) {
    const errors = (e as { errors?: { instancePath?: string; message?: string }[] }).errors ?? [];
    const causes = errors.map((x) => ({
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${x.message ?? 'invalid'}`,
      field: (x.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.'),
    }));
    throw new ApiError(
      422,
      'Invalid',
      `${kind.kind} "${String(obj.metadata?.name)}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ') || (e as Error).message}`,
      { name: obj.metadata?.name, group: kind.group, kind: kind.kind, causes },
    );
  }
}

function checkIdentity(kind: ResourceKind, namespace: string | undefined, name: string, obj: KubeObject): void {
  if (obj.kind !== undefined && obj.kind !== kind.kind)
    throw new ApiError(
      400,
      'BadRequest',
      `the kind of the body (${String(obj.kind)}) does not match the URL (${kind.kind})`,
    );
  if (obj.metadata?.name !== undefined && obj.metadata.name !== name)
    throw new ApiError(
      400,
      'BadRequest',
      `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`,
    );
  if (kind.namespaced && obj.metadata?.namespace !== undefined && obj.metadata.namespace !== namespace)
    throw new ApiError(
      400,
      'BadRequest',
      `the namespace of the object (${obj.metadata.namespace}) does not match the namespace on the URL (${namespace})`,
    );
}

export function notFound(kind: ResourceKind, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${kind.plural}${kind.group ? `.${kind.group}` : ''} "${name}" not found`, {
    name,
    group: kind.group,
    kind: kind.plural,
  });
}

function conflict(kind: ResourceKind, name: string, why: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${kind.plural}${kind.group ? `.${kind.group}` : ''} "${name}": ${why}`,
    {
      name,
      group: kind.group,
      kind: kind.plural,
    },
  );
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out = (target && typeof target === 'object' && !Array.isArray(target) ? target : {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Leaf paths as FieldsV1: `{"f:spec":{"f:replicas":{}}}`. */
function fieldsV1(paths: Path[]): Record<string, unknown> {
  const root: Record<string, Record<string, unknown>> = {};
  for (const p of paths) {
    let cur: Record<string, unknown> = root;
    for (const k of p) cur = (cur[`f:${k}`] ??= {}) as Record<string, unknown>;
  }
  return root;
}

/** `a=b,c=d` (equality only, what our clients send) against labels or fields. */
export function matchesSelector(selector: string | undefined, get: (key: string) => string | undefined): boolean {
  if (!selector) return true;
  return selector
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .every((term) => {
      const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
      if (!m) return get(term) !== undefined;
      const value = get(m[1]);
      return m[2] === '!=' ? value !== m[3] : value === m[3];
    });
}
