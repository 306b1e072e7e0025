/** `llmops validate` as a user runs it: the bundled CLI in a subprocess, exit codes and messages. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';
import { emptyDeploymentConfig, emptyDeploymentProblems } from '../helpers/placeholder-configs.js';

const cli = path.resolve('dist/cli.js');

function run(args: string[], cwd: string, env: Record<string, string> = baseEnv) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
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
  const uc = makeUseCase({
    'experiment.yaml': baseExperiment
      .replace('name: demo', 'name: [demo]')
      .replace('source: data/train.jsonl', 'source: data/nope.jsonl'),
  });
  try {
    const r = run(['validate', '--config', 'experiment.yaml'], uc.dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      'experiment.yaml:1:7: error: name: found a list, expected text [blocks: every step]',
      'experiment.yaml:10:13: error: datasets[0].source: file not found: data/nope.jsonl (looked in the use case folder and in its data/ folder) [blocks: every step]',
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
    const r = run(
      ['validate', '--config', 'examples/web_classification/experiment.yaml', ...extra],
      process.cwd(),
      env,
    );
    expect(r.stderr).toContain('valid');
    expect(r.code).toBe(0);
  }
});

describe('a use case whose deployment_config.json still holds the empty placeholders', () => {
  const files = {
    'configs/deployment_config.json': emptyDeploymentConfig,
    'sample-request.json': '{"question": "q1"}\n',
  };
  const asPrinted = (p: string) => p.replace(/^(\S+:\d+:\d+): /, '$1: error: ');

  test('register-data, bulk-run, evaluate and report run (exit 0), each with one warning and no problem printed', () => {
    const uc = makeUseCase(files);
    try {
      for (const step of ['register-data', 'bulk-run', 'evaluate', 'report']) {
        const r = run([step, '--config', 'experiment.yaml', '--store', '.llmops'], uc.dir);
        expect({ step, code: r.code }).toEqual({ step, code: 0 });
        const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: not used by'));
        expect(warnings).toEqual([
          `warning: not used by ${step}, so not checked further: configs/deployment_config.json (9 problems; blocks: deploy, smoke-test); \`llmops validate\` lists them`,
        ]);
        expect(r.stderr).not.toContain('ENDPOINT_NAME');
      }
    } finally {
      uc.cleanup();
    }
  });

  // The local target reads none of those names (tests/deploy/deploy.test.ts deploys it with this file).
  test('deploy to Azure ML stops (exit 2) before starting anything, each problem once with file:line:column', () => {
    const uc = makeUseCase(files);
    try {
      const r = run(
        ['deploy', '--target', 'azure-managed', '--config', 'experiment.yaml', '--state-dir', '.llmops'],
        uc.dir,
      );
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([
        ...emptyDeploymentProblems.map(asPrinted),
        'error: 9 problems found; nothing was run.',
      ]);
    } finally {
      uc.cleanup();
    }
  });

  test('validate reports each problem once, with the steps it blocks', () => {
    const uc = makeUseCase(files);
    try {
      const r = run(['validate', '--config', 'experiment.yaml'], uc.dir);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([
        ...emptyDeploymentProblems.map((p) => `${asPrinted(p)} [blocks: deploy, smoke-test]`),
        'error: 9 problems found; nothing was run.',
      ]);
    } finally {
      uc.cleanup();
    }
  });

  test("validate lists the flows' Python problems too, each with the steps it blocks, in the same pass", () => {
    const uc = makeUseCase({
      ...files,
      'flows/std/flow.dag.yaml':
        'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${fetch.output}\nnodes:\n- name: fetch\n  type: python\n  source: {type: code, path: fetch.py}\n  inputs:\n    question: ${inputs.question}\n',
      'flows/std/fetch.py':
        'from promptflow.core import tool\nimport llmops_surely_not_installed_mod\n\n\n@tool\ndef fetch(question: str) -> str:\n    return question\n',
      'flows/std/requirements.txt': 'llmops-surely-not-installed-mod\n',
      'flows/eval/flow.dag.yaml':
        'inputs:\n  answer:\n    type: string\n  prediction:\n    type: string\noutputs:\n  ok:\n    type: string\n    reference: ${score.output}\nnodes:\n- name: score\n  type: python\n  source: {type: code, path: score.py}\n  inputs:\n    answer: ${inputs.answer}\n',
      'flows/eval/score.py':
        'from promptflow.core import tool\n\n\n@tool\ndef score(answer: str) -> str:\n    return answer +\n',
    });
    try {
      const r = run(['validate', '--config', 'experiment.yaml'], uc.dir);
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines.slice(0, 9)).toEqual(
        emptyDeploymentProblems.map((p) => `${asPrinted(p)} [blocks: deploy, smoke-test]`),
      );
      expect(lines[9]).toMatch(
        /^flows\/std\/fetch\.py:2: error: node fetch: module "llmops_surely_not_installed_mod" is imported but not installed; flows\/std\/requirements\.txt:1 lists it .* \[blocks: bulk-run, deploy, smoke-test\]$/,
      );
      expect(lines[10]).toMatch(
        /^flows\/eval\/score\.py:6:\d+: error: node score: SyntaxError.* \[blocks: evaluate\]$/,
      );
      expect(lines[11]).toBe('error: 11 problems found; nothing was run.');
    } finally {
      uc.cleanup();
    }
  });
});
