/**
 * Command jobs in the ARM emulator, run for real: a submitted job's code snapshot is downloaded from the
 * loopback datastore (Azurite), its command runs as a local `llmops run-shard` process (the bundled CLI) with
 * the job's environment variables and a managed identity served by the loopback Entra emulator, and its output
 * folder and user log are uploaded back where Azure ML puts them. Job states move over time (NotStarted,
 * Queued, Running, then Completed, Failed or Canceled); Jobs_Cancel stops the process. Infrastructure failures
 * are injected by killing the next jobs' processes before they finish (no output is uploaded, as when a node
 * is lost). Workspace connections (not in the vendored spec) answer listsecrets for the job's identity.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { armError, type ArmEmulator, type HandlerContext } from './arm-emulator.js';

export interface WorkspaceConnectionSeed {
  target: string;
  key: string;
  category?: string;
  metadata?: Record<string, string>;
}

interface RunningJob {
  name: string;
  resource: Record<string, unknown>;
  child?: ChildProcess;
  canceled: boolean;
  /** Killed on purpose: an injected infrastructure failure. */
  lost: boolean;
  done: Promise<void>;
}

export interface JobRunnerOptions {
  /** Azurite container of the default datastore (direct, unrecorded client with the account key). */
  container: ContainerClient;
  containerName: string;
  /** Extra variables of every job process (e.g. LLMOPS_PYTHON); never keys of connections. */
  env?: Record<string, string>;
  /** Milliseconds in each state before Running (default 100). */
  stateMs?: number;
  connections?: Record<string, WorkspaceConnectionSeed>;
}

const FINISHED = new Set(['Completed', 'Failed', 'Canceled']);

export class JobRunner {
  readonly jobs = new Map<string, RunningJob>();
  /** Job definitions as received (PUT bodies), for assertions. */
  readonly definitions: { name: string; body: unknown }[] = [];
  /** Connection names whose secrets were read, and by which token kind. */
  readonly secretReads: string[] = [];
  private failures = 0;
  private failAfterMs = 0;

  constructor(
    readonly emulator: ArmEmulator,
    readonly options: JobRunnerOptions,
  ) {
    emulator.handle('Jobs_CreateOrUpdate', (ctx) => this.create(ctx));
    emulator.handle('Jobs_Cancel', (ctx) => this.cancel(ctx));
    emulator.handleUnvalidated('POST', /\/connections\/[^/]+\/listsecrets$/i, (ctx) => this.listSecrets(ctx));
  }

  /** The next `times` jobs lose their machine `afterMs` after starting: killed, no output, status Failed. */
  injectInfrastructureFailure(times = 1, afterMs = 300): void {
    this.failures += times;
    this.failAfterMs = afterMs;
  }

  /** Names of jobs not in a finished state. */
  running(): string[] {
    return [...this.jobs.values()]
      .filter((j) => !FINISHED.has(String((j.resource.properties as { status: string }).status)))
      .map((j) => j.name);
  }

  async settle(): Promise<void> {
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }

  private create(ctx: HandlerContext) {
    const name = path.posix.basename(ctx.id);
    if (this.jobs.has(name.toLowerCase()))
      return armError(409, 'UserError', `Job ${name} already exists; a job's definition cannot change`);
    this.definitions.push({ name, body: ctx.body });
    const resource = ctx.emulator.store(ctx);
    const props = resource.properties as Record<string, unknown>;
    props.status = 'NotStarted';
    props.experimentName ??= 'Default';
    props.isArchived ??= false;
    const job: RunningJob = { name, resource, canceled: false, lost: false, done: Promise.resolve() };
    this.jobs.set(name.toLowerCase(), job);
    job.done = this.execute(job).catch((e: unknown) => {
      props.status = 'Failed';
      this.log(name, `emulator: ${e instanceof Error ? e.stack : String(e)}`);
    });
    return { status: 201, body: resource };
  }

  private cancel(ctx: HandlerContext) {
    const name = path.posix.basename(path.posix.dirname(ctx.id));
    const job = this.jobs.get(name.toLowerCase());
    if (!job) return armError(404, 'UserError', `Job ${name} not found`);
    const props = job.resource.properties as Record<string, unknown>;
    if (!FINISHED.has(String(props.status))) {
      job.canceled = true;
      props.status = 'CancelRequested';
      job.child?.kill('SIGTERM');
    }
    const ws = ctx.workspace;
    const operation = ctx.emulator.startOperation(() => undefined);
    return {
      status: 202,
      headers: {
        location: `${ctx.emulator.url}/subscriptions/${ws.subscriptionId}/providers/Microsoft.MachineLearningServices/locations/${ws.location ?? 'westeurope'}/mfeOperationResults/${operation.id}?api-version=2025-12-01`,
        'retry-after': '10',
        'retry-after-ms': '20',
      },
    };
  }

