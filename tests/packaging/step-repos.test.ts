/**
 * One repository per step (`uses: llmops/<step>@v1`): scripts/step-repos.mjs generates each
 * repository's contents into a temporary folder; every action.yml is a valid node24 action
 * whose bundle exists, every README lists the step's inputs and outputs, and a generated
 * repository's action really runs on Node 24 from its own folder.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { gitHubHostInputs } from '../../src/packaging/host-inputs.js';
import { packagedSteps } from '../../src/packaging/steps.js';
import { nodeBinary } from '../helpers/node-runtimes.js';

const root = process.cwd();
const out = mkdtempSync(path.join(os.tmpdir(), 'llmops-step-repos-'));
const ajv = new Ajv({ allErrors: true, strict: false });
const validAction = ajv.compile(
  JSON.parse(readFileSync(path.join(root, 'tests/packaging/schemas/action.schema.json'), 'utf8')),
);

beforeAll(() => {
  execFileSync(
    process.execPath,
    ['scripts/step-repos.mjs', out, '--owner', 'llmops', '--source-repo', 'example-org/llmops', '--version', 'v1.4.2'],
    { cwd: root, stdio: 'pipe' },
  );
}, 300_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

test('one repository per packaged step, and nothing else', () => {
  expect(readdirSync(out).sort()).toEqual(packagedSteps.map((p) => p.step.name).sort());
});

test.each(packagedSteps.map((p) => p.step.name))(
  'llmops/%s: a valid node24 action.yml at the root, its bundle and assets in dist/, a README with every input and output',
  (name) => {
    const repo = path.join(out, name);
    const step = packagedSteps.find((p) => p.step.name === name)!.step;
    expect(readdirSync(repo).sort()).toEqual(['README.md', 'action.yml', 'dist']);
    const action = parse(readFileSync(path.join(repo, 'action.yml'), 'utf8'));
    expect(validAction(action) ? [] : validAction.errors).toEqual([]);
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    expect(Object.keys(action.inputs).sort()).toEqual(
      [...step.inputs.map((i) => i.name), ...gitHubHostInputs.map((i) => i.name)].sort(),
    );
    expect(Object.keys(action.outputs).sort()).toEqual(step.outputs.map((o) => o.name).sort());
    for (const file of [
      'dist/index.js',
      'dist/package.json',
      'dist/schemas/experiment.schema.json',
      'dist/src/shared/engine/python',
      'dist/src/shared/eval/judges/groundedness.prompty',
    ])
      expect(existsSync(path.join(repo, file))).toBe(true);
    // The bundle imports only its own chunks: nothing outside the repository.
    const imports = [
      ...readFileSync(path.join(repo, 'dist/index.js'), 'utf8').matchAll(/from\s+["'](\.[^"']+)["']/g),
    ].map((m) => path.resolve(repo, 'dist', m[1]));
    for (const file of imports) expect(existsSync(file) && file.startsWith(repo)).toBe(true);

    const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
    expect(readme).toContain(`uses: llmops/${name}@v1`);
    expect(readme).toContain('v1.4.2');
    expect(readme).toContain(`uses: example-org/llmops/actions/${name}@v1`);
    for (const input of Object.keys(action.inputs)) expect(readme).toContain(`| \`${input}\` |`);
    for (const output of step.outputs)
      expect(readme).toContain(`| \`${output.name}\` | ${output.description.replace(/\|/g, '\\|')} |`);
  },
);

test('the generated validate repository runs on Node 24 from its own folder: the first useful line, outputs in GITHUB_OUTPUT', () => {
  const repo = path.join(out, 'validate');
  const outputs = path.join(out, 'github-output');
  writeFileSync(outputs, '');
  const r = spawnSync(nodeBinary(24), [path.join(repo, 'dist/index.js')], {
    cwd: root,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      INPUT_CONFIG: 'examples/web_classification/experiment.yaml',
      AOAI_API_BASE: 'http://127.0.0.1:9',
      AOAI_API_KEY: 'sk-step-repo',
      GITHUB_OUTPUT: outputs,
    },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('examples/web_classification/experiment.yaml: valid');
  expect(readFileSync(outputs, 'utf8')).toMatch(
    /^experiment-name<<ghadelimiter_[0-9a-f-]+\nweb_classification\nghadelimiter_/m,
  );
});
