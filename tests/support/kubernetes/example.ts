/**
 * The web_classification example ready for `deploy --target kubernetes` in end-to-end tests: copied to a
 * temporary folder with a `kubernetes` entry in its deployment_config.json, its serving image built the way a
 * user builds it (`llmops flow build-context`, the registry reference mapped to that folder), and an emulated
 * cluster with the platform's Gateway. The model server's URL is baked into the image's connection (not secret);
 * the key reaches the pods through the Secret the deploy creates from the step's environment.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../azure/cli.js';
import { KubeCluster } from './cluster.js';

export const EXAMPLE_IMAGE = 'registry.example/web-classification:e2e';

export interface KubeExample {
  cluster: KubeCluster;
  /** experiment.yaml of the copy. */
  config: string;
  kubeconfig: string;
  stop(): Promise<void>;
}

export async function startKubeExample(modelUrl: string, apiKey: string): Promise<KubeExample> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-kube-example-'));
  cpSync('examples/web_classification', dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  const file = path.join(dir, 'configs', 'deployment_config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  config.kubernetes = [
    {
      ENV_NAME: 'dev',
      NAME: 'web-classification',
      NAMESPACE: 'flows',
      GATEWAY_NAME: 'public',
      GATEWAY_NAMESPACE: 'infra',
      IMAGE: EXAMPLE_IMAGE,
      ROLLOUT_TIMEOUT_SECONDS: 120,
    },
  ];
  writeFileSync(file, JSON.stringify(config, null, 2) + '\n');
  const built = await runCli(
    ['flow', 'build-context', '--config', 'experiment.yaml', '--env', 'dev', '--output', 'ctx'],
    {
      cwd: dir,
      env: { AOAI_API_BASE: modelUrl, AOAI_API_KEY: apiKey },
    },
  );
  if (built.status !== 0) throw new Error(`flow build-context failed: ${built.stderr}`);
  const cluster = await KubeCluster.start({
    images: new Map([[EXAMPLE_IMAGE, path.join(dir, 'ctx')]]),
    env: { PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` },
  });
  cluster.createGateway('infra', 'public');
  return {
    cluster,
    config: path.join(dir, 'experiment.yaml'),
    kubeconfig: cluster.kubeconfig,
    async stop() {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface KubeExampleProcess {
  config: string;
  kubeconfig: string;
  gatewayUrl: string;
  stop(): Promise<void>;
}

/** The same example cluster in a child process (example-process.ts): for runners that block this one. */
export async function startKubeExampleProcess(modelUrl: string, apiKey: string): Promise<KubeExampleProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.resolve('tests/support/kubernetes/example-process.ts'), modelUrl, apiKey],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.on('exit', (code) => reject(new Error(`the example cluster exited with ${code} before it was ready`)));
  });
  const described = JSON.parse(line) as Omit<KubeExampleProcess, 'stop'>;
  return {
    ...described,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
