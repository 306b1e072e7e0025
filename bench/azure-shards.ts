/**
 * Scale-out through Azure ML shards: `bulk-run --target azure` of one use case (a one-LLM-node flow) with
 * N = 1, 2, 4, 8 shards, through the ARM emulator whose command jobs run for real as local `llmops run-shard`
 * processes over Azurite, against the local model server at a fixed latency that enforces a requests-per-minute
 * limit. The experiment declares the quota (execution.requests_per_minute, below the model's limit), shared
 * among the running jobs; each job keeps `azure.concurrency_per_shard` lines in flight, so one job alone cannot
 * reach the quota and more shards approach it. A last row runs the most shards with no declared quota (each job
 * finding the limit through 429s on its own).
 *
 * Run from the repository root after `npm run build` (the jobs run dist/cli.js):
 *   npx tsx bench/azure-shards.ts
 * Environment: BENCH_SHARDS (1,2,4,8), BENCH_LINES (200), BENCH_LATENCY_MS (100), BENCH_PER_SHARD (2: lines in
 * flight per job), BENCH_LIMIT_PER_S (60: the model's limit per 1 s window), BENCH_QUOTA_SHARE (0.9: the
 * declared quota as a share of that limit), BENCH_REPS (3), BENCH_UNPACED (1: add the row without a quota).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startModelServer } from '../src/model-server/index.js';
import { ArmEmulator } from '../tests/support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../tests/support/azure/azurite.js';
import { runCli } from '../tests/support/azure/cli.js';
import { JobRunner } from '../tests/support/azure/jobs.js';
import { baseExperiment, llmNodeFlow, makeUseCase } from '../tests/helpers/use-case-dir.js';

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const SHARDS = (process.env.BENCH_SHARDS ?? '1,2,4,8').split(',').map(Number);
const LINES = num('BENCH_LINES', 200);
const LATENCY = num('BENCH_LATENCY_MS', 100);
const PER_SHARD = num('BENCH_PER_SHARD', 2);
const LIMIT_PER_S = num('BENCH_LIMIT_PER_S', 60);
const QUOTA = Math.floor(LIMIT_PER_S * 60 * num('BENCH_QUOTA_SHARE', 0.9));
const REPS = num('BENCH_REPS', 3);
const UNPACED = process.env.BENCH_UNPACED !== '0';
const CONTAINER = 'azureml-blobstore-7d3e2f4c-9f5b-4c83-b1a4-3e6f8a0c2d5e';
const KEY = 'sk-BENCH-KEY';

interface Figures {
  wall: number;
  /** Lines per second over the whole step (job start-up, polling and merging included). */
  linesPerS: number;
  /** Requests per second from the model's first to its last request of the run. */
  modelPerS: number;
  throttled: number;
  /** Most requests (any answer) the model saw in one second. */
  busiest: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const azurite = await Azurite.start();
  const container = new BlobServiceClient(
    azurite.directUrl,
    new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
  ).getContainerClient(CONTAINER);
  await container.create();
  const emulator = await ArmEmulator.start({
    datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: CONTAINER },
  });
  const seen: number[] = [];
  const model = await startModelServer({
    rpm: LIMIT_PER_S,
    windowMs: 1_000,
    latencyMs: LATENCY,
    log: (line) => {
      if (line.startsWith('POST')) seen.push(Date.now());
    },
  });
  const runner = new JobRunner(emulator, {
    container,
    containerName: CONTAINER,
    connections: { aoai: { target: model.url, key: KEY } },
  });

  const once = async (shards: number, quota: boolean): Promise<Figures> => {
    const data = Array.from({ length: LINES }, (_, i) => JSON.stringify({ question: `q${i}`, answer: `q${i}` }));
    const execution = { concurrency: PER_SHARD * shards, ...(quota ? { requests_per_minute: QUOTA } : {}) };
    const azure = {
      ...emulator.azureSettings(),
      blob_endpoint: azurite.url,
      image: 'ghcr.io/example/llmops-cli:bench',
      lines_per_shard: Math.ceil(LINES / shards),
      concurrency_per_shard: PER_SHARD,
    };
    const uc = makeUseCase({
      'experiment.yaml': `${baseExperiment}${stringify({ execution, azure })}`,
      ...llmNodeFlow(),
      'data/train.jsonl': `${data.join('\n')}\n`,
    });
    try {
      await new Promise((r) => setTimeout(r, 1_100)); // an empty rate window
      const before = model.stats();
      seen.length = 0;
      const started = performance.now();
      const run = await runCli(['bulk-run', '--config', 'experiment.yaml', '--target', 'azure'], {
        cwd: uc.dir,
        env: { ...emulator.childEnv(), LLMOPS_AZURE_JOB_POLL_MS: '100' },
      });
      const wall = (performance.now() - started) / 1000;
      if (run.status !== 0) throw new Error(`bulk-run failed (${run.status}):\n${run.stderr}`);
      const runs = JSON.parse(readFileSync(path.join(uc.dir, '.llmops/experiments/demo/runs.json'), 'utf8')) as {
        runs: { runId: string }[];
      };
      const recorded = readFileSync(path.join(uc.dir, '.llmops/runs', runs.runs[0].runId, 'outputs.jsonl'), 'utf8')
        .trim()
        .split('\n').length;
      if (recorded !== LINES) throw new Error(`${recorded} of ${LINES} lines recorded`);
      const after = model.stats();
      const times = [...seen].sort((a, b) => a - b);
      const span = (times[times.length - 1] - times[0]) / 1000;
      let busiest = 0;
      for (let i = 0, j = 0; i < times.length; i++) {
        while (times[i] - times[j] >= 1_000) j++;
        busiest = Math.max(busiest, i - j + 1);
      }
      return {
        wall,
        linesPerS: LINES / wall,
        modelPerS: span > 0 ? LINES / span : 0,
        throttled: after.rateLimited - before.rateLimited,
        busiest,
      };
    } finally {
      uc.cleanup();
    }
  };

  process.stdout.write(
    `azure shards: ${LINES} lines, model latency ${LATENCY} ms, model limit ${LIMIT_PER_S}/s (${LIMIT_PER_S * 60}/min, 1 s window), declared quota ${QUOTA}/min (${(QUOTA / 60).toFixed(1)}/s), ${PER_SHARD} lines in flight per job, ${REPS} rep(s), medians; Node ${process.version}\n\n`,
  );
  process.stdout.write(
    '| shards | quota | wall s | lines/s (wall) | ratio to N=1 | lines/s (model phase) | ratio to N=1 | busiest second | 429s |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n',
  );
  const rows: [number, boolean][] = SHARDS.map((n) => [n, true]);
  if (UNPACED) rows.push([Math.max(...SHARDS), false]);
  let base: Figures | undefined;
  try {
    for (const [n, quota] of rows) {
      const reps: Figures[] = [];
      for (let r = 0; r < REPS; r++) reps.push(await once(n, quota));
      const m: Figures = {
        wall: median(reps.map((f) => f.wall)),
        linesPerS: median(reps.map((f) => f.linesPerS)),
        modelPerS: median(reps.map((f) => f.modelPerS)),
        throttled: median(reps.map((f) => f.throttled)),
        busiest: median(reps.map((f) => f.busiest)),
      };
      base ??= m;
      process.stdout.write(
        `| ${n} | ${quota ? `${QUOTA}/min shared` : 'none'} | ${m.wall.toFixed(1)} | ${m.linesPerS.toFixed(1)} | ${(m.linesPerS / base.linesPerS).toFixed(2)} | ${m.modelPerS.toFixed(1)} | ${(m.modelPerS / base.modelPerS).toFixed(2)} | ${m.busiest} | ${m.throttled} |\n`,
      );
    }
  } finally {
    await runner.settle();
    await model.close();
    await emulator.stop();
    await azurite.stop();
  }
  process.stdout.write(
    `\nceiling: the declared quota ${(QUOTA / 60).toFixed(1)} lines/s (one request per line); the model's own limit ${LIMIT_PER_S}/s\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
