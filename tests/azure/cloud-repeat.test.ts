/**
 * `repeat: K` on the Azure ML execution: bulk-run and evaluate with target azure, against the ARM emulator whose
 * command jobs run for real as local `llmops run-shard` processes over Azurite, and the local model server (one
 * question's answers differ between its repetitions). The shards cut data lines, so a line's K repetitions run in
 * one job; the merged run carries each repetition's index, and the report gives the same pass@K, consistency and
 * clustered interval as the same lifecycle run locally.
 *
 * Expected values by hand (as in tests/steps/repeat-lifecycle.test.ts). Lines a, b, c, d (c's answer "x" never
 * matches), K = 3, b answered b, nope, nope: exact_match 7/12, pass@3 3/4, unanimous 3/4, pairwise (3 + 1/3)/4.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import type { Results } from '../../src/shared/results/model.js';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { runCli } from '../support/azure/cli.js';
import { JobRunner } from '../support/azure/jobs.js';
import { stringify } from 'yaml';
import { baseExperiment, llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';

const CONTAINER = 'azureml-blobstore-0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const KEY = 'sk-REPEAT-KEY-5678';

let azurite: Azurite;
let emulator: ArmEmulator;
let runner: JobRunner;
let server: ModelServerHandle;

beforeAll(async () => {
  server = await startModelServer({
    rules: [
      { match: '^b$', answers: ['b', 'nope', 'nope'] },
      { match: '^(\\w)$', answer: '{{1}}' },
    ],
  });
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
    connections: { aoai: { target: server.url, key: KEY } },
  });
}, 60_000);

afterAll(async () => {
  await runner?.settle();
  await emulator?.stop();
  await azurite?.stop();
  await server?.close();
});

const data = ['a', 'b', 'c', 'd'].map((q) => JSON.stringify({ question: q, answer: q === 'c' ? 'x' : q })).join('\n');

function useCase(cloud: boolean) {
  const azure = {
    ...emulator.azureSettings(),
    blob_endpoint: azurite.url,
    image: 'ghcr.io/example/llmops-cli:0.1.0',
    // 12 lines (4 data lines × 3) in shards of 4 lines → 3 jobs, each holding whole data lines.
    lines_per_shard: 4,
  };
  const experiment =
    baseExperiment
      .slice(0, baseExperiment.indexOf('evaluators:'))
      .replace('    source: data/train.jsonl\n', '    source: data/train.jsonl\n    repeat: 3\n') +
    [
      'evaluators:',
      '  - name: exact',
      '    builtin: exact_match',
      '    datasets:',
      '      - name: train',
      '        mappings:',
      '          prediction: ${run.outputs.answer}',
      '          reference: ${data.answer}',
      // A flow evaluator: its evaluation lines are cut into the jobs' shards too.
      '  - name: echo',
      '    flow: flows/eval',
      '    datasets:',
      '      - name: train_eval',
      '        reference: train',
      '        source: data/train.jsonl',
      '        mappings:',
      '          answer: ${data.answer}',
      '          prediction: ${run.outputs.answer}',
      '',
    ].join('\n') +
    (cloud ? stringify({ execution: { target: 'azure' }, azure }) : '');
  return makeUseCase({ ...llmNodeFlow(), 'data/train.jsonl': `${data}\n`, 'experiment.yaml': experiment });
}

const cloudEnv = () => ({ ...emulator.childEnv(), LLMOPS_AZURE_JOB_POLL_MS: '100' });
const localEnv = () => ({ AOAI_API_BASE: server.url, AOAI_API_KEY: KEY });

interface Line {
  line_number: number;
  status: string;
  source_line?: number;
  repetition?: number;
  outputs?: Record<string, unknown>;
}

function runLines(dir: string, runId: string): Line[] {
  return readFileSync(path.join(dir, '.llmops/runs', runId, 'outputs.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line)
    .sort((a, b) => a.line_number - b.line_number);
}

function runIds(dir: string, file: 'runs' | 'evaluations'): string[] {
  const f = JSON.parse(readFileSync(path.join(dir, `.llmops/experiments/demo/${file}.json`), 'utf8')) as {
    runs?: { runId: string }[];
    evaluations?: { runId: string }[];
  };
  return (f.runs ?? f.evaluations ?? []).map((r) => r.runId);
}

async function lifecycle(dir: string, env: Record<string, string>): Promise<Results> {
  for (const step of ['bulk-run', 'evaluate']) {
    const r = await runCli([step, '--config', 'experiment.yaml'], { cwd: dir, env });
    expect(r.stderr).not.toMatch(/internal error/);
    expect({ step, status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ step, status: 0, stderr: '' });
  }
  const report = await runCli(['report', '--config', 'experiment.yaml', '--output-dir', 'reports'], {
    cwd: dir,
    env: { ...env, ...localEnv() },
  });
  expect(report.status).toBe(0);
  return JSON.parse(readFileSync(path.join(dir, 'reports/results.json'), 'utf8')) as Results;
}

test('repeat 3 with target azure: shards hold whole data lines, repetitions are recorded, pass@3 and the clustered interval equal the local run', async () => {
  const cloud = useCase(true);
  const local = useCase(false);
  try {
    const dry = await runCli(['bulk-run', '--config', 'experiment.yaml', '--dry-run'], {
      cwd: cloud.dir,
      env: cloudEnv(),
    });
    expect(dry.status).toBe(0);
    expect(dry.stderr).toContain('3 shard(s) of 12 line(s)');

    const before = runner.definitions.length;
    const cloudResults = await lifecycle(cloud.dir, cloudEnv());
    // 3 bulk-run jobs; evaluate's 24 lines (two evaluators × 12) in 6 more (the built-in runs whole in one of them).
    expect(runner.definitions.length - before).toBe(9);
    const [run] = runIds(cloud.dir, 'runs');
    const lines = runLines(cloud.dir, run);
    expect(lines.map((l) => l.line_number)).toEqual([...Array(12).keys()]);
    expect(lines.map((l) => [l.source_line, l.repetition])).toEqual(
      [...Array(12).keys()].map((n) => [Math.floor(n / 3), n % 3]),
    );
    expect(lines.every((l) => l.status === 'Completed')).toBe(true);
    const answersOfB = lines
      .filter((l) => l.source_line === 1)
      .map((l) => l.outputs?.answer)
      .sort();
    expect(answersOfB).toEqual(['b', 'nope', 'nope']);
    const runJson = JSON.parse(readFileSync(path.join(cloud.dir, '.llmops/runs', run, 'run.json'), 'utf8')) as {
      status: string;
      repeat?: number;
      counts: { total: number };
    };
    expect(runJson).toMatchObject({ status: 'Completed', repeat: 3, counts: { total: 12 } });
    for (const id of runIds(cloud.dir, 'evaluations'))
      expect(runLines(cloud.dir, id).map((l) => l.line_number)).toEqual([...Array(12).keys()]);

    const exact = cloudResults.metrics.find((m) => m.evaluator === 'exact')!;
    expect(exact.value).toBeCloseTo(7 / 12, 12);
    expect(exact.interval).toMatchObject({ n: 12, clusteredBy: 'data line (repeat 3)', clusters: 4 });
    expect(exact.repeated).toEqual({
      k: 3,
      dataLines: 4,
      passAtK: 0.75,
      unanimousShare: 0.75,
      pairwiseAgreement: expect.closeTo(5 / 6, 12) as number,
    });

    const localResults = await lifecycle(local.dir, localEnv());
    const strip = (r: Results) =>
      r.metrics.map(({ evaluator, metric, value, interval, repeated }) => ({
        evaluator,
        metric,
        value,
        interval,
        repeated,
      }));
    expect(strip(cloudResults)).toEqual(strip(localResults));
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    cloud.cleanup();
    local.cleanup();
  }
}, 240_000);
