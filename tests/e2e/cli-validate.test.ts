/** `llmops validate` as a user runs it: the bundled CLI in a subprocess, exit codes and messages. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const cli = path.resolve('dist/cli.js');

function run(args: string[], cwd: string, env: Record<string, string> = baseEnv) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a valid use case: exit 0, outputs on stdout, a summary on stderr', () => {
  const uc = makeUseCase({});
  try {
    const r = run(['validate', '--config', 'experiment.yaml'], uc.dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('experiment-name=demo\nflow-kind=dag\n');
    expect(r.stderr).toContain('experiment.yaml: valid');
    expect(r.stderr + r.stdout).not.toContain(baseEnv.AOAI_API_KEY);
  } finally {
    uc.cleanup();
  }
});

test('an invalid use case: exit 2, every problem in one pass, one line each with file:line:column, no stack trace, no secret', () => {
  const uc = makeUseCase({ 'experiment.yaml': baseExperiment.replace('name: demo', 'name: [demo]').replace('source: data/train.jsonl', 'source: data/nope.jsonl') });
  try {
    const r = run(['validate', '--config', 'experiment.yaml'], uc.dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      'experiment.yaml:1:7: error: name: found a list, expected text',
      'experiment.yaml:10:13: error: datasets[0].source: file not found: data/nope.jsonl (looked in the use case folder and in its data/ folder)',
      'error: 2 problems found; nothing was run.',
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain(baseEnv.AOAI_API_KEY);
  } finally {
    uc.cleanup();
  }
});

test('a bad input value is an input error (exit 2), not a crash', () => {
  const uc = makeUseCase({});
  try {
    const r = run(['validate', '--config', 'missing.yaml'], uc.dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing.yaml: error: file not found');
  } finally {
    uc.cleanup();
  }
});

test('the example use case validates, with its PR overlay too', () => {
  const env = { AOAI_API_KEY: 'local-key', AOAI_API_BASE: 'http://127.0.0.1:9' };
  for (const extra of [[], ['--env', 'pr'], ['--env', 'dev']]) {
    const r = run(['validate', '--config', 'examples/web_classification/experiment.yaml', ...extra], process.cwd(), env);
    expect(r.stderr).toContain('valid');
    expect(r.code).toBe(0);
  }
});
