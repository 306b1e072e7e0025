/**
 * A whole emulated cluster for tests: the API server (HTTPS, kubeconfig), the Deployment controller running
 * pods as real `flow serve` processes, and a Gateway listener routing real requests by the stored HTTPRoutes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeApiServer } from './api-server.js';
import { GatewayListener } from './gateway.js';
import { ObjectStore, type KubeObject } from './store.js';
import { WorkloadController, type WorkloadOptions } from './workloads.js';

export class KubeCluster {
  private constructor(
    readonly api: KubeApiServer,
    readonly workloads: WorkloadController,
    readonly gateway: GatewayListener,
    readonly dir: string,
  ) {}

  static async start(o: WorkloadOptions): Promise<KubeCluster> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-kube-'));
    const api = await KubeApiServer.start(dir);
    const workloads = new WorkloadController(api.store, o);
    const gateway = new GatewayListener(api.store, workloads);
    await gateway.start();
    return new KubeCluster(api, workloads, gateway, dir);
  }

  get kubeconfig(): string {
    return this.api.kubeconfigFile;
  }

  get store(): ObjectStore {
    return this.api.store;
  }

  /** The platform team's Gateway: one HTTP listener on the emulator's gateway port, its address in status. */
  createGateway(namespace: string, name: string): void {
    const kind = ObjectStore.kindByKind('Gateway')!;
    this.store.put(
      kind,
      namespace,
      name,
      {
        metadata: { name, namespace },
        spec: {
          gatewayClassName: 'emulated',
          listeners: [
            { name: 'http', port: this.gateway.port, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
          ],
        },
      },
      'platform-team',
      true,
    );
    this.store.setStatus(kind, namespace, name, {
      addresses: [{ type: 'IPAddress', value: '127.0.0.1' }],
      conditions: [
        {
          type: 'Programmed',
          status: 'True',
          reason: 'Programmed',
          message: 'listening',
          lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      ],
    });
  }

  get(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.store.get(ObjectStore.kindByKind(kind)!, namespace, name);
  }

  list(kind: string, namespace?: string): KubeObject[] {
    return this.store.list(ObjectStore.kindByKind(kind)!, namespace);
  }

  /** Someone else edits an object (kubectl edit): a merge patch under another field manager. */
  edit(kind: string, namespace: string, name: string, patch: KubeObject, manager = 'kubectl-edit'): KubeObject {
    return this.store.mergePatch(ObjectStore.kindByKind(kind)!, namespace, name, patch, manager);
  }

  async stop(): Promise<void> {
    this.workloads.stop();
    await this.gateway.stop();
    await this.api.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
