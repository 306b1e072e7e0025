/**
 * The model's quota shared among a cloud run's jobs: how a share is computed at each submission, and a cloud
 * bulk-run of four shards (jobs run for real as local run-shard processes) against the local model server
 * enforcing the quota, where each job keeps its share by pacing: every line answered, 429s bounded.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { nextShare, quotaOf } from '../../src/shared/azure/jobs-quota.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { runCli } from '../support/azure/cli.js';
import { JobRunner } from '../support/azure/jobs.js';
import { baseExperiment, llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';

test('a share is an equal part of what running jobs leave free; finished jobs give theirs back', () => {
  const quota = quotaOf({ requestsPerMinute: 600, tokensPerMinute: 90_000 })!;
  // Four shards submitted together: a quarter each, whatever the order.
  const first = nextShare(quota, [], 4);
  expect(first).toEqual({ requestsPerMinute: 150, tokensPerMinute: 22_500 });
  expect(nextShare(quota, [first, first], 2)).toEqual(first);
  // A shard submitted again while the three others run gets the quarter its failed job freed...
  expect(nextShare(quota, [first, first, first], 1)).toEqual(first);
  // ... and, once two of them finished, what those gave back too.
  expect(nextShare(quota, [first], 1)).toEqual({ requestsPerMinute: 450, tokensPerMinute: 67_500 });
  // Rounded down: three shares of 100 never add up to more than 100.
  expect(nextShare({ requestsPerMinute: 100 }, [], 3).requestsPerMinute).toBe(33.33);
  expect(quotaOf({})).toBeUndefined();
  expect(nextShare({ requestsPerMinute: 100 }, [], 2).tokensPerMinute).toBeUndefined();
});

describe('a cloud bulk-run against a model enforcing the quota', () => {
  const CONTAINER = 'azureml-blobstore-6c2f1d3b-8e4a-4b72-a093-2d5e7f9b1c4f';
  const KEY = 'sk-QUOTA-TEST-KEY-5678';
  const LINES = 40;
  // The experiment declares 400 per minute, so each of four jobs paces 100 per minute: starts at least 600 ms
  // apart, which puts at most 2 of a job's requests in any closed 1 s window. The model refuses a 13th request in
  // any 1 s sliding window. Without the shared quota each job would pace at 400 per minute (28 a second together)
  // and draw 429s by the dozen; with it, at most 8 arrive in a window. The slack of 4 absorbs a loaded machine
  // delaying one request's arrival towards the next (with the pace at exactly the model's bound, 480 per minute,
  // a CI machine under load drew a 429 now and then). The overall rate is checked against the quota itself below.
  const PER_WINDOW = 12;
  const QUOTA = 400;
  const SHARE = QUOTA / 4;
  const seen: number[] = [];
  let model: ModelServerHandle;
  let azurite: Azurite;
  let emulator: ArmEmulator;
  let runner: JobRunner;
  let container: import('@azure/storage-blob').ContainerClient;

  beforeAll(async () => {
    model = await startModelServer({
      rpm: PER_WINDOW,
      windowMs: 1_000,
      latencyMs: 20,
      log: (line) => {
        if (line.startsWith('POST')) seen.push(Date.now());
      },
    });
    azurite = await Azurite.start();
    const blob = await import('@azure/storage-blob');
    const service = new blob.BlobServiceClient(
      azurite.directUrl,
      new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
    );
    container = service.getContainerClient(CONTAINER);
    await container.create();
    emulator = await ArmEmulator.start({
      datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: CONTAINER },
    });
    runner = new JobRunner(emulator, {
      container,
      containerName: CONTAINER,
      connections: { aoai: { target: model.url, key: KEY } },
    });
  }, 60_000);

  afterAll(async () => {
    await runner?.settle();
    await emulator?.stop();
    await azurite?.stop();
    await model?.close();
  });

  test('four jobs, a quarter of the quota each: every line answered, no 429, the rate within the quota', async () => {
    const data = Array.from({ length: LINES }, (_, i) => JSON.stringify({ question: `q${i}`, answer: `q${i}` }));
    const experiment = `${baseExperiment}execution:\n  concurrency: 16\n  requests_per_minute: ${QUOTA}\n${stringify({
      azure: {
        ...emulator.azureSettings(),
        blob_endpoint: azurite.url,
        image: 'ghcr.io/example/llmops-cli:0.1.0',
        lines_per_shard: LINES / 4,
      },
    })}`;
    const uc = makeUseCase({
      'experiment.yaml': experiment,
      ...llmNodeFlow(),
      'data/train.jsonl': `${data.join('\n')}\n`,
    });
    try {
      const env = { ...emulator.childEnv(), LLMOPS_AZURE_JOB_POLL_MS: '100' };
      const before = model.stats();
      seen.length = 0;
      const run = await runCli(['bulk-run', '--config', 'experiment.yaml', '--target', 'azure'], {
        cwd: uc.dir,
        env,
      });
      expect(run.stderr).not.toMatch(/internal error/);
      if (run.status !== 0) console.log(run.stderr);
      expect(run.status).toBe(0);
      expect(run.stderr).toContain(`the model's quota (${QUOTA} requests/min) shared among the running jobs`);
      const commands = runner.definitions.map(
        (d) => (d.body as { properties: { command: string } }).properties.command,
      );
      expect(commands).toHaveLength(4);
      for (const c of commands) expect(c).toContain(`--requests-per-minute ${SHARE} `);
      // Each job ran at its share, as its own log says.
      const log = await container
        .getBlobClient(`ExperimentRun/dcid.${runner.definitions[0].name}/user_logs/std_log.txt`)
        .downloadToBuffer();
      expect(log.toString()).toContain(`model calls paced at ${SHARE} requests/min`);
      const after = model.stats();
      const answered = (after.byStatus['200'] ?? 0) - (before.byStatus['200'] ?? 0);
      const throttled = after.rateLimited - before.rateLimited;
      expect(answered).toBe(LINES);
      expect(throttled).toBe(0);
      // Together within the quota (8/s): each job's first request goes at once, its others at its pace.
      seen.sort((a, b) => a - b);
      const span = (seen[seen.length - 1] - seen[0]) / 1000;
      expect((seen.length - 4) / span).toBeLessThanOrEqual((QUOTA / 60) * 1.05);
      const runs = JSON.parse(readFileSync(path.join(uc.dir, '.llmops/experiments/demo/runs.json'), 'utf8')) as {
        runs: { runId: string }[];
      };
      const lines = readFileSync(path.join(uc.dir, '.llmops/runs', runs.runs[0].runId, 'outputs.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { line_number: number; status: string });
      expect(lines.map((l) => l.line_number).sort((a, b) => a - b)).toEqual([...Array(LINES).keys()]);
      expect(lines.every((l) => l.status === 'Completed')).toBe(true);
      for (const d of runner.definitions) expect(JSON.stringify(d.body)).not.toContain(KEY);
      expect(emulator.specViolations()).toEqual([]);
    } finally {
      uc.cleanup();
    }
  }, 240_000);
});