  private listSecrets(ctx: HandlerContext) {
    const name = path.posix.basename(path.posix.dirname(ctx.id));
    const seed = this.options.connections?.[name];
    if (!seed) return armError(404, 'ResourceNotFound', `Workspace connection ${name} not found`);
    this.secretReads.push(name);
    return {
      status: 200,
      body: {
        id: path.posix.dirname(ctx.id),
        name,
        type: 'Microsoft.MachineLearningServices/workspaces/connections',
        properties: {
          authType: 'ApiKey',
          category: seed.category ?? 'AzureOpenAI',
          target: seed.target,
          credentials: { key: seed.key },
          metadata: seed.metadata ?? {},
        },
      },
    };
  }

  private async execute(job: RunningJob): Promise<void> {
    const props = job.resource.properties as {
      status: string;
      codeId: string;
      command: string;
      environmentVariables?: Record<string, string>;
      outputs: { store: { uri: string } };
    };
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const stateMs = this.options.stateMs ?? 100;
    await wait(stateMs);
    if (job.canceled) return void (props.status = 'Canceled');
    props.status = 'Queued';
    await wait(stateMs);
    if (job.canceled) return void (props.status = 'Canceled');
    props.status = 'Running';

    const work = mkdtempSync(path.join(os.tmpdir(), `llmops-job-${job.name.slice(-20)}-`));
    try {
      const code = path.join(work, 'code');
      const out = path.join(work, 'out');
      mkdirSync(out, { recursive: true });
      const codeVersion = this.emulator.get(props.codeId);
      if (!codeVersion) throw new Error(`code ${props.codeId} not registered`);
      const codeUri = String((codeVersion.properties as { codeUri: string }).codeUri);
      const marker = `/${this.options.containerName}/`;
      const prefix = codeUri.slice(codeUri.indexOf(marker) + marker.length).replace(/\/?$/, '/');
      for await (const item of this.options.container.listBlobsFlat({ prefix })) {
        const file = path.join(code, ...item.name.slice(prefix.length).split('/'));
        mkdirSync(path.dirname(file), { recursive: true });
        await this.options.container.getBlobClient(item.name).downloadToFile(file);
      }
      const args = props.command
        .split(/\s+/)
        .filter(Boolean)
        .map((a) => (a === '${{outputs.store}}' ? out : a));
      if (args[0] !== 'llmops') throw new Error(`the emulator runs llmops commands only, got ${props.command}`);
      const entra = this.emulator.entra;
      const lose = this.failures > 0;
      if (lose) this.failures--;
      let log = '';
      const status = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, [path.resolve('dist/cli.js'), ...args.slice(1)], {
          cwd: code,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? '',
            CI: 'true',
            ...this.options.env,
            ...props.environmentVariables,
            NODE_EXTRA_CA_CERTS: this.emulator.cert.certFile,
            // The compute's managed identity, as Azure ML exposes it to a job.
            IDENTITY_ENDPOINT: `${entra.url}/msi/token`,
            IDENTITY_HEADER: entra.msiHeader,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        job.child = child;
        child.stdout.on('data', (d: Buffer) => (log += d.toString()));
        child.stderr.on('data', (d: Buffer) => (log += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve(code));
        if (lose)
          setTimeout(() => {
            job.lost = true;
            child.kill('SIGKILL');
          }, this.failAfterMs);
      });
      job.child = undefined;
      await this.upload(`ExperimentRun/dcid.${job.name}/user_logs/std_log.txt`, log, work);
      if (job.canceled) return void (props.status = 'Canceled');
      if (job.lost) {
        await this.upload(
          `ExperimentRun/dcid.${job.name}/user_logs/std_log.txt`,
          `${log}\nemulator: the node running this job was lost\n`,
          work,
        );
        return void (props.status = 'Failed');
      }
      const outPath = /^azureml:\/\/datastores\/[^/]+\/paths\/(.*)$/.exec(props.outputs.store.uri)?.[1] ?? '';
      for (const file of walk(out))
        await this.options.container
          .getBlockBlobClient(`${outPath.replace(/\/?$/, '/')}${path.relative(out, file).split(path.sep).join('/')}`)
          .uploadFile(file);
      props.status = status === 0 ? 'Completed' : 'Failed';
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  private async upload(blob: string, text: string, work: string): Promise<void> {
    const file = path.join(work, 'upload.txt');
    writeFileSync(file, text);
    await this.options.container.getBlockBlobClient(blob).uploadFile(file);
  }

  private log(name: string, text: string): void {
    process.stderr.write(`[job ${name}] ${text}\n`);
  }
}

function walk(dir: string): string[] {
  const files: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) files.push(...walk(full));
    else if (e.isFile()) files.push(full);
  }
  return files;
}
