/**
 * `azureml:<name>:<version|latest>` dataset sources in a local bulk-run, through the CLI: resolved in
 * the (emulated) workspace, downloaded once from the datastore (Azurite) into the store's cache by
 * hash, read like a local file; run.json and the runs file record the exact asset version each run read.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { runCli } from '../support/azure/cli.js';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const CONTAINER = 'azureml-blobstore-0a6c3d1e-2b4f-4e59-8c71-9d3e5f7a1b2c';

let azurite: Azurite;
let emulator: ArmEmulator;
let container: import('@azure/storage-blob').ContainerClient;

beforeAll(async () => {
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
}, 60_000);

afterAll(async () => {
  await emulator?.stop();
  await azurite?.stop();
});

const azureBlock = () => stringify({ azure: { ...emulator.azureSettings(), blob_endpoint: azurite.url } });

function cli(dir: string, ...args: string[]) {
  return runCli(args, { cwd: dir, env: { ...baseEnv, ...emulator.childEnv() } });
}

/** A use case whose standard dataset is `source`, with the azure block. */
function consumer(source: string) {
  return makeUseCase({
    'experiment.yaml': `${baseExperiment.replace('source: data/train.jsonl', `source: ${source}`)}${azureBlock()}`,
  });
}

interface RunsFile {
  runs: {
    runId: string;
    dataset: string;
    dataFile: string;
    dataAsset?: { asset: string; dataUri: string; hash?: string };
  }[];
}

function runsOf(dir: string): RunsFile {
  return JSON.parse(readFileSync(path.join(dir, '.llmops/experiments/demo/runs.json'), 'utf8')) as RunsFile;
}

