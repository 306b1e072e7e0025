/**
 * The Azure side of an end-to-end `deploy --target azure-managed` in a process of its own: Azurite as the
 * datastore, the ARM emulator (spec-validated) with online endpoints whose deployments really serve the
 * registered build context. A packaged step run by MockTestRunner blocks the test's event loop (spawnSync),
 * so these servers cannot live in the test process. The child is this folder's TypeScript bundled on the fly
 * with esbuild (the repository has no TypeScript runner); it prints one JSON line with what a step needs, and
 * answers `GET /state` on a loopback control port with what tests check.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface DeployEmulatorsOptions {
  /** Workspace connections the deployments' `${{azureml://connections/...}}` references read. */
  connections: Record<string, Record<string, string>>;
  /** The CLI an image-based deployment runs (dist/cli.js). */
  cli: string;
}

/** What the child prints when it is ready. */
export interface DeployEmulatorsReady {
  /** Environment of a process that signs in to the emulator (certificate, service principal). */
  env: Record<string, string>;
  /** The `azure:` block of an experiment.yaml pointing at the emulator. */
  azure: Record<string, string>;
  scoringUrl: string;
  control: string;
}

export interface EndpointsState {
  endpoints: Record<string, { traffic: Record<string, number>; deployments: Record<string, string | undefined> }>;
  scored: { endpoint: string; deployment: string; status: number; header: boolean }[];
  servedFrom: string[];
  creations: string[];
  keys: string[];
  specViolations: unknown[];
}

export class DeployEmulators {
  private constructor(
    private readonly child: ChildProcess,
    readonly ready: DeployEmulatorsReady,
  ) {}

  static async start(options: DeployEmulatorsOptions): Promise<DeployEmulators> {
    const { build } = await import('esbuild');
    const outfile = path.resolve('dist/.packaging/deploy-emulators.mjs');
    await build({
      entryPoints: [path.resolve('tests/support/azure/deploy-emulators-main.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      logLevel: 'warning',
    });
    const child = spawn(process.execPath, [outfile, JSON.stringify(options)], {
      env: { ...process.env, LLMOPS_AZURE_SPECS: path.resolve('specs/azure-rest-api-specs') },
      // stdin stays open while this process lives: the child cleans up when it closes (a crashed test too).
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const ready = await new Promise<DeployEmulatorsReady>((resolve, reject) => {
      let text = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (d: string) => {
        text += d;
        const line = text.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line) as DeployEmulatorsReady);
      });
      child.once('exit', (code) => reject(new Error(`the deploy emulators exited with ${code}`)));
    });
    return new DeployEmulators(child, ready);
  }

  async state(): Promise<EndpointsState> {
    return (await (await fetch(`${this.ready.control}/state`)).json()) as EndpointsState;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}
