/**
 * The emulator's Deployment controller: a Deployment's pods are real local processes running the image's
 * `start.sh` (the image reference resolved to a build-context folder through the map the test gives), with the
 * container's environment (values, and `secretKeyRef`s read from the stored Secret) and `PORT`. A new pod
 * template rolls out by surge: the new pods start, each becomes Ready when its readiness probe's path answers
 * 200, and only then are the old pods stopped. The Deployment's status follows (observedGeneration, replicas,
 * updated/ready/available, the Available and Progressing conditions, ProgressDeadlineExceeded); Pod objects and
 * Events (image pull failures, crashes, failed probes) are stored for clients to read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ObjectStore, type KubeObject, type StoreChange } from './store.js';

const DEPLOYMENTS = ObjectStore.kindByKind('Deployment')!;
const PODS = ObjectStore.kindByKind('Pod')!;
const EVENTS = ObjectStore.kindByKind('Event')!;
const SECRETS = ObjectStore.kindByKind('Secret')!;

export interface WorkloadOptions {
  /** Image reference → build-context folder (what `llmops flow build-context` wrote). */
  images: Map<string, string>;
  /** Extra environment of every pod process (e.g. PATH to node). */
  env?: Record<string, string>;
  /** How often readiness is probed. */
  probeMs?: number;
  /** Delay before a Deployment's status observes a new generation (a controller's lag). */
  observeLagMs?: number;
}

export interface PodInfo {
  name: string;
  namespace: string;
  deployment: string;
  hash: string;
  labels: Record<string, string>;
  /** containerPort → real loopback port. */
  ports: Map<number, number>;
  ready: boolean;
  child?: ChildProcess;
  log: string;
  restarts: number;
  waiting?: { reason: string; message: string };
  stopped: boolean;
}

interface Rollout {
  hash: string;
  startedAt: number;
  deadlineExceeded: boolean;
}

export class WorkloadController {
  readonly pods = new Map<string, PodInfo>();
  private rollouts = new Map<string, Rollout>();
  private timers = new Set<NodeJS.Timeout>();
  private eventCount = 0;
  private stopped = false;

