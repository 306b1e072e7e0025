/**
 * What validates runs, and every step reads variables the same way (the environment, then .env at the
 * repository root): the bundled CLI in subprocesses, against the local model server on loopback.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deploymentName, stopLocalDeployment } from '../../src/shared/deploy/index.js';
import { startModelServer } from '../../src/model-server/index.js';
import { baseEnv, llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';

const cli = path.resolve('dist/cli.js');

/** The CLI as a child process, without blocking this process (it serves the model). */
function run(
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', LLMOPS_CLI: cli, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('a connection named only in the flow', () => {
  // The flow's llm node names a connection the experiment does not define.
  const files = llmNodeFlow('team_aoai', 'gpt-4o');

  test('validate and bulk-run agree: the environment connection (here from .env) is used, and the run calls the model', async () => {
    const model = await startModelServer({});
    const uc = makeUseCase(files);
    try {
      writeFileSync(
        path.join(uc.dir, '.env'),
        `AZURE_OPENAI_ENDPOINT=${model.url}\nAZURE_OPENAI_API_KEY=dotenv-key-9876\n`,
      );
      const validate = await run(['validate', '--config', 'experiment.yaml'], uc.dir, baseEnv);
      expect(validate.code).toBe(0);
      const bulk = await run(
        ['bulk-run', '--config', 'experiment.yaml', '--store', '.llmops', '--cache-mode', 'off'],
        uc.dir,
        baseEnv,
      );
      expect(bulk.stderr).not.toContain('dotenv-key-9876');
      expect(bulk.code).toBe(0);
      expect(bulk.stdout).toContain('failed-lines=0');
      const runId = /run-ids=(\S+)/.exec(bulk.stdout)![1];
      const record = JSON.parse(
        readFileSync(path.join(uc.dir, '.llmops', 'runs', runId, 'outputs.jsonl'), 'utf8')
          .trim()
          .split('\n')[0],
      );
      expect(String(record.outputs.answer)).toContain('q1');
    } finally {
      uc.cleanup();
      await model.close();
    }
  });

  test('unresolvable: validate and bulk-run both stop at load (exit 2) with the one same message, at the node, naming the variables looked for', async () => {
    const uc = makeUseCase(files);
    try {
      const env = { ...baseEnv, AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:9' };
      const expected =
        'flows/std/flow.dag.yaml:17:3: error: node ask (llm): connection "team_aoai" is not defined: it is not in the connections of experiment.yaml, and the environment has none to stand in for it (looked for AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY, or OPENAI_API_KEY); add it to connections in experiment.yaml, or set those variables in CI secrets or .env at the repository root';
      const validate = await run(['validate', '--config', 'experiment.yaml'], uc.dir, env);
      expect(validate.code).toBe(2);
      expect(validate.stderr.trim().split('\n')).toEqual([
        `${expected} [blocks: bulk-run, evaluate, deploy]`,
        'error: 1 problem found; nothing was run.',
      ]);
      const bulk = await run(['bulk-run', '--config', 'experiment.yaml', '--store', '.llmops'], uc.dir, env);
      expect(bulk.code).toBe(2);
      expect(bulk.stderr.trim().split('\n')).toEqual([expected, 'error: 1 problem found; nothing was run.']);
      expect(bulk.stderr).not.toContain('127.0.0.1');
    } finally {
      uc.cleanup();
    }
  });
});

describe('deploy --api-key-env reads .env like every other step', () => {
  const files = { 'sample-request.json': '{"question": "q1"}\n' };

  test('a key set only in .env: the server requires it and the deploy smoke test passes with it', async () => {
    const uc = makeUseCase(files);
    const stateDir = path.join(uc.dir, '.llmops');
    try {
      writeFileSync(path.join(uc.dir, '.env'), 'SERVE_KEY=dotenv-serve-key-4321\n');
      const r = await run(
        ['deploy', '--config', 'experiment.yaml', '--state-dir', stateDir, '--api-key-env', 'SERVE_KEY'],
        uc.dir,
        baseEnv,
      );
      expect(r.stderr).not.toContain('dotenv-serve-key-4321');
      expect(r.code).toBe(0);
      const endpoint = /endpoint=(\S+)/.exec(r.stdout)![1];
      const anonymous = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"question": "q"}',
      });
      expect(anonymous.status).toBe(401);
      const keyed = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer dotenv-serve-key-4321' },
        body: '{"question": "q"}',
      });
      expect(keyed.status).toBe(200);
    } finally {
      await stopLocalDeployment(stateDir, deploymentName('demo', undefined)).catch(() => undefined);
      uc.cleanup();
    }
  }, 60_000);

  test('a key set nowhere: exit 2 before anything starts, naming where it looked', async () => {
    const uc = makeUseCase(files);
    try {
      const r = await run(
        ['deploy', '--config', 'experiment.yaml', '--state-dir', '.llmops', '--api-key-env', 'SERVE_KEY'],
        uc.dir,
        baseEnv,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(
        'input "api-key-env": error: environment variable SERVE_KEY is not set or empty (looked in the environment and in .env at the repository root)',
      );
    } finally {
      uc.cleanup();
    }
  });
});
