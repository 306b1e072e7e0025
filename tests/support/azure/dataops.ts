/**
 * Scheduled data pipelines in the ARM emulator: component versions and schedules behave as in Azure ML
 * (component versions immutable, their code and environment must exist; a schedule's pipeline job must name
 * existing component versions; Schedules_CreateOrUpdate is long-running), on top of the emulator's spec
 * validation of every request. `trigger()` does what the cron trigger does in Azure: it creates the schedule's
 * pipeline job and runs its step for real — the code snapshot downloaded from the loopback datastore, the
 * step's command run as a local `llmops` process with the step's environment variables and the compute's
 * managed identity served by the loopback Entra emulator.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { armError, type ArmEmulator, type HandlerContext } from './arm-emulator.js';

export interface DataopsOptions {
  /** Container of the default datastore (a direct, unrecorded client with the account key). */
  container: ContainerClient;
  containerName: string;
  /** Extra variables of the step's process (e.g. LLMOPS_PYTHON). */
  env?: Record<string, string>;
}

export interface TriggeredRun {
  job: string;
  status: number | null;
  log: string;
  command: string;
}

interface PipelineStep {
  type: string;
  componentId: string;
  environment_variables?: Record<string, string>;
}

export class DataopsSchedules {
  /** Schedule bodies as received, for assertions. */
  readonly received: { name: string; body: unknown }[] = [];
  private runs = 0;

  constructor(
    readonly emulator: ArmEmulator,
    readonly options: DataopsOptions,
  ) {
    emulator.handle('ComponentVersions_CreateOrUpdate', (ctx) => this.component(ctx));
    emulator.handle('Schedules_CreateOrUpdate', (ctx) => this.schedule(ctx));
  }

  private component(ctx: HandlerContext) {
    const existing = this.emulator.get(ctx.id);
    if (existing) return armError(409, 'UserError', `Component version ${path.posix.basename(ctx.id)} already exists`);
    const spec = ((ctx.body as { properties: { componentSpec?: Record<string, unknown> } }).properties.componentSpec ??
      {}) as Record<string, string>;
    for (const key of ['code', 'environment'])
      if (!spec[key] || !this.emulator.get(String(spec[key]).replace(/^azureml:/, '')))
        return armError(400, 'UserError', `componentSpec.${key} ${spec[key]} does not exist in the workspace`);
    const resource = this.emulator.store(ctx);
    Object.assign(resource.properties as object, { provisioningState: 'Succeeded', isArchived: false });
    return { status: 201, body: resource };
  }

  private schedule(ctx: HandlerContext) {
    const body = ctx.body as { properties: { action: { jobDefinition?: { jobs?: Record<string, PipelineStep> } } } };
    const jobs = body.properties.action.jobDefinition?.jobs ?? {};
    for (const [name, step] of Object.entries(jobs))
      if (!this.emulator.get(step.componentId))
        return armError(400, 'UserError', `pipeline step ${name}: component ${step.componentId} does not exist`);
    this.received.push({ name: path.posix.basename(ctx.id), body: ctx.body });
    const existing = this.emulator.get(ctx.id);
    const resource = this.emulator.store(ctx, existing);
    const props = resource.properties as Record<string, unknown>;
    props.provisioningState = existing ? 'Updating' : 'Creating';
    const operation = this.emulator.startOperation((failed) => {
      props.provisioningState = failed ? 'Failed' : 'Succeeded';
    });
    return {
      status: 201,
      body: resource,
      headers: {
        'azure-asyncoperation': this.emulator.operationUrl(ctx.workspace, 'status', operation.id),
        'x-ms-async-operation-timeout': 'PT1H',
      },
    };
  }

  /** The cron fires: the schedule's pipeline job is created and its one step runs to its end. */
  async trigger(scheduleName: string): Promise<TriggeredRun> {
    const schedule = this.emulator.get(`${this.emulator.workspaceId()}/schedules/${scheduleName}`);
    if (!schedule) throw new Error(`schedule ${scheduleName} not found`);
    const jobs = (schedule.properties as { action: { jobDefinition: { jobs: Record<string, PipelineStep> } } }).action
      .jobDefinition.jobs;
    const [step] = Object.values(jobs);
    const component = this.emulator.get(step.componentId)!;
    const spec = (component.properties as { componentSpec: Record<string, string> }).componentSpec;
    const code = this.emulator.get(spec.code.replace(/^azureml:/, ''))!;
    const codeUri = String((code.properties as { codeUri: string }).codeUri);
    const marker = `/${this.options.containerName}/`;
    const prefix = codeUri.slice(codeUri.indexOf(marker) + marker.length).replace(/\/?$/, '/');
    const job = `${scheduleName}-run-${++this.runs}`;
    const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-dataops-job-'));
    try {
      for await (const item of this.options.container.listBlobsFlat({ prefix })) {
        const file = path.join(work, ...item.name.slice(prefix.length).split('/'));
        mkdirSync(path.dirname(file), { recursive: true });
        await this.options.container.getBlobClient(item.name).downloadToFile(file);
      }
      const args = spec.command.split(/\s+/).filter(Boolean);
      if (args[0] !== 'llmops') throw new Error(`the emulator runs llmops commands only, got ${spec.command}`);
      const entra = this.emulator.entra;
      let log = '';
      const status = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, [path.resolve('dist/cli.js'), ...args.slice(1)], {
          cwd: work,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? '',
            CI: 'true',
            ...this.options.env,
            ...step.environment_variables,
            NODE_EXTRA_CA_CERTS: this.emulator.cert.certFile,
            IDENTITY_ENDPOINT: `${entra.url}/msi/token`,
            IDENTITY_HEADER: entra.msiHeader,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout.on('data', (d: Buffer) => (log += d.toString()));
        child.stderr.on('data', (d: Buffer) => (log += d.toString()));
        child.on('error', reject);
        child.on('close', (c) => resolve(c));
      });
      return { job, status, log, command: spec.command };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}
