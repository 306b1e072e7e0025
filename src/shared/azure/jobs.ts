/**
 * Azure ML command jobs over the ARM client: the code snapshot (code version), the environment of our CLI
 * image (environment version), job submission, reading a job's status, canceling it. Plain REST calls with
 * the ARM envelope at the vendored spec's api-version (Jobs_CreateOrUpdate, Jobs_Get, Jobs_Cancel).
 * @module
 */
import type { MlWorkspace } from './workspace.js';

/** Job states of the 2025-12-01 spec that do not change any more. */
export const FINISHED_JOB_STATES = new Set(['Completed', 'Failed', 'Canceled', 'NotResponding']);

export interface CommandJobSpec {
  displayName: string;
  experimentName: string;
  codeId: string;
  command: string;
  environmentId: string;
  /** Names and settings only: never a key (connections resolve inside the job with its identity). */
  environmentVariables: Record<string, string>;
  /** ARM id of a compute cluster or Kubernetes compute; undefined: serverless. */
  computeId?: string;
  instanceType?: string;
  /** Datastore URI of the folder the job writes its store into. */
  outputUri: string;
  tags: Record<string, string>;
}

export interface JobResource {
  id?: string;
  name: string;
  properties: {
    jobType: string;
    status?: string;
    displayName?: string;
    command?: string;
    environmentVariables?: Record<string, string>;
    outputs?: Record<string, { jobOutputType: string; uri?: string }>;
    tags?: Record<string, string>;
  };
}

const enc = encodeURIComponent;

export class MlJobs {
  constructor(readonly ws: MlWorkspace) {}

  private where(): string {
    return `in workspace ${this.ws.settings.workspace}`;
  }

  /** Registers the uploaded snapshot folder as a code version (versions are immutable: an existing one is kept). */
  async codeVersion(name: string, version: string, codeUri: string): Promise<string> {
    const id = `${this.ws.id}/codes/${enc(name)}/versions/${enc(version)}`;
    const existing = await this.ws.client.get(id, {
      what: `read code ${name}:${version} ${this.where()}`,
      accept: [404],
    });
    if (existing.status === 404)
      await this.ws.client.request('PUT', id, {
        what: `register code ${name}:${version} ${this.where()}`,
        body: { properties: { codeUri, isAnonymous: false, tags: { source: 'llmops' } } },
      });
    return id;
  }

  /** The environment version running `image` (our CLI image); one version per image reference. */
  async environmentVersion(name: string, version: string, image: string): Promise<string> {
    const id = `${this.ws.id}/environments/${enc(name)}/versions/${enc(version)}`;
    const existing = await this.ws.client.get(id, {
      what: `read environment ${name}:${version} ${this.where()}`,
      accept: [404],
    });
    if (existing.status === 404)
      await this.ws.client.request('PUT', id, {
        what: `register environment ${name}:${version} (image ${image}) ${this.where()}`,
        body: { properties: { image, osType: 'Linux', description: 'llmops CLI image', tags: { source: 'llmops' } } },
      });
    return id;
  }

  /** Submits a command job named `name` (the job's ARM name is its id in the workspace). */
  async submit(name: string, spec: CommandJobSpec): Promise<JobResource> {
    const body = {
      properties: {
        jobType: 'Command',
        displayName: spec.displayName,
        experimentName: spec.experimentName,
        codeId: spec.codeId,
        command: spec.command,
        environmentId: spec.environmentId,
        environmentVariables: spec.environmentVariables,
        // The job's own identity (the compute's managed identity) reads connections and data in the workspace.
        identity: { identityType: 'Managed' },
        ...(spec.computeId ? { computeId: spec.computeId } : {}),
        resources: { instanceCount: 1, ...(spec.instanceType ? { instanceType: spec.instanceType } : {}) },
        outputs: { store: { jobOutputType: 'uri_folder', uri: spec.outputUri, mode: 'Upload' } },
        tags: spec.tags,
      },
    };
    const r = await this.ws.client.request<JobResource>('PUT', `${this.ws.id}/jobs/${enc(name)}`, {
      what: `submit job ${name} ${this.where()}`,
      body,
    });
    return r.body;
  }

  async get(name: string): Promise<JobResource> {
    const r = await this.ws.client.get<JobResource>(`${this.ws.id}/jobs/${enc(name)}`, {
      what: `read job ${name} ${this.where()}`,
    });
    return r.body;
  }

  /** Cancels a job and waits until the service accepted it (a long-running POST). */
  async cancel(name: string): Promise<void> {
    await this.ws.client.lro('POST', `${this.ws.id}/jobs/${enc(name)}/cancel`, {
      what: `cancel job ${name} ${this.where()}`,
    });
  }
}
