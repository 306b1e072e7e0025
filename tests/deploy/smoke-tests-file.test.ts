/** The smoke tests file: a misspelt key is an error at its line naming the key that was likely meant. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSmokeTests } from '../../src/shared/deploy/index.js';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';

test('misspelt keys of a smoke test say which key was meant, at their line', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-smoke-'));
  try {
    const file = path.join(dir, 'smoke.yaml');
    writeFileSync(
      file,
      'tests:\n  - name: t1\n    request: {question: hi}\n    expect:\n      staus: 200\n      values:\n        - {path: $.answer, contians: hi}\n',
    );
    let error: unknown;
    try {
      loadSmokeTests(file, dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map(formatProblem)).toEqual([
      `smoke.yaml:5:7: tests[0].expect.staus: unknown key; did you mean "status"?`,
      `smoke.yaml:7:28: tests[0].expect.values[0].contians: unknown key; did you mean "contains"?`,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
