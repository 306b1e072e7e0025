/**
 * Code-only evaluators through bulk-run → evaluate → report with the local model server: eval_
 * functions calling promptflow.evals / azure.ai.evaluation with `target=` the flow function, their
 * scores joined to the report, and the user's errors (signature, syntax, import, run time) as theirs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadUseCase } from '../../../src/shared/config/use-case.js';
import { ConfigError, ExitCode, GateFailed } from '../../../src/shared/errors.js';
import { MemoryHost } from '../../../src/shared/host/memory.js';
import { startModelServer, type ModelServerHandle } from '../../../src/model-server/index.js';
import { readLineRecords, readRunRecord } from '../../../src/shared/runs/index.js';
import { bulkRunStep } from '../../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../../src/shared/steps/evaluate.js';
import { reportStep } from '../../../src/shared/steps/report.js';
import { makeUseCase } from '../../helpers/use-case-dir.js';
import { files, rules } from './qa-app.js';

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({ rules });
  process.env.AOAI_API_BASE = server.url;
  process.env.AOAI_API_KEY = 'local-test-key';
});
afterAll(() => server.close());

function steps(dir: string, host = new MemoryHost()) {
  const common = { config: path.join(dir, 'qa_app/experiment.yaml'), store: path.join(dir, '.llmops') };
  return {
    bulkRun: () => bulkRunStep.run({ ...common, cacheMode: 'off' }, host),
    evaluate: (resume = false) => evaluateStep.run({ ...common, cacheMode: 'off', resume }, host),
    report: () => reportStep.run({ ...common, outputDir: path.join(dir, 'reports') }, host),
    store: common.store,
  };
}

async function records(store: string, runId: string) {
  const out = [];
  for await (const r of readLineRecords(path.join(store, 'runs', runId, 'outputs.jsonl'))) out.push(r);
  return out.sort((a, b) => a.line_number - b.line_number);
}

test('eval_ functions in both SDK forms run their target line by line; their scores and metrics join the report', async () => {
  const uc = makeUseCase(files);
  try {
    const s = steps(uc.dir);
    await s.bulkRun();
    const { evaluations } = await s.evaluate();
    expect(evaluations).toHaveLength(1);
    const e = evaluations[0];
    expect(e).toMatchObject({ evaluator: 'quality', dataset: 'qa_eval', lines: 2, failed: 0 });
    expect(e.metrics).toEqual({
      'grounded.gpt_groundedness': 4,
      'f1.f1_score': expect.closeTo(0.9, 10),
      'length.words': 6,
      'relevance.relevance': 5,
      'relevance.gpt_relevance': 5,
    });

    // The run store holds a completed evaluation run with per-line scores and the judges' tokens.
    const run = readRunRecord(s.store, e.runId);
    expect(run).toMatchObject({ status: 'Completed', counts: { total: 2, completed: 2, failed: 0 } });
    expect(run.llm_calls).toBe(2 * 2 + 2 * 2); // per line: the target twice (one per eval file) and one judge per file
    expect(run.tokens.total).toBeGreaterThan(0);
    const lines = await records(s.store, e.runId);
    expect(lines.map((l) => l.outputs)).toEqual([
      {
        'grounded.gpt_groundedness': 4,
        'f1.f1_score': 1,
        'length.words': 6,
        'relevance.relevance': 5,
        'relevance.gpt_relevance': 5,
        'relevance.relevance_reason': 'answers the question',
      },
      {
        'grounded.gpt_groundedness': 4,
        'f1.f1_score': expect.closeTo(0.8, 10),
        'length.words': 6,
        'relevance.relevance': 5,
        'relevance.gpt_relevance': 5,
        'relevance.relevance_reason': 'answers the question',
      },
    ]);
    expect(lines[1].inputs).toMatchObject({
      question: 'What is the capital of Italy?',
      'target.answer': 'The capital of Italy is Paris.',
    });

    const { results } = await s.report();
    const metric = (name: string) => results.metrics.find((m) => m.evaluator === 'quality' && m.metric === name);
    expect(metric('grounded.gpt_groundedness')).toMatchObject({
      value: 4,
      kind: 'likert',
      scoreKey: 'quality.grounded.gpt_groundedness',
    });
    expect(metric('f1.f1_score')?.value).toBeCloseTo(0.9, 10);
    expect(metric('relevance.relevance')).toMatchObject({ value: 5 });
    // results.json holds every line in line order, with its scores.
    const json = JSON.parse(readFileSync(path.join(uc.dir, 'reports/results.json'), 'utf8'));
    expect(json.lines.map((l: { scores: Record<string, unknown> }) => l.scores['quality.f1.f1_score'])).toEqual([
      1,
      expect.closeTo(0.8, 10),
    ]);
    expect(json.evaluations[0].metrics['grounded.gpt_groundedness']).toBe(4);
    const csv = readFileSync(path.join(uc.dir, 'reports/quality_metrics.csv'), 'utf8');
    expect(csv).toContain('grounded.gpt_groundedness');
    expect(csv).toContain('relevance.gpt_relevance');
    expect(readFileSync(path.join(uc.dir, 'reports/quality_result.csv'), 'utf8')).toContain('quality.f1.f1_score');
  } finally {
    uc.cleanup();
  }
});

test('an eval_ function whose signature cannot take the four arguments is refused at load: exit 2 at file:line', () => {
  const uc = makeUseCase({
    ...files,
    'qa_app/flows/eval_code/eval_relevance.py': null,
    'qa_app/flows/eval_code/eval_quality.py':
      'import os\n\n\ndef eval_quality(run_name, data_path):\n    return {}\n\n\ndef eval_other(a, b, c, d, e, *, f):\n    return {}\n',
  });
  try {
    const error = (() => {
      try {
        loadUseCase({
          configPath: path.join(uc.dir, 'qa_app/experiment.yaml'),
          cwd: uc.dir,
          processEnv: { AOAI_API_BASE: 'http://127.0.0.1:9', AOAI_API_KEY: 'k' },
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(ExitCode.InvalidInput);
    const problems = (error as ConfigError).problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
    expect(problems).toEqual([
      expect.stringMatching(
        /^qa_app\/flows\/eval_code\/eval_quality\.py:4: eval_quality: takes 2 positional parameters \(run_name, data_path\), but it is called with 4, expected def eval_<name>\(run_name, data_path, column_mapping, output_path/,
      ),
      expect.stringMatching(
        /^qa_app\/flows\/eval_code\/eval_quality\.py:8: eval_other: parameter e has no default, but only 4 arguments are passed/,
      ),
    ]);
  } finally {
    uc.cleanup();
  }
});

test('a syntax error in an eval_*.py file is refused at load with its line', () => {
  const uc = makeUseCase({
    ...files,
    'qa_app/flows/eval_code/eval_relevance.py':
      'def eval_relevance(run_name, data_path, column_mapping, output_path)\n    return {}\n',
  });
  try {
    let error: unknown;
    try {
      loadUseCase({
        configPath: path.join(uc.dir, 'qa_app/experiment.yaml'),
        cwd: uc.dir,
        processEnv: { AOAI_API_BASE: 'http://127.0.0.1:9', AOAI_API_KEY: 'k' },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.objectContaining({
        file: 'qa_app/flows/eval_code/eval_relevance.py',
        line: 1,
        message: expect.stringContaining('Python syntax error'),
      }),
    ]);
  } finally {
    uc.cleanup();
  }
});

test('an eval_ file importing a missing module stops evaluate with exit 2 at its line, before any model call', async () => {
  const uc = makeUseCase({
    ...files,
    'qa_app/flows/eval_code/eval_relevance.py':
      'import os\nimport not_installed_module_xyz\n\n\ndef eval_relevance(run_name, data_path, column_mapping, output_path):\n    return None\n',
  });
  try {
    const s = steps(uc.dir);
    await s.bulkRun();
    const served = server.stats().requests;
    const error = await s.evaluate().catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.objectContaining({
        line: 2,
        message: expect.stringContaining("No module named 'not_installed_module_xyz'"),
      }),
    ]);
    expect((error as ConfigError).problems[0].file).toMatch(/eval_relevance\.py$/);
    expect(server.stats().requests).toBe(served);
  } finally {
    uc.cleanup();
  }
});

test("run-time errors are the evaluator's: a raising eval_ function fails its run with file:line, a failing line is recorded with its error", async () => {
  const failingEvaluator = files['qa_app/flows/eval_code/eval_quality.py'].replace(
    'def answer_words(answer):\n',
    'def answer_words(answer):\n    if "Italy" in answer:\n        raise ValueError("no words for Italy")\n',
  );
  const uc = makeUseCase({
    ...files,
    'qa_app/flows/eval_code/eval_quality.py': failingEvaluator,
    'qa_app/flows/eval_code/eval_relevance.py':
      'def eval_relevance(run_name, data_path, column_mapping, output_path):\n    raise RuntimeError("broken on purpose")\n',
  });
  try {
    const s = steps(uc.dir);
    await s.bulkRun();
    const error = await s.evaluate().catch((e) => e);
    expect(error).toBeInstanceOf(GateFailed);
    expect((error as GateFailed).failures[0]).toMatch(
      /2 of 2 evaluation lines failed .*eval_relevance failed at .*eval_relevance\.py:2: \(RuntimeError\) broken on purpose/,
    );
    const runs = JSON.parse(readFileSync(path.join(s.store, 'experiments/qa_app/evaluations.json'), 'utf8'));
    const runId = runs.evaluations[0].runId;
    const run = readRunRecord(s.store, runId);
    expect(run.status).toBe('Completed'); // one of its two functions ran
    const lines = await records(s.store, runId);
    expect(lines.map((l) => l.status)).toEqual(['Failed', 'Failed']);
    expect(lines[1].error?.message).toContain("evaluator 'length' failed: (ValueError) no words for Italy");
    expect(lines[1].error?.debugInfo?.stackTrace).toMatch(/eval_quality\.py", line \d+, in answer_words/);
    expect(lines[0].error?.message).not.toContain('Italy');
    expect(readFileSync(path.join(s.store, 'runs', runId, 'evaluation', 'eval_relevance.log'), 'utf8')).toContain(
      'RuntimeError: broken on purpose',
    );
    expect(lines[0].outputs).toMatchObject({ 'grounded.gpt_groundedness': 4, 'length.words': 6 });
  } finally {
    uc.cleanup();
  }
});

test('failed lines of a code evaluator that itself ran say why in the step verdict: the first line error', async () => {
  const uc = makeUseCase({
    ...files,
    'qa_app/flows/eval_code/eval_quality.py': files['qa_app/flows/eval_code/eval_quality.py'].replace(
      'def answer_words(answer):\n',
      'def answer_words(answer):\n    if "Italy" in answer:\n        raise ValueError("no words for Italy")\n',
    ),
  });
  try {
    const s = steps(uc.dir);
    await s.bulkRun();
    const error = await s.evaluate().catch((e) => e);
    expect(error).toBeInstanceOf(GateFailed);
    const why =
      /1 of 2 evaluation lines failed \(tolerance 0\): Failed to run 1\/2 lines\. First error message is: evaluator 'length' failed: \(ValueError\) no words for Italy/;
    expect((error as GateFailed).failures[0]).toMatch(why);
    // Resumed, the run finished earlier is kept, and the verdict still says why.
    const again = await s.evaluate(true).catch((e) => e);
    expect((again as GateFailed).failures[0]).toMatch(why);
  } finally {
    uc.cleanup();
  }
});

test('the template-style folder is what validate sees: no flow file needed', () => {
  const uc = makeUseCase(files);
  try {
    writeFileSync(path.join(uc.dir, 'qa_app/flows/eval_code/helpers.py'), 'X = 1\n');
    const useCase = loadUseCase({
      configPath: path.join(uc.dir, 'qa_app/experiment.yaml'),
      cwd: uc.dir,
      processEnv: { AOAI_API_BASE: 'http://127.0.0.1:9', AOAI_API_KEY: 'k' },
    });
    const code = useCase.evaluators[0].code!;
    expect(useCase.evaluators[0].flow).toBeUndefined();
    expect(code.functions.map((f) => [path.basename(f.file), f.name, f.line, f.params])).toEqual([
      ['eval_quality.py', 'eval_quality', 13, ['run_name', 'data_path', 'column_mapping', 'output_path']],
      ['eval_relevance.py', 'eval_relevance', 7, ['run_name', 'data_path', 'column_mapping', 'output_path']],
    ]);
  } finally {
    uc.cleanup();
  }
});

test("the stand-in's model calls share the engine's response cache: evaluating again calls the model no more", async () => {
  const uc = makeUseCase(files);
  try {
    const common = { config: path.join(uc.dir, 'qa_app/experiment.yaml'), store: path.join(uc.dir, '.llmops') };
    const host = new MemoryHost();
    await bulkRunStep.run({ ...common, cacheMode: 'readwrite' }, host);
    const first = (await evaluateStep.run({ ...common, cacheMode: 'readwrite' }, host)).evaluations[0];
    const served = server.stats().requests;
    const again = (await evaluateStep.run({ ...common, cacheMode: 'readwrite' }, host)).evaluations[0];
    expect(server.stats().requests).toBe(served);
    expect(again.metrics).toEqual(first.metrics);
  } finally {
    uc.cleanup();
  }
});
