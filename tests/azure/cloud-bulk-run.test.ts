/**
 * bulk-run with target azure, through the CLI, against the ARM emulator whose command jobs run for real as
 * local `llmops run-shard` processes over Azurite: register-data → bulk-run on azure → evaluate → report gives
 * the records of the same lifecycle run locally, line for line; an infrastructure failure of one shard is
 * retried and merged once; SIGTERM cancels every job; no job definition the emulator received holds a key;
 * every recorded request is valid against the spec.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { runCli } from '../support/azure/cli.js';
import { JobRunner } from '../support/azure/jobs.js';
import { KeyVaultEmulator } from '../support/azure/key-vault.js';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const CONTAINER = 'azureml-blobstore-5b1e0c2a-7d3f-4a61-9e82-1c4d6f8a0b3e';
const SECRET = baseEnv.AOAI_API_KEY;
const LINES = 7;

let azurite: Azurite;
let emulator: ArmEmulator;
let runner: JobRunner;
let vault: KeyVaultEmulator;

beforeAll(async () => {
  azurite = await Azurite.start();
  const blob = await import('@azure/storage-blob');
  const service = new blob.BlobServiceClient(
    azurite.directUrl,
    new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
  );
  const container = service.getContainerClient(CONTAINER);
  await container.create();
  emulator = await ArmEmulator.start({
    datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: CONTAINER },
  });
  runner = new JobRunner(emulator, {
    container,
    containerName: CONTAINER,
    connections: { 'aoai-workspace': { target: baseEnv.AOAI_API_BASE, key: SECRET } },
  });
  vault = await new KeyVaultEmulator(emulator, { 'aoai-key': SECRET, 'aoai-base': baseEnv.AOAI_API_BASE }).start();
}, 60_000);

afterAll(async () => {
  await runner?.settle();
  await vault?.stop();
  await emulator?.stop();
  await azurite?.stop();
});

const data = Array.from({ length: LINES }, (_, i) => JSON.stringify({ question: `q${i}`, answer: `q${i}` })).join('\n');
const evalData = Array.from({ length: LINES }, (_, i) => JSON.stringify({ answer: `q${i}` })).join('\n');

/** The base use case reading `source`, with the azure block (cloud settings included). */
function useCase(source = 'data/train.jsonl', extra: Record<string, unknown> = {}) {
  const azure: Record<string, unknown> = {
    ...emulator.azureSettings(),
    blob_endpoint: azurite.url,
    image: 'ghcr.io/example/llmops-cli:0.1.0',
    lines_per_shard: 2,
    connections: { aoai: 'aoai-workspace' },
    ...extra,
  };
  if (extra.connections === null) delete azure.connections;
  return makeUseCase({
    'experiment.yaml': `${baseExperiment.replace('source: data/train.jsonl', `source: ${source}`)}${stringify({ azure })}`,
    'data/train.jsonl': `${data}\n`,
    'data/eval.jsonl': `${evalData}\n`,
  });
}

/** The submitting machine: signed in as the test principal, and without the connection's key. */
const cloudEnv = () => ({ ...emulator.childEnv(), LLMOPS_AZURE_JOB_POLL_MS: '100' });

function cli(dir: string, env: Record<string, string>, ...args: string[]) {
  return runCli(args, { cwd: dir, env });
}

interface Line {
  line_number: number;
  status: string;
  outputs?: Record<string, unknown>;
}