  constructor(
    readonly store: ObjectStore,
    readonly options: WorkloadOptions,
  ) {
    store.listeners.push((c) => this.onChange(c));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const p of this.pods.values()) stopPod(p);
  }

  /** Ready pods whose labels match `selector`, in a stable order. */
  readyPods(namespace: string, selector: Record<string, string>): PodInfo[] {
    return [...this.pods.values()]
      .filter((p) => !p.stopped && p.ready && p.namespace === namespace)
      .filter((p) => Object.entries(selector).every(([k, v]) => p.labels[k] === v))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) f();
    }, ms);
    this.timers.add(t);
  }

  private onChange(c: StoreChange): void {
    if (c.kind !== DEPLOYMENTS) return;
    const ns = String(c.obj.metadata?.namespace);
    const name = String(c.obj.metadata?.name);
    const id = `${ns}/${name}`;
    if (c.type === 'DELETED') {
      for (const p of this.podsOf(ns, name)) this.removePod(p);
      this.rollouts.delete(id);
      return;
    }
    if (c.before && c.before.metadata?.generation === c.obj.metadata?.generation) return;
    // A new generation: observed after a short lag, as a controller would.
    this.later(this.options.observeLagMs ?? 50, () => this.reconcile(ns, name));
  }

  private podsOf(ns: string, deployment: string): PodInfo[] {
    return [...this.pods.values()].filter((p) => p.namespace === ns && p.deployment === deployment && !p.stopped);
  }

  private reconcile(ns: string, name: string): void {
    const d = this.store.get(DEPLOYMENTS, ns, name);
    if (!d) return;
    const spec = d.spec as { replicas?: number; template: KubeObject; progressDeadlineSeconds?: number };
    const hash = createHash('sha256').update(JSON.stringify(spec.template)).digest('hex').slice(0, 10);
    const id = `${ns}/${name}`;
    const replicas = spec.replicas ?? 1;
    let rollout = this.rollouts.get(id);
    if (!rollout || rollout.hash !== hash) {
      rollout = { hash, startedAt: Date.now(), deadlineExceeded: false };
      this.rollouts.set(id, rollout);
    }
    const current = this.podsOf(ns, name).filter((p) => p.hash === hash);
    for (let i = current.length; i < replicas; i++) this.startPod(d, hash, i);
    for (const p of current.slice(replicas)) this.removePod(p);
    this.updateStatus(ns, name);
  }

  /** Status from the pods; old pods stop once every new one is ready (surge, no downtime). */
  private updateStatus(ns: string, name: string): void {
    const d = this.store.get(DEPLOYMENTS, ns, name);
    const rollout = this.rollouts.get(`${ns}/${name}`);
    if (!d || !rollout) return;
    const spec = d.spec as { replicas?: number; progressDeadlineSeconds?: number };
    const replicas = spec.replicas ?? 1;
    const pods = this.podsOf(ns, name);
    const updated = pods.filter((p) => p.hash === rollout.hash);
    const updatedReady = updated.filter((p) => p.ready).length;
    if (updatedReady >= replicas) for (const p of pods.filter((x) => x.hash !== rollout.hash)) this.removePod(p);
    const all = this.podsOf(ns, name);
    const ready = all.filter((p) => p.ready).length;
    const complete = updatedReady >= replicas && all.length === replicas;
    const deadline = (spec.progressDeadlineSeconds ?? 600) * 1000;
    // As the controller does: no progress within the deadline marks the rollout failed; completing clears it.
    if (complete) rollout.deadlineExceeded = false;
    else if (Date.now() - rollout.startedAt > deadline) rollout.deadlineExceeded = true;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const previous =
      (
        d.status as
          { conditions?: { type: string; status: string; reason: string; lastTransitionTime: string }[] } | undefined
      )?.conditions ?? [];
    const condition = (type: string, status: string, reason: string, message: string) => {
      const before = previous.find((c) => c.type === type);
      return {
        type,
        status,
        reason,
        message,
        lastUpdateTime: now,
        lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
      };
    };
    const rs = `${name}-${rollout.hash}`;
    this.store.setStatus(DEPLOYMENTS, ns, name, {
      observedGeneration: d.metadata?.generation,
      replicas: all.length,
      updatedReplicas: updated.length,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(all.length - ready > 0 ? { unavailableReplicas: all.length - ready } : {}),
      conditions: [
        ready >= replicas
          ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
          : condition(
              'Available',
              'False',
              'MinimumReplicasUnavailable',
              'Deployment does not have minimum availability.',
            ),
        rollout.deadlineExceeded
          ? condition(
              'Progressing',
              'False',
              'ProgressDeadlineExceeded',
              `ReplicaSet "${rs}" has timed out progressing.`,
            )
          : complete
            ? condition(
                'Progressing',
                'True',
                'NewReplicaSetAvailable',
                `ReplicaSet "${rs}" has successfully progressed.`,
              )
            : condition('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${rs}" is progressing.`),
      ],
    });
    if (!complete && !rollout.deadlineExceeded) this.later(200, () => this.updateStatus(ns, name));
  }

  private startPod(d: KubeObject, hash: string, index: number): void {
    const ns = String(d.metadata?.namespace);
    const deployment = String(d.metadata?.name);
    const template = (d.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } })
      .template;
    const name = `${deployment}-${hash}-${index}${Math.random().toString(36).slice(2, 7)}`;
    const pod: PodInfo = {
      name,
      namespace: ns,
      deployment,
      hash,
      labels: { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash },
      ports: new Map(),
      ready: false,
      log: '',
      restarts: 0,
      stopped: false,
    };
    this.pods.set(`${ns}/${name}`, pod);
    this.writePod(pod, template.spec);
    void this.runContainer(pod, template.spec);
  }

  private async runContainer(pod: PodInfo, spec: PodSpec): Promise<void> {
    const c = spec.containers[0];
    const context = this.options.images.get(c.image ?? '');
    if (!context || !existsSync(path.join(context, 'start.sh'))) {
      pod.waiting = { reason: 'ErrImagePull', message: `failed to pull image "${c.image}": not found` };
      this.event(
        pod,
        'Failed',
        `Failed to pull image "${c.image}": rpc error: code = NotFound desc = failed to resolve reference "${c.image}": not found`,
      );
      this.writePod(pod, spec);
      this.later(300, () => {
        if (pod.stopped) return;
        pod.waiting = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` };
        this.event(pod, 'BackOff', `Back-off pulling image "${c.image}"`);
        this.writePod(pod, spec);
      });
      return;
    }
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        const secret = this.store.get(SECRETS, pod.namespace, ref.name);
        const data = (secret?.data ?? {}) as Record<string, string>;
        if (!secret || data[ref.key] === undefined) {
          pod.waiting = {
            reason: 'CreateContainerConfigError',
            message: secret
              ? `couldn't find key ${ref.key} in Secret ${pod.namespace}/${ref.name}`
              : `secret "${ref.name}" not found`,
          };
          this.event(pod, 'Failed', `Error: ${pod.waiting.message}`);
          this.writePod(pod, spec);
          return;
        }
        env[e.name] = Buffer.from(data[ref.key], 'base64').toString('utf8');
      }
    }
    for (const p of c.ports ?? [])
      if (!pod.ports.has(p.containerPort)) pod.ports.set(p.containerPort, await freePort());
    const containerPort = c.ports?.[0]?.containerPort ?? 8080;
    if (!pod.ports.has(containerPort)) pod.ports.set(containerPort, await freePort());
    const port = pod.ports.get(Number(env.PORT ?? containerPort)) ?? pod.ports.get(containerPort)!;
    // The image's own start line, with the image's folders at the build context's paths.
    const start = readFileSync(path.join(context, 'start.sh'), 'utf8')
      .replace(/(^|\s)\/app\//g, `$1${context}/app/`)
      .replace(/(^|\s)\/flow(\/|\s|$)/g, `$1${context}/flow$2`)
      .replace(/(^|\s)\/connections(\s|$)/g, `$1${context}/connections$2`)
      .replace('--host 0.0.0.0', '--host 127.0.0.1');
    const child = spawn('sh', ['-c', start], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...this.options.env, ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pod.child = child;
    pod.waiting = undefined;
    const onData = (b: Buffer) => {
      pod.log = (pod.log + b.toString()).slice(-20_000);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.writePod(pod, spec);
    child.on('exit', (code) => {
      if (pod.stopped || this.stopped) return;
      pod.ready = false;
      pod.restarts++;
      const lines = pod.log.trim().split('\n');
      const last = lines.find((l) => /Error/.test(l)) ?? lines.slice(-3).join('\n');
      pod.waiting = {
        reason: 'CrashLoopBackOff',
        message: `back-off restarting failed container (exit code ${code}): ${last}`,
      };
      this.event(pod, 'BackOff', `Back-off restarting failed container serve in pod ${pod.name}: exit code ${code}`);
      this.writePod(pod, spec);
      this.updateStatus(pod.namespace, pod.deployment);
      if (pod.restarts < 3) this.later(300 * pod.restarts, () => void this.runContainer(pod, spec));
    });
    this.probe(pod, spec, port, child);
  }

  private probe(pod: PodInfo, spec: PodSpec, port: number, child: ChildProcess): void {
    const probePath = spec.containers[0].readinessProbe?.httpGet?.path ?? '/health';
    let failures = 0;
    const tick = async () => {
      if (pod.stopped || this.stopped || pod.child !== child || child.exitCode !== null) return;
      let ok = false;
      let why = '';
      try {
        const r = await fetch(`http://127.0.0.1:${port}${probePath}`, { signal: AbortSignal.timeout(1000) });
        ok = r.status >= 200 && r.status < 400;
        why = `HTTP probe failed with statuscode: ${r.status}`;
        await r.body?.cancel();
      } catch (e) {
        why = `Get "http://127.0.0.1:${port}${probePath}": ${(e as Error).message}`;
      }
      if (ok !== pod.ready) {
        pod.ready = ok;
        this.writePod(pod, spec);
        this.updateStatus(pod.namespace, pod.deployment);
      }
      if (!ok && ++failures % 10 === 0) this.event(pod, 'Unhealthy', `Readiness probe failed: ${why}`);
      this.later(this.options.probeMs ?? 100, () => void tick());
    };
    void tick();
  }

  private removePod(p: PodInfo): void {
    stopPod(p);
    this.pods.delete(`${p.namespace}/${p.name}`);
    try {
      this.store.delete(PODS, p.namespace, p.name);
    } catch {
      // Already gone.
    }
  }

  private writePod(pod: PodInfo, spec: PodSpec): void {
    if (pod.stopped) return;
    const c = spec.containers[0];
    const status = {
      phase: pod.child && pod.child.exitCode === null ? 'Running' : 'Pending',
      podIP: '127.0.0.1',
      conditions: [{ type: 'Ready', status: pod.ready ? 'True' : 'False' }],
      containerStatuses: [
        {
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          ready: pod.ready,
          restartCount: pod.restarts,
          started: Boolean(pod.child && pod.child.exitCode === null),
          state: pod.waiting
            ? { waiting: pod.waiting }
            : pod.child
              ? { running: { startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } }
              : { waiting: { reason: 'ContainerCreating' } },
        },
      ],
    };
    const existing = this.store.get(PODS, pod.namespace, pod.name);
    if (!existing)
      this.store.put(
        PODS,
        pod.namespace,
        pod.name,
        {
          metadata: { name: pod.name, namespace: pod.namespace, labels: pod.labels },
          spec: spec as unknown as Record<string, unknown>,
        },
        'kube-controller-manager',
        true,
      );
    this.store.setStatus(PODS, pod.namespace, pod.name, status);
  }

  private event(pod: PodInfo, reason: string, message: string): void {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const name = `${pod.name}.${(++this.eventCount).toString(16)}`;
    this.store.put(
      EVENTS,
      pod.namespace,
      name,
      {
        metadata: { name, namespace: pod.namespace },
        involvedObject: { kind: 'Pod', name: pod.name, namespace: pod.namespace, apiVersion: 'v1' },
        reason,
        message,
        type: reason === 'Failed' || reason === 'BackOff' || reason === 'Unhealthy' ? 'Warning' : 'Normal',
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: 'kubelet' },
      },
      'kubelet',
      true,
    );
  }
}

interface PodSpec {
  containers: {
    name: string;
    image?: string;
    env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
    ports?: { containerPort: number; name?: string }[];
    readinessProbe?: { httpGet?: { path?: string } };
  }[];
}

function stopPod(p: PodInfo): void {
  p.stopped = true;
  p.ready = false;
  if (p.child && p.child.exitCode === null) p.child.kill('SIGTERM');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