function answers(dir: string, runId: string): string[] {
  return readFileSync(path.join(dir, '.llmops/runs', runId, 'outputs.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { outputs: { answer: string } }).outputs.answer);
}

test('a local bulk-run reads azureml:train:latest: downloaded once into the cache, lineage in the runs file', async () => {
  const producer = makeUseCase({
    'experiment.yaml': `${baseExperiment}${azureBlock()}`,
    'data/train.jsonl': '{"question": "q1"}\n{"question": "q2"}\n{"question": "q3"}\n',
  });
  const uc = consumer('azureml:train:latest');
  try {
    const registered = await cli(
      producer.dir,
      'register-data',
      '--config',
      'experiment.yaml',
      '--output-file',
      'd.json',
    );
    expect(registered.status).toBe(0);
    const { version, hash } = JSON.parse(readFileSync(path.join(producer.dir, 'd.json'), 'utf8')).train;

    const blobBefore = azurite.requests.length;
    const run = await cli(uc.dir, 'bulk-run', '--config', 'experiment.yaml');
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain(
      `train: azureml:train:latest is azureml:train:${version}, downloaded to .llmops/data/cache/${hash}/train.jsonl`,
    );
    const runs = runsOf(uc.dir).runs;
    expect(runs).toHaveLength(1);
    expect(runs[0].dataAsset).toEqual({
      asset: `azureml:train:${version}`,
      dataUri: `azureml://datastores/workspaceblobstore/paths/LocalUpload/${hash}/train.jsonl`,
      hash,
    });
    expect(runs[0].dataFile).toBe(path.join(uc.dir, '.llmops/data/cache', hash, 'train.jsonl'));
    expect(answers(uc.dir, runs[0].runId)).toEqual(['q1', 'q2', 'q3']);
    // Lineage in run.json too: the exact version, wherever the run is read later.
    const record = JSON.parse(readFileSync(path.join(uc.dir, '.llmops/runs', runs[0].runId, 'run.json'), 'utf8'));
    expect(record.data_asset).toEqual({
      asset: `azureml:train:${version}`,
      data_uri: `azureml://datastores/workspaceblobstore/paths/LocalUpload/${hash}/train.jsonl`,
      hash,
    });
    expect(azurite.requests.slice(blobBefore).filter((r) => r.method === 'GET').length).toBeGreaterThan(0);

    // Again: the cached copy is read, no blob request at all.
    const blobAgain = azurite.requests.length;
    const again = await cli(uc.dir, 'bulk-run', '--config', 'experiment.yaml');
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`train: azureml:train:latest is azureml:train:${version}, read from the cache at`);
    expect(azurite.requests.slice(blobAgain)).toEqual([]);

    // New content registered: "latest" moves to it; the exact older version still resolves.
    writeFileSync(path.join(producer.dir, 'data/train.jsonl'), '{"question": "n1"}\n{"question": "n2"}\n');
    expect((await cli(producer.dir, 'register-data', '--config', 'experiment.yaml')).status).toBe(0);
    const moved = await cli(uc.dir, 'bulk-run', '--config', 'experiment.yaml');
    expect(moved.status).toBe(0);
    const latestRun = runsOf(uc.dir).runs[0];
    expect(latestRun.dataAsset!.asset).not.toBe(`azureml:train:${version}`);
    expect(answers(uc.dir, latestRun.runId)).toEqual(['n1', 'n2']);

    const pinned = consumer(`azureml:train:${version}`);
    try {
      const old = await cli(pinned.dir, 'bulk-run', '--config', 'experiment.yaml');
      expect(old.status).toBe(0);
      expect(answers(pinned.dir, runsOf(pinned.dir).runs[0].runId)).toEqual(['q1', 'q2', 'q3']);
    } finally {
      pinned.cleanup();
    }
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    producer.cleanup();
    uc.cleanup();
  }
});

test('a uri_folder asset is downloaded as a folder and read in file order', async () => {
  const producer = makeUseCase({
    'experiment.yaml': `${baseExperiment.replace('name: train\n', 'name: folder_set\n').replace('reference: train', 'reference: folder_set').replace('source: data/train.jsonl', 'source: data/parts')}${azureBlock()}`,
    'data/parts/1.jsonl': '{"question": "f1"}\n',
    'data/parts/2.jsonl': '{"question": "f2"}\n{"question": "f3"}\n',
  });
  const uc = consumer('azureml:folder_set:latest');
  try {
    const registered = await cli(producer.dir, 'register-data', '--config', 'experiment.yaml');
    expect(registered.stderr).not.toMatch(/error/i);
    expect(registered.status).toBe(0);
    const run = await cli(uc.dir, 'bulk-run', '--config', 'experiment.yaml');
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.status).toBe(0);
    const r = runsOf(uc.dir).runs[0];
    expect(existsSync(path.join(r.dataFile, '2.jsonl'))).toBe(true);
    expect(answers(uc.dir, r.runId)).toEqual(['f1', 'f2', 'f3']);
  } finally {
    producer.cleanup();
    uc.cleanup();
  }
});

test('a uri_folder asset whose files changed in the datastore: exit 3 naming both hashes; nothing cached or run', async () => {
  const producer = makeUseCase({
    'experiment.yaml': `${baseExperiment.replace('name: train\n', 'name: tampered_set\n').replace('reference: train', 'reference: tampered_set').replace('source: data/train.jsonl', 'source: data/parts')}${azureBlock()}`,
    'data/parts/1.jsonl': '{"question": "t1"}\n',
    'data/parts/2.jsonl': '{"question": "t2"}\n',
  });
  const uc = consumer('azureml:tampered_set:latest');
  try {
    expect((await cli(producer.dir, 'register-data', '--config', 'experiment.yaml')).status).toBe(0);
    let blob: string | undefined;
    for await (const item of container.listBlobsFlat({ prefix: 'LocalUpload/', includeMetadata: true }))
      if (item.name.endsWith('/parts/2.jsonl') && item.metadata?.asset_name === 'tampered_set') blob = item.name;
    expect(blob).toBeDefined();
    const tampered = '{"question": "changed"}\n';
    await container.getBlockBlobClient(blob!).upload(tampered, tampered.length);
    const run = await cli(uc.dir, 'bulk-run', '--config', 'experiment.yaml');
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(
      /data asset tampered_set:\w+ downloaded from .* has sha256 [0-9a-f]{64} \(its data files in reading order, names included\), but its data_hash tag says [0-9a-f]{64}/,
    );
    expect(existsSync(path.join(uc.dir, '.llmops/runs'))).toBe(false);
    // Nothing half-downloaded is left to be taken for the asset later.
    const cache = path.join(uc.dir, '.llmops/data/cache');
    expect(existsSync(cache) ? readdirSync(cache) : []).toEqual([]);
  } finally {
    producer.cleanup();
    uc.cleanup();
  }
});

