/**
 * Datasets stay inside the repository, after symlinks, unless experiment.yaml opts out
 * (`execution.data_outside_repository: true`): a pull request's experiment must not read the runner's files.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { baseEnv, experimentWith as x, makeUseCase } from '../helpers/use-case-dir.js';

const outside = mkdtempSync(path.join(os.tmpdir(), 'llmops-outside-'));
const outsideFile = path.join(outside, 'secret.jsonl');
writeFileSync(outsideFile, '{"question": "from outside"}\n');
afterAll(() => rmSync(outside, { recursive: true, force: true }));

function load(files: Record<string, string | null>, prepare?: (dir: string) => void): string[] {
  const uc = makeUseCase(files);
  try {
    prepare?.(uc.dir);
    loadUseCase({
      configPath: 'experiment.yaml',
      cwd: uc.dir,
      processEnv: baseEnv,
      host: new MemoryHost(),
      needs: 'all',
    });
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.map(formatProblem);
  } finally {
    uc.cleanup();
  }
}

test('a dataset given by an absolute path outside the repository is refused at its line, naming where it points', () => {
  const problems = load({ 'experiment.yaml': x('source: data/train.jsonl', `source: ${outsideFile}`) });
  expect(problems).toEqual([
    `experiment.yaml:10:13: datasets[0].source: ${JSON.stringify(outsideFile)} resolves to ${outsideFile}, outside the repository .; expected a dataset inside it (or set execution.data_outside_repository: true)`,
  ]);
});

test('a symlink inside the repository that points outside is refused too', () => {
  const problems = load({ 'data/train.jsonl': null }, (dir) =>
    symlinkSync(outsideFile, path.join(dir, 'data/train.jsonl')),
  );
  expect(problems).toHaveLength(1);
  expect(problems[0]).toContain(
    `datasets[0].source: "data/train.jsonl" resolves to ${outsideFile}, outside the repository`,
  );
});

test('an evaluator dataset outside the repository is refused as well', () => {
  const problems = load({ 'experiment.yaml': x('source: data/eval.jsonl', `source: ${outsideFile}`) });
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(
    /^experiment\.yaml:\d+:\d+: evaluators\[0\]\.datasets\[0\]\.source: .* outside the repository/,
  );
});

test('execution.data_outside_repository: true lets the user opt out', () => {
  const experiment = `${x('source: data/train.jsonl', `source: ${outsideFile}`)}execution:\n  data_outside_repository: true\n`;
  expect(load({ 'experiment.yaml': experiment })).toEqual([]);
});
