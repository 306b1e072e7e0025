/**
 * Azure Container Registry build tasks for the ARM emulator: `listBuildSourceUploadUrl` (a SAS-like upload
 * URL on this emulator's own HTTPS blob endpoint), `scheduleRun` with a DockerBuildRequest, `runs` (get, list
 * filtered on OutputImageManifests and Status) and `listLogSasUrl`. A run really "builds": the uploaded tar.gz
 * is unpacked with the system's `tar` (an independent reader of the archive we write), each `COPY <src>` of the
 * Dockerfile must exist in it, and on success the image reference is recorded → the unpacked folder in the
 * shared `images` map (what the App Service / Container Apps / Kubernetes emulators run). Runs move Queued →
 * Running → Succeeded (or Failed, with a log whose tail says why) over successive reads.
 *
 * Requests and responses are validated by oav against the vendored build/runs API (ACR_SPEC): start the ARM
 * emulator with it in `specs`.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { armError, type ArmEmulator, type HandlerContext, type HandlerResult } from './arm-emulator.js';

export const ACR_SPEC =
  'containerregistry/resource-manager/Microsoft.ContainerRegistry/stable/2019-04-01/containerregistry_build.json';

export interface AcrRun {
  runId: string;
  registry: string;
  status: 'Queued' | 'Running' | 'Succeeded' | 'Failed';
  imageNames: string[];
  sourceLocation: string;
  log: string;
  reads: number;
  createTime: string;
  finishTime?: string;
  error?: string;
}

export class AcrEmulator {
  readonly runs: AcrRun[] = [];
  readonly uploads = new Map<string, Buffer>();
  /** A build fails with this line in its log (once), e.g. a pip install of the flow's requirements failing. */
  failNextBuild?: string;
  private server!: https.Server;
  private url = '';
  private dirs: string[] = [];

  private constructor(
    readonly arm: ArmEmulator,
    readonly images: Map<string, string>,
  ) {}

  static async attach(arm: ArmEmulator, images: Map<string, string>): Promise<AcrEmulator> {
    const a = new AcrEmulator(arm, images);
    a.server = https.createServer({ cert: arm.cert.cert, key: arm.cert.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', a.url);
        const upload = /^\/upload\/(.+)$/.exec(u.pathname);
        if (
          upload &&
          req.method === 'PUT' &&
          u.searchParams.get('sig') &&
          req.headers['x-ms-blob-type'] === 'BlockBlob'
        ) {
          a.uploads.set(upload[1], Buffer.concat(chunks));
          res.writeHead(201).end();
          return;
        }
        const log = /^\/logs\/(.+)$/.exec(u.pathname);
        const run = log && a.runs.find((r) => r.runId === log[1]);
        if (run && req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end(run.log);
          return;
        }
        res
          .writeHead(403, { 'content-type': 'application/xml' })
          .end('<Error><Code>AuthenticationFailed</Code></Error>');
      });
    });
    await new Promise<void>((r) => a.server.listen(0, '127.0.0.1', r));
    a.url = `https://127.0.0.1:${(a.server.address() as AddressInfo).port}`;
    a.register();
    return a;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }

  loginServer(registry: string): string {
    return `${registry.toLowerCase()}.azurecr.io`;
  }

  private register(): void {
    const base = /\/providers\/Microsoft\.ContainerRegistry\/registries\/([^/]+)/i;
    const registryOf = (ctx: HandlerContext) => base.exec(ctx.id)![1];
    // The spec marks RunRequest.type readOnly, yet it is the discriminator DockerBuildRequest requires: every
    // client (az acr build, the SDKs) sends it, and the live validator would refuse them all.
    this.arm.tolerate((op, issue) => op === 'Registries_ScheduleRun' && /ReadOnly property "type"/.test(issue.message));
    this.arm.handle('Registries_GetBuildSourceUploadUrl', () => {
      const id = `${randomUUID()}.tar.gz`;
      return {
        status: 200,
        body: {
          uploadUrl: `${this.url}/upload/${id}?sv=2019-02-02&sr=b&sp=cw&sig=emulated`,
          relativePath: `source/${id}`,
        },
      };
    });
    this.arm.handle('Registries_ScheduleRun', (ctx) => this.schedule(ctx, registryOf(ctx)));
    this.arm.handle('Runs_List', (ctx) => {
      const registry = registryOf(ctx);
      const filter = ctx.query.$filter ?? '';
      const manifest = /OutputImageManifests eq '([^']+)'/i.exec(filter)?.[1];
      const status = /Status eq '([^']+)'/i.exec(filter)?.[1];
      let value = this.runs.filter(
        (r) =>
          r.registry === registry && (!manifest || r.imageNames.includes(manifest)) && (!status || r.status === status),
      );
      if (ctx.query.$top) value = value.slice(0, Number(ctx.query.$top));
      return { status: 200, body: { value: value.map((r) => this.resource(ctx, r)) } };
    });
    this.arm.handle('Runs_Get', (ctx) => {
      const run = this.runs.find((r) => r.runId === path.posix.basename(ctx.id));
      if (!run) return notFound(ctx.id);
      this.advance(run);
      return { status: 200, body: this.resource(ctx, run) };
    });
    this.arm.handle('Runs_GetLogSasUrl', (ctx) => {
      const runId = path.posix.basename(path.posix.dirname(ctx.id));
      return { status: 200, body: { logLink: `${this.url}/logs/${runId}?sig=emulated` } };
    });
  }

  private schedule(ctx: HandlerContext, registry: string): HandlerResult {
    const body = ctx.body as {
      type?: string;
      imageNames?: string[];
      sourceLocation?: string;
      dockerFilePath?: string;
      platform?: { os?: string };
      isPushEnabled?: boolean;
    };
    if (body.type !== 'DockerBuildRequest' || !body.dockerFilePath || !body.platform?.os)
      return armError(400, 'InvalidRequest', 'expected a DockerBuildRequest with dockerFilePath and platform.os');
    const upload = /^source\/(.+)$/.exec(body.sourceLocation ?? '')?.[1];
    if (!upload || !this.uploads.has(upload))
      return armError(400, 'InvalidSourceLocation', `source ${body.sourceLocation} was not uploaded`);
    const run: AcrRun = {
      runId: `ca${this.runs.length + 1}`,
      registry,
      status: 'Queued',
      imageNames: body.imageNames ?? [],
      sourceLocation: upload,
      log: '',
      reads: 0,
      createTime: new Date().toISOString(),
    };
    this.runs.push(run);
    return { status: 200, body: this.resource(ctx, run) };
  }

  /** Each read moves the run on: Queued → Running (unpack, check the Dockerfile's COPY sources) → done. */
  private advance(run: AcrRun): void {
    if (run.status === 'Succeeded' || run.status === 'Failed') return;
    run.reads++;
    // The first read still finds it waiting for an agent.
    if (run.status === 'Queued' && run.reads < 2) return;
    if (run.status === 'Queued') {
      run.status = 'Running';
      run.log += `Queued a build with ID: ${run.runId}\nWaiting for an agent...\n`;
      return;
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-acr-'));
    this.dirs.push(dir);
    const archive = path.join(dir, '..', `${path.basename(dir)}.tar.gz`);
    writeFileSync(archive, this.uploads.get(run.sourceLocation)!);
    const fail = (why: string) => {
      run.status = 'Failed';
      run.error = why;
      run.log += `${why}\nRun ID: ${run.runId} failed after ${run.reads}s. Error: failed during run, err: exit status 1\n`;
      run.finishTime = new Date().toISOString();
    };
    try {
      execFileSync('tar', ['-xzf', archive, '-C', dir], { stdio: 'pipe' });
    } catch (e) {
      return fail(`Extracting the source failed: ${(e as { stderr?: Buffer }).stderr?.toString() ?? String(e)}`);
    } finally {
      rmSync(archive, { force: true });
    }
    run.log += `Step 1/N : FROM node:24-bookworm-slim\n`;
    const dockerfile = path.join(dir, 'Dockerfile');
    if (!existsSync(dockerfile))
      return fail(
        'unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat Dockerfile: no such file or directory',
      );
    for (const line of readFileSync(dockerfile, 'utf8').split('\n')) {
      const copy = /^COPY\s+(\S+)\s+\S+/.exec(line.trim());
      if (!copy) continue;
      run.log += `${line.trim()}\n`;
      if (!existsSync(path.join(dir, copy[1])))
        return fail(
          `COPY failed: file not found in build context or excluded by .dockerignore: stat ${copy[1]}: file does not exist`,
        );
    }
    if (this.failNextBuild) {
      const why = this.failNextBuild;
      this.failNextBuild = undefined;
      return fail(why);
    }
    for (const name of run.imageNames) {
      this.images.set(`${this.loginServer(run.registry)}/${name}`, dir);
      run.log += `Successfully tagged ${this.loginServer(run.registry)}/${name}\n`;
    }
    run.status = 'Succeeded';
    run.finishTime = new Date().toISOString();
    run.log += `Run ID: ${run.runId} was successful after ${run.reads}s\n`;
  }

  private resource(ctx: HandlerContext, run: AcrRun): Record<string, unknown> {
    const registryId = /^(.*\/registries\/[^/]+)/i.exec(ctx.id)![1];
    return {
      id: `${registryId}/runs/${run.runId}`,
      name: run.runId,
      type: 'Microsoft.ContainerRegistry/registries/runs',
      properties: {
        runId: run.runId,
        status: run.status,
        runType: 'QuickRun',
        createTime: run.createTime,
        ...(run.finishTime ? { finishTime: run.finishTime } : {}),
        ...(run.error ? { runErrorMessage: run.error } : {}),
        outputImages:
          run.status === 'Succeeded'
            ? run.imageNames.map((n) => {
                const [repository, tag] = n.split(':');
                return { registry: this.loginServer(run.registry), repository, tag, digest: `sha256:${run.runId}` };
              })
            : [],
        platform: { os: 'Linux', architecture: 'amd64' },
        provisioningState: 'Succeeded',
      },
    };
  }
}

function notFound(id: string): HandlerResult {
  return armError(404, 'ResourceNotFound', `The Resource '${id}' was not found.`);
}
