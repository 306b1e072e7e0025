/**
 * PII seeded in a use case's data is redacted in every file a run writes (the secret-masking test's method: run
 * the lifecycle with the bundled CLI, then read every output file and both output streams) when the experiment
 * asks for it with `redaction: {run_store: true}`; the pii evaluator still sees the leak (the redactor's
 * placeholders count as findings) and its gate fails the run.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const cli = path.resolve('dist/cli.js');

function run(args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        LLMOPS_CLI: cli,
        LLMOPS_SUMMARY_FILE: path.join(cwd, 'out/summary.md'),
        ...baseEnv,
      },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const seeded = ['jane.roe@contoso.org', '4111 1111 1111 1111', '123-45-6789', 'GB82 WEST 1234 5698 7654 32'];
const questions = [
  'What is the capital of France?',
  `Write to ${seeded[0]} about the order.`,
  `Card ${seeded[1]}, SSN ${seeded[2]}.`,
  `Pay into IBAN ${seeded[3]} please.`,
];

test('seeded PII is in no file the lifecycle writes, nor in its logs; the pii gate still fails the run', async () => {
  const experiment =
    baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')) +
    'evaluators:\n  - name: leak\n    builtin: pii\n    datasets:\n      - name: train\n        mappings:\n          prediction: ${run.outputs.answer}\n' +
    'gates:\n  - metric: pii\n    max: 0\n' +
    'reports:\n  dir: out/reports\n' +
    'redaction:\n  run_store: true\n';
  const uc = makeUseCase({
    // The flow's own Python code prints what it got: no file or log may keep that either.
    'flows/std/flow.dag.yaml':
      'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${echo.output}\nnodes:\n- name: echo\n  type: python\n  source:\n    type: code\n    path: echo.py\n  inputs:\n    question: ${inputs.question}\n',
    'flows/std/echo.py':
      'from promptflow import tool\n\n\n@tool\ndef echo(question: str) -> str:\n    print(f"got: {question}", flush=True)\n    return question\n',
    'experiment.yaml': experiment,
    'data/train.jsonl': questions.map((q) => JSON.stringify({ question: q })).join('\n') + '\n',
  });
  try {
    const common = ['--config', 'experiment.yaml', '--store', 'out/.llmops'];
    const bulk = await run(['bulk-run', ...common, '--cache-mode', 'off'], uc.dir);
    expect(bulk.code).toBe(0);
    const evaluate = await run(['evaluate', ...common, '--cache-mode', 'off'], uc.dir);
    expect(evaluate.code).toBe(0);
    const report = await run(['report', ...common], uc.dir);
    expect({ code: report.code, out: report.out.slice(-600) }).toEqual({ code: 1, out: expect.stringMatching(/pii/) });

    const written = filesUnder(path.join(uc.dir, 'out'));
    expect(written.map((f) => path.relative(uc.dir, f))).toEqual(
      expect.arrayContaining([
        'out/summary.md',
        'out/reports/results.json',
        'out/reports/report.html',
        expect.stringMatching(/^out\/\.llmops\/runs\/.+\/outputs\.jsonl$/),
      ]),
    );
    for (const file of written) {
      const text = readFileSync(file, 'utf8');
      for (const value of seeded)
        expect({ file, leaked: text.includes(value) ? value : undefined }).toEqual({ file, leaked: undefined });
    }
    for (const value of seeded) expect(bulk.out + evaluate.out + report.out).not.toContain(value);
    // The leak is still measured: 3 of 4 answers held PII before redaction.
    const results = JSON.parse(readFileSync(path.join(uc.dir, 'out/reports/results.json'), 'utf8'));
    expect(results.metrics[0]).toMatchObject({ metric: 'pii', value: 0.75 });
    const runs = readdirSync(path.join(uc.dir, 'out/.llmops/runs'));
    const standard = runs.find((r) => !r.includes('leak'))!;
    const records = readFileSync(path.join(uc.dir, 'out/.llmops/runs', standard, 'outputs.jsonl'), 'utf8');
    expect(records).toMatch(/\[EMAIL_\d+\]/);
  } finally {
    uc.cleanup();
  }
});