function records(dir: string): Line[] {
  const runs = JSON.parse(readFileSync(path.join(dir, '.llmops/experiments/demo/runs.json'), 'utf8')) as {
    runs: { runId: string }[];
  };
  expect(runs.runs).toHaveLength(1);
  return readFileSync(path.join(dir, '.llmops/runs', runs.runs[0].runId, 'outputs.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line)
    .map(({ line_number, status, outputs }) => ({ line_number, status, outputs }))
    .sort((a, b) => a.line_number - b.line_number);
}

function runRecord(dir: string): { status: string; counts: { total: number }; shards?: unknown[]; data: string[] } {
  const runs = JSON.parse(readFileSync(path.join(dir, '.llmops/experiments/demo/runs.json'), 'utf8')) as {
    runs: { runId: string }[];
  };
  return JSON.parse(readFileSync(path.join(dir, '.llmops/runs', runs.runs[0].runId, 'run.json'), 'utf8'));
}

function metricsOf(dir: string): unknown {
  const file = path.join(dir, '.llmops/experiments/demo/evaluations.json');
  const ev = JSON.parse(readFileSync(file, 'utf8')) as { evaluations: { metrics?: unknown; lines?: number }[] };
  return ev.evaluations.map((e) => [e.metrics, e.lines]);
}

function expectNoSecretInJobs(): void {
  expect(runner.definitions.length).toBeGreaterThan(0);
  for (const d of runner.definitions) {
    const text = JSON.stringify(d.body);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(DEV_KEY);
    const vars = (d.body as { properties: { environmentVariables: Record<string, string> } }).properties
      .environmentVariables;
    for (const [k, v] of Object.entries(vars)) {
      // A variable that names a secret (not holds one) is the only key-like name allowed: the vault references.
      if (k !== 'LLMOPS_KEY_VAULT_SECRETS') expect(k).not.toMatch(/KEY|SECRET|TOKEN|PASSWORD/i);
      expect(v).not.toContain(SECRET);
    }
  }
  for (const r of emulator.requests) expect(JSON.stringify(r.body ?? '')).not.toContain(SECRET);
}

test('register-data → bulk-run on azure (4 shards as jobs) → evaluate → report equals the local lifecycle', async () => {
  const producer = useCase();
  const cloud = useCase('azureml:train:latest');
  const local = useCase();
  try {
    expect(
      (await cli(producer.dir, { ...baseEnv, ...cloudEnv() }, 'register-data', '--config', 'experiment.yaml')).status,
    ).toBe(0);

    const dry = await cli(
      cloud.dir,
      cloudEnv(),
      'bulk-run',
      '--config',
      'experiment.yaml',
      '--target',
      'azure',
      '--dry-run',
    );
    expect(dry.status).toBe(0);
    expect(dry.stderr).toContain('4 shard(s)');
    expect(dry.stderr).toMatch(/would submit job demo-.*shard4of4: llmops run-shard --config experiment.yaml/);
    expect(runner.definitions).toHaveLength(0);
    // A dry run submits, uploads and registers nothing.
    expect(emulator.requests.filter((r) => /\/(jobs|codes|environments)\//.test(r.path))).toEqual([]);

    const run = await cli(cloud.dir, cloudEnv(), 'bulk-run', '--config', 'experiment.yaml', '--target', 'azure');
    expect(run.stderr).toContain('shard 4/4 merged');
    expect(run.status).toBe(0);
    expect(runner.definitions).toHaveLength(4);
    expect(runner.secretReads.filter((n) => n === 'aoai-workspace')).toHaveLength(4);
    const record = runRecord(cloud.dir);
    expect(record.status).toBe('Completed');
    expect(record.counts.total).toBe(LINES);
    expect(record.shards).toHaveLength(4);
    // run.json names this machine's copy of the data, not the job's.
    expect(record.data).toEqual([expect.stringContaining(path.join(cloud.dir, '.llmops/data/cache'))]);

    const localRun = await cli(local.dir, baseEnv, 'bulk-run', '--config', 'experiment.yaml');
    expect(localRun.status).toBe(0);
    expect(records(cloud.dir)).toEqual(records(local.dir));
    expect(records(cloud.dir)).toHaveLength(LINES);

    // evaluate on azure too: the evaluation lines as jobs, the submitting machine without the key.
    const jobsBefore = runner.definitions.length;
    const requestsBefore = emulator.requests.length;
    const evalDry = await cli(
      cloud.dir,
      cloudEnv(),
      'evaluate',
      '--config',
      'experiment.yaml',
      '--target',
      'azure',
      '--dry-run',
    );
    expect(evalDry.status).toBe(0);
    expect(evalDry.stderr).toContain('4 shard(s) of 7 line(s)');
    expect(evalDry.stderr).toMatch(/would submit job demo-eval-.*shard4of4: llmops run-shard --step evaluate/);
    // A dry run submits, uploads and registers nothing (it only resolves the azureml: dataset's version).
    expect(runner.definitions.length).toBe(jobsBefore);
    expect(emulator.requests.slice(requestsBefore).filter((r) => /\/(jobs|codes|environments)\//.test(r.path))).toEqual(
      [],
    );
    const cloudEval = await cli(cloud.dir, cloudEnv(), 'evaluate', '--config', 'experiment.yaml', '--target', 'azure');
    expect(cloudEval.stderr).not.toMatch(/internal error/);
    expect(cloudEval.status).toBe(0);
    expect(runner.definitions.length - jobsBefore).toBe(4);
    expect(runner.definitions.slice(jobsBefore).every((d) => d.name.includes('-eval-'))).toBe(true);
    const localEval = await cli(local.dir, baseEnv, 'evaluate', '--config', 'experiment.yaml');
    expect(localEval.status).toBe(0);
    for (const dir of [cloud.dir, local.dir]) {
      const report = await cli(
        dir,
        { ...baseEnv, ...cloudEnv() },
        'report',
        '--config',
        'experiment.yaml',
        '--output-dir',
        'reports',
      );
      expect(report.status).toBe(0);
    }
    expect(metricsOf(cloud.dir)).toEqual(metricsOf(local.dir));

    // Resumed: every shard is finished, nothing is submitted again.
    const again = await cli(
      cloud.dir,
      cloudEnv(),
      'bulk-run',
      '--config',
      'experiment.yaml',
      '--target',
      'azure',
      '--resume',
    );
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('4 shard(s) finished earlier are kept');
    expect(runner.definitions).toHaveLength(8);

    expectNoSecretInJobs();
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    producer.cleanup();
    cloud.cleanup();
    local.cleanup();
  }
}, 240_000);

test('a shard whose job loses its machine is submitted again and its lines are merged once', async () => {
  const uc = useCase();
  try {
    const before = runner.definitions.length;
    runner.injectInfrastructureFailure(1, 150);
    const run = await cli(uc.dir, cloudEnv(), 'bulk-run', '--config', 'experiment.yaml', '--target', 'azure');
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/before the shard finished \(infrastructure\); submitting it again \(attempt 2 of 3\)/);
    expect(run.stderr).toContain('the node running this job was lost');
    const names = runner.definitions.slice(before).map((d) => d.name);
    expect(names).toHaveLength(5);
    expect(names.filter((n) => n.endsWith('-try2'))).toHaveLength(1);
    const lines = records(uc.dir);
    expect(lines.map((l) => l.line_number)).toEqual([...Array(LINES).keys()]);
    expect(runRecord(uc.dir).status).toBe('Completed');
    expectNoSecretInJobs();
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    uc.cleanup();
  }
}, 240_000);

test('SIGTERM during a cloud bulk-run cancels every submitted job: none is left running', async () => {
  const uc = useCase();
  const saved = runner.options.stateMs;
  runner.options.stateMs = 3000;
  try {
    const before = runner.definitions.length;
    const child = spawn(
      process.execPath,
      [path.resolve('dist/cli.js'), 'bulk-run', '--config', 'experiment.yaml', '--target', 'azure'],
      {
        cwd: uc.dir,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CI: 'true', ...cloudEnv() },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    for (let i = 0; i < 300 && runner.definitions.length < before + 4; i++) await new Promise((r) => setTimeout(r, 50));
    expect(runner.definitions.length).toBe(before + 4);
    child.kill('SIGTERM');
    const status = await exited;
    expect(stderr).toContain('SIGTERM received, canceling');
    expect(stderr).toContain('its jobs were canceled');
    expect(status).toBe(143); // 128 + SIGTERM: a cancel, not a failed service
    await runner.settle();
    expect(runner.running()).toEqual([]);
    const mine = runner.definitions.slice(before).map((d) => d.name);
    for (const name of mine) {
      const job = runner.jobs.get(name.toLowerCase())!;
      expect((job.resource.properties as { status: string }).status).toBe('Canceled');
    }
    expect(emulator.specViolations()).toEqual([]);
    expect(existsSync(path.join(uc.dir, '.llmops/experiments/demo/cloud-jobs.json'))).toBe(true);

    // Resumed: the canceled shards are submitted again and the run completes, each line once.
    runner.options.stateMs = saved;
    const resumed = await cli(
      uc.dir,
      cloudEnv(),
      'bulk-run',
      '--config',
      'experiment.yaml',
      '--target',
      'azure',
      '--resume',
    );
    expect(resumed.stderr).toContain('was canceled; submitting the shard again');
    expect(resumed.status).toBe(0);
    expect(records(uc.dir).map((l) => l.line_number)).toEqual([...Array(LINES).keys()]);
    expect(runRecord(uc.dir).status).toBe('Completed');
  } finally {
    runner.options.stateMs = saved;
    uc.cleanup();
  }
}, 240_000);

test("a named compute cluster is the jobs' computeId; a shard failing on its own is not retried and its log tail is shown", async () => {
  const uc = useCase('data/train.jsonl', { compute: 'cpu-cluster', connections: { aoai: 'no-such-connection' } });
  try {
    const before = runner.definitions.length;
    const run = await cli(uc.dir, cloudEnv(), 'bulk-run', '--config', 'experiment.yaml', '--target', 'azure');
    expect(run.status).toBe(3);
    expect(run.stderr).toContain('on compute cpu-cluster');
    expect(run.stderr).toMatch(/shard \d\/4 \(job .*\) failed: .*workspace connection "no-such-connection" not found/);
    expect(run.stderr).toContain('last lines of job');
    expect(run.stderr).not.toContain('submitting it again');
    const mine = runner.definitions.slice(before);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.length).toBeLessThanOrEqual(4);
    for (const d of mine)
      expect((d.body as { properties: { computeId?: string } }).properties.computeId).toBe(
        `${emulator.workspaceId()}/computes/cpu-cluster`,
      );
    await runner.settle();
    expect(runner.running()).toEqual([]);
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    uc.cleanup();
  }
}, 240_000);

test('connections from Key Vault references: the job reads the secrets with its identity, none is in its definition', async () => {
  const uc = useCase('data/train.jsonl', {
    connections: null,
    key_vault_secrets: {
      AOAI_API_KEY: `${vault.url}/secrets/aoai-key`,
      AOAI_API_BASE: `${vault.url}/secrets/aoai-base`,
    },
  });
  try {
    const before = runner.definitions.length;
    const reads = vault.reads.length;
    const run = await cli(uc.dir, cloudEnv(), 'bulk-run', '--config', 'experiment.yaml', '--target', 'azure');
    expect(run.stderr).not.toMatch(/internal error/);
    expect(run.status).toBe(0);
    expect(records(uc.dir).map((l) => l.line_number)).toEqual([...Array(LINES).keys()]);
    const mine = runner.definitions.slice(before);
    expect(mine).toHaveLength(4);
    for (const d of mine) {
      const vars = (d.body as { properties: { environmentVariables: Record<string, string> } }).properties
        .environmentVariables;
      expect(vars.LLMOPS_KEY_VAULT_SECRETS).toContain('/secrets/aoai-key');
      expect(vars.LLMOPS_WORKSPACE_CONNECTIONS).toBeUndefined();
    }
    expect(vault.reads.length - reads).toBe(8);
    expectNoSecretInJobs();
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    uc.cleanup();
  }
}, 240_000);
