/**
 * The bundled CLI on every Node.js version package.json declares (22 and 24, from
 * scripts/runtimes): the lifecycle on examples/web_classification — validate, bulk-run,
 * evaluate, report — against the local model server, each step a real CLI process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DECLARED_NODE_MAJORS, nodeBinary } from '../helpers/node-runtimes.js';
import { exampleConfig, startExampleModel } from './lifecycle-fixture.js';

const cli = path.resolve('dist/cli.js');
let model: { url: string; close(): Promise<void> };
const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-cli-runtimes-'));

beforeAll(async () => {
  model = await startExampleModel({ childProcess: true });
}, 120_000);

afterAll(async () => {
  await model?.close();
  rmSync(work, { recursive: true, force: true });
});

test('package.json declares exactly the runtimes the tests run on', () => {
  const { engines } = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
  expect(engines.node).toBe('>=22.13');
  expect(DECLARED_NODE_MAJORS).toEqual([22, 24]);
});

describe.each(DECLARED_NODE_MAJORS)('on Node %i', (major) => {
  test('validate, bulk-run, evaluate and report run end to end', () => {
    const node = nodeBinary(major);
    const store = path.join(work, `store-${major}`);
    const env = {
      PATH: `${path.dirname(node)}:${process.env.PATH ?? ''}`,
      HOME: work,
      AOAI_API_BASE: model.url,
      AOAI_API_KEY: 'sk-runtimes',
    };
    const run = (...args: string[]) => {
      const r = spawnSync(node, [cli, ...args], { encoding: 'utf8', env, timeout: 120_000 });
      if (r.status !== 0) throw new Error(`llmops ${args.join(' ')} on Node ${major}: exit ${r.status}\n${r.stderr}`);
      return r;
    };
    expect(spawnSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout).toMatch(
      new RegExp(`^${major}\\.`),
    );
    expect(run('validate', '--config', exampleConfig).stderr).toContain('valid');
    run('bulk-run', '--config', exampleConfig, '--store', store, '--cache-mode', 'off');
    run('evaluate', '--config', exampleConfig, '--store', store, '--cache-mode', 'off');
    run('report', '--config', exampleConfig, '--store', store, '--output-dir', path.join(store, 'reports'));
    expect(existsSync(path.join(store, 'reports', 'report.html'))).toBe(true);
  }, 300_000);
});
