/** Loading a code-only evaluator folder: Python's ast, and the text reading used where Python is absent, agree. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/shared/errors.js';
import { isCodeEvaluatorFolder, loadCodeEvaluator } from '../../../src/shared/flow/index.js';

const source = `import os


def eval_one(run_name, data_id, column_mapping: dict, output_path, azure_service={}):
    return None


async def eval_two(
        run_name,
        data_path,
        column_mapping=None,
        output_path=(1, 2), *, extra=3):
    return None


def helper(a):
    return a
`;

test('ast and the text fallback read the same eval_ functions, names and lines', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-ce-'));
  try {
    writeFileSync(path.join(dir, 'eval_a.py'), source);
    writeFileSync(path.join(dir, 'other.py'), 'def eval_not_loaded(a, b, c, d):\n    pass\n');
    expect(isCodeEvaluatorFolder(dir)).toBe(true);
    const withPython = loadCodeEvaluator(dir);
    expect(withPython.functions.map((f) => [f.name, f.line, f.params, f.isAsync])).toEqual([
      ['eval_one', 4, ['run_name', 'data_id', 'column_mapping', 'output_path'], false],
      ['eval_two', 8, ['run_name', 'data_path', 'column_mapping', 'output_path'], true],
    ]);
    expect(loadCodeEvaluator(dir, { python: path.join(dir, 'no-such-python') })).toEqual(withPython);

    writeFileSync(path.join(dir, 'flow.flex.yaml'), 'entry: x:y\n');
    expect(isCodeEvaluatorFolder(dir)).toBe(false); // a flow file makes it a flow
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a folder whose eval_*.py files define no eval_ function is refused', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-ce-'));
  try {
    writeFileSync(path.join(dir, 'eval_x.py'), 'def helper():\n    pass\n');
    expect(() => loadCodeEvaluator(dir, { displayBase: dir })).toThrow(ConfigError);
    expect(() => loadCodeEvaluator(dir, { displayBase: dir })).toThrow(
      /found eval_\*\.py files \(eval_x\.py\) but no top-level eval_\* function/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