test('an asset that does not exist: exit 3 naming the asset and the workspace; nothing run', async () => {
  const uc = consumer('azureml:nope:latest');
  try {
    const r = await cli(uc.dir, 'bulk-run', '--config', 'experiment.yaml');
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('Azure ML: data asset nope not found in workspace mlw-llmops (it has no versions)');
    expect(existsSync(path.join(uc.dir, '.llmops/runs'))).toBe(false);
  } finally {
    uc.cleanup();
  }
});

/** Two more evaluators of the same asset: a built-in one and a code-only one (an eval_ function). */
const otherEvaluators = (source: string) => `  - name: exact
    builtin: exact_match
    datasets:
      - name: train_eval
        reference: train
        source: ${source}
        mappings:
          prediction: \${run.outputs.answer}
          reference: \${data.answer}
  - name: counted
    flow: flows/eval_code
    datasets:
      - name: train_eval
        reference: train
        source: ${source}
        mappings:
          answer: \${data.answer}
`;
const countingEvaluator = `import json


def eval_count(run_name, data_path, column_mapping, output_path):
    with open(data_path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {"rows": [{"outputs.count.n": 1} for _ in rows], "metrics": {"count.n": len(rows)}}
`;

test('evaluate reads an azureml: evaluation dataset too; flow, built-in and code evaluation runs record the version in run.json', async () => {
  const producer = makeUseCase({
    'experiment.yaml': `${baseExperiment}${azureBlock()}`,
    'data/train.jsonl': '{"question": "e1"}\n{"question": "e2"}\n',
    'data/eval.jsonl': '{"answer": "e1"}\n{"answer": "e2"}\n',
  });
  const uc = makeUseCase({
    'experiment.yaml': `${baseExperiment
      .replace('source: data/train.jsonl', 'source: azureml:train:latest')
      .replace(
        'source: data/eval.jsonl',
        'source: azureml:train_eval:latest',
      )}${otherEvaluators('azureml:train_eval:latest')}${azureBlock()}`,
    'flows/eval_code/eval_count.py': countingEvaluator,
  });
  try {
    const registered = await cli(
      producer.dir,
      'register-data',
      '--config',
      'experiment.yaml',
      '--output-file',
      'd.json',
    );
    expect(registered.status).toBe(0);
    const evalVersion = JSON.parse(readFileSync(path.join(producer.dir, 'd.json'), 'utf8')).train_eval.version;
    expect((await cli(uc.dir, 'bulk-run', '--config', 'experiment.yaml')).status).toBe(0);
    const evaluated = await cli(uc.dir, 'evaluate', '--config', 'experiment.yaml');
    expect(evaluated.stderr).not.toMatch(/error/i);
    expect(evaluated.status).toBe(0);
    const evaluations = JSON.parse(
      readFileSync(path.join(uc.dir, '.llmops/experiments/demo/evaluations.json'), 'utf8'),
    );
    const names = (evaluations.evaluations as { evaluator: string }[]).map((e) => e.evaluator).sort();
    expect(names).toEqual(['accuracy', 'counted', 'exact']);
    for (const e of evaluations.evaluations as { runId: string }[]) {
      const record = JSON.parse(readFileSync(path.join(uc.dir, '.llmops/runs', e.runId, 'run.json'), 'utf8'));
      expect(record.status).toBe('Completed');
      expect(record.data_asset.asset).toBe(`azureml:train_eval:${evalVersion}`);
    }
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    producer.cleanup();
    uc.cleanup();
  }
});
