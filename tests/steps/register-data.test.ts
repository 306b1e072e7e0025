/** register-data: checks, content-hash versioning, and nothing registered when a dataset is bad. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { registerDataStep } from '../../src/shared/steps/register-data.js';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

async function run(dir: string, dryRun = false) {
  const host = new MemoryHost();
  const cwd = process.cwd();
  process.chdir(dir);
  Object.assign(process.env, baseEnv);
  try {
    return { out: await registerDataStep.run({ config: 'experiment.yaml', store: '.llmops', dryRun }, host), host };
  } finally {
    process.chdir(cwd);
  }
}

test('versions by content: new, unchanged, then a new version when the data changes', async () => {
  const uc = makeUseCase({
    'data/train.jsonl': '{"question": "q1"}\n{"question": "q2"}\n',
    'data/eval.jsonl': '{"answer": "a1"}\n{"answer": "a2"}\n',
  });
  try {
    const first = await run(uc.dir);
    expect(first.out.datasets).toEqual({
      train: { version: '1', hash: expect.stringMatching(/^[0-9a-f]{64}$/), rows: 2, created: true },
      train_eval: { version: '1', hash: expect.stringMatching(/^[0-9a-f]{64}$/), rows: 2, created: true },
    });
    expect(JSON.parse(first.host.outputs.get('datasets')!)).toEqual(first.out.datasets);
    const again = await run(uc.dir);
    expect(again.out.datasets.train).toEqual({ ...first.out.datasets.train, created: false });
    writeFileSync(
      path.join(uc.dir, 'data/train.jsonl'),
      '{"question": "q1"}\n{"question": "q2"}\n{"question": "q3"}\n',
    );
    const third = await run(uc.dir);
    expect(third.out.datasets.train).toEqual({
      version: '2',
      hash: expect.not.stringMatching(first.out.datasets.train.hash),
      rows: 3,
      created: true,
    });
    expect(third.out.datasets.train_eval.created).toBe(false);
  } finally {
    uc.cleanup();
  }
});

test("one dataset name given to two files (the template's class_flows) keeps a version per content, not a new one per run", async () => {
  const uc = makeUseCase({
    'experiment.yaml': baseExperiment.replace(
      'evaluators:\n',
      'evaluators:\n  - name: second\n    flow: flows/eval\n    datasets:\n      - name: train_eval\n        reference: train\n        source: data/other.jsonl\n        mappings:\n          answer: ${data.answer}\n          prediction: ${run.outputs.answer}\n',
    ),
    'data/other.jsonl': '{"answer": "other"}\n',
  });
  try {
    await run(uc.dir);
    const registry = JSON.parse(readFileSync(path.join(uc.dir, '.llmops/data/registry.json'), 'utf8'));
    expect(registry.datasets.train_eval.map((v: { version: string }) => v.version)).toEqual(['1', '2']);
    const again = await run(uc.dir);
    expect(again.host.lines.map((l) => l.message).filter((m) => m.startsWith('train_eval:'))).toEqual([
      expect.stringMatching(/^train_eval: 1 rows, version [12] \(unchanged\)/),
      expect.stringMatching(/^train_eval: 1 rows, version [12] \(unchanged\)/),
    ]);
    const dry = await run(uc.dir, true);
    expect(dry.host.lines.map((l) => l.message).filter((m) => m.startsWith('train_eval:'))).toEqual([
      expect.stringContaining('unchanged (version'),
      expect.stringContaining('unchanged (version'),
    ]);
    const after = JSON.parse(readFileSync(path.join(uc.dir, '.llmops/data/registry.json'), 'utf8'));
    expect(after.datasets.train_eval).toHaveLength(2);
  } finally {
    uc.cleanup();
  }
});

test('a mapped column missing in some rows: exit-2 error naming column, rows and columns; registry untouched', async () => {
  const uc = makeUseCase({ 'data/train.jsonl': '{"question": "q1"}\n{"prompt": "q2"}\n{"prompt": "q3"}\n' });
  try {
    const error = await run(uc.dir).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map(formatProblem)).toEqual([
      'data/train.jsonl:2: column "question" is missing from this row and 1 more of 3 rows; expected it in every row (available columns: question, prompt)',
    ]);
    expect(existsSync(path.join(uc.dir, '.llmops/data/registry.json'))).toBe(false);
  } finally {
    uc.cleanup();
  }
});

test('an evaluation dataset needs the columns of its own mappings', async () => {
  const uc = makeUseCase({ 'data/eval.jsonl': '{"expected": "a1"}\n' });
  try {
    const error = (await run(uc.dir).catch((e) => e)) as ConfigError;
    expect(error.problems.map(formatProblem)).toEqual([
      'data/eval.jsonl:1: column "answer" is missing from this row (1 of 1 rows); expected it in every row (available columns: expected)',
    ]);
  } finally {
    uc.cleanup();
  }
});

test('unreadable data is reported at its line', async () => {
  const uc = makeUseCase({ 'data/train.jsonl': '{"question": "q1"}\n{"question": \n' });
  try {
    const error = (await run(uc.dir).catch((e) => e)) as ConfigError;
    expect(formatProblem(error.problems[0])).toBe(
      'data/train.jsonl:2:14: invalid JSON: expected a value (object, array, string, number, true, false or null), found the end of the text; expected one JSON object per line',
    );
    const registry = path.join(uc.dir, '.llmops/data/registry.json');
    expect(existsSync(registry) ? readFileSync(registry, 'utf8') : '').toBe('');
  } finally {
    uc.cleanup();
  }
});

test('--dry-run says what would be registered and writes nothing; a folder dataset is versioned like a file', async () => {
  const uc = makeUseCase({
    'experiment.yaml': baseExperiment.replace('source: data/train.jsonl', 'source: data/parts'),
    'data/parts/1.jsonl': '{"question": "q1"}\n',
    'data/parts/2.jsonl': '{"question": "q2"}\n',
  });
  try {
    const dry = await run(uc.dir, true);
    expect(dry.out.datasets.train).toMatchObject({ version: '', rows: 2, created: true });
    expect(existsSync(path.join(uc.dir, '.llmops/data/registry.json'))).toBe(false);
    const real = await run(uc.dir);
    expect(real.out.datasets.train).toMatchObject({ version: '1', rows: 2, created: true });
    const again = await run(uc.dir, true);
    expect(again.out.datasets.train).toMatchObject({ version: '1', created: false });
  } finally {
    uc.cleanup();
  }
});
