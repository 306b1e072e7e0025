/**
 * The cluster, through `@kubernetes/client-node`: the kubeconfig of `--kubeconfig` or `KUBECONFIG` (else the
 * default places, in-cluster included), server-side apply with our field manager, read / list / delete. A
 * throttled or failing API server (429, 5xx, a dropped connection) is tried again with backoff, honouring
 * Retry-After; a 409 is a `KubeConflict` (someone else changed the object: the caller decides); anything else
 * is a ServiceError quoting the API's `Status` message. Never logs an object's content (Secrets).
 * @module
 */
import { existsSync } from 'node:fs';
import { ApiException, KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { ConfigError, ServiceError } from '../errors.js';
import { FIELD_MANAGER } from './kubernetes-manifests.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: Date | string;
  };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}

/** The object was changed by someone else (resourceVersion precondition, or a field owned by another manager). */
export class KubeConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConflict';
  }
}

const RETRIED = new Set([429, 500, 502, 503, 504]);

export interface KubeClientOptions {
  /** Attempts per call for 429 / 5xx / network failures. */
  attempts?: number;
  /** First backoff; doubled each attempt (Retry-After wins when the server sends one, capped at 10 s). */
  backoffMs?: number;
}

export class KubeClient {
  readonly server: string;
  private api: KubernetesObjectApi;

  constructor(
    readonly config: KubeConfig,
    private readonly o: KubeClientOptions = {},
  ) {
    this.server = config.getCurrentCluster()?.server ?? '';
    this.api = KubernetesObjectApi.makeApiClient(config);
  }

  /** `--kubeconfig`, else KUBECONFIG, else ~/.kube/config or the in-cluster service account. */
  static load(kubeconfig: string | undefined, o: KubeClientOptions = {}): KubeClient {
    const kc = new KubeConfig();
    const file = kubeconfig ?? process.env.KUBECONFIG;
    try {
      if (kubeconfig) {
        if (!existsSync(kubeconfig))
          throw ConfigError.at({ file: 'input "kubeconfig"' }, `file not found: ${kubeconfig}; expected a kubeconfig`);
        kc.loadFromFile(kubeconfig);
      } else kc.loadFromDefault();
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw ConfigError.at(
        { file: file ?? '~/.kube/config' },
        `found an unreadable kubeconfig (${(e as Error).message}); expected a kubeconfig file`,
      );
    }
    if (!kc.getCurrentCluster())
      throw ConfigError.at(
        { file: file ?? 'input "kubeconfig"' },
        'found no cluster in the kubeconfig (current-context); expected KUBECONFIG or --kubeconfig to name a cluster',
      );
    return new KubeClient(kc, o);
  }

  /** Server-side apply as field manager `llmops`, forced: these fields are ours (preconditions guard the route). */
  async apply<T extends KubeObject>(obj: object, what: string): Promise<T> {
    const plain = JSON.parse(JSON.stringify(obj)) as KubeObject;
    return this.call(what, () =>
      this.api.patch(plain as never, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    ) as Promise<T>;
  }

  async read<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<T | undefined> {
    try {
      return (await this.call(`read ${kind} ${namespace}/${name}`, () =>
        this.api.read({ apiVersion, kind, metadata: { name, namespace } }),
      )) as T;
    } catch (e) {
      if (e instanceof NotFound) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string,
    selectors: { labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<T[]> {
    const r = await this.call(`list ${kind} in ${namespace}`, () =>
      this.api.list(
        apiVersion,
        kind,
        namespace,
        undefined,
        undefined,
        undefined,
        selectors.fieldSelector,
        selectors.labelSelector,
      ),
    );
    return (r.items ?? []) as T[];
  }

  /** Deletes; an object already gone is fine. */
  async delete(apiVersion: string, kind: string, namespace: string, name: string): Promise<void> {
    try {
      await this.call(`delete ${kind} ${namespace}/${name}`, () =>
        this.api.delete({ apiVersion, kind, metadata: { name, namespace } }),
      );
    } catch (e) {
      if (!(e instanceof NotFound)) throw e;
    }
  }

  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    const attempts = this.o.attempts ?? 4;
    for (let attempt = 1; ; attempt++) {
      let status: number | undefined;
      let message: string;
      let retryAfter: number | undefined;
      try {
        return await f();
      } catch (e) {
        if (e instanceof ApiException) {
          status = e.code;
          message = statusMessage(e.body) ?? `HTTP ${e.code}`;
          const ra = Number((e.headers ?? {})['retry-after']);
          if (Number.isFinite(ra) && ra >= 0) retryAfter = Math.min(ra * 1000, 10_000);
          if (status === 404) throw new NotFound(`${what}: ${message}`);
          if (status === 409) throw new KubeConflict(`${what}: ${message}`);
          if (status === 401 || status === 403)
            throw new ServiceError(
              `Kubernetes API ${this.server}: ${what} was refused (${status}: ${message}); the kubeconfig's user needs get/list/patch/delete on deployments, services, secrets, pods, events and httproutes in the namespace`,
              status,
            );
          if (!RETRIED.has(status))
            throw new ServiceError(`Kubernetes API ${this.server}: ${what} failed (${status}: ${message})`, status);
        } else if (
          e instanceof Error &&
          /fetch|ECONNREFUSED|ECONNRESET|socket|network|ETIMEDOUT|EAI_AGAIN/i.test(
            `${e.message} ${String((e as { code?: string }).code)}`,
          )
        ) {
          message = e.message;
        } else throw e;
      }
      if (attempt >= attempts)
        throw new ServiceError(
          `Kubernetes API ${this.server}: ${what} failed after ${attempts} attempts (${status ?? 'no answer'}: ${message})`,
          status,
        );
      const backoff = retryAfter ?? (this.o.backoffMs ?? 250) * 2 ** (attempt - 1);
      await new Promise((r) => setTimeout(r, backoff));
    }
  }
}

class NotFound extends Error {}

/** The `message` of a Kubernetes Status body (a string or already parsed). */
function statusMessage(body: unknown): string | undefined {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b);
    } catch {
      return (body as string).slice(0, 300) || undefined;
    }
  }
  const m = (b as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m : undefined;
}
