/**
 * bulk-run → evaluate → report on small use cases: built-in evaluators, an LLM judge through the
 * local model server, row alignment, the failed-line tolerance, and a failing gate (exit 1).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ExitCode, formatProblem, GateFailed } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import type { Results } from '../../src/shared/results/model.js';
import { reportStep } from '../../src/shared/steps/report.js';
import { baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({
    rules: [{ match: 'Rate the relevance', scope: 'all', json: { score: 4, reason: 'addresses the question' } }],
  });
  process.env.AOAI_API_BASE = server.url;
  process.env.AOAI_API_KEY = 'local-test-key';
});
afterAll(() => server.close());

const data =
  [
    '{"question": "a", "answer": "a"}',
    '{"question": "b", "answer": "b"}',
    '{"question": "c", "answer": "x"}',
    '{"question": "d", "answer": "d"}',
  ].join('\n') + '\n';
const withEvaluators = (evaluators: string, extra = '') =>
  baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')) + evaluators + extra;

/** The report folder's results.json: the results with every line (the step returns them without lines). */
function reportedResults(dir: string): Results {
  return JSON.parse(readFileSync(path.join(dir, 'reports/results.json'), 'utf8')) as Results;
}

async function lifecycle(dir: string, host = new MemoryHost()) {
  const common = { config: path.join(dir, 'experiment.yaml'), store: path.join(dir, '.llmops') };
  await bulkRunStep.run({ ...common, cacheMode: 'off' }, host);
  await evaluateStep.run({ ...common, cacheMode: 'off' }, host);
  return reportStep.run({ ...common, outputDir: path.join(dir, 'reports') }, host);
}

test('a built-in exact_match evaluator scores every line; a gate below it fails with exit 1 after writing the reports', async () => {
  const uc = makeUseCase({
    'data/train.jsonl': data,
    'experiment.yaml': withEvaluators(
      'evaluators:\n  - name: exact\n    builtin: exact_match\n    datasets:\n      - name: train\n        mappings:\n          prediction: ${run.outputs.answer}\n          reference: ${data.answer}\n',
      'gates:\n  - metric: exact_match\n    min: 0.9\n',
    ),
  });
  try {
    const host = new MemoryHost();
    const error = await lifecycle(uc.dir, host).catch((e) => e);
    expect(error).toBeInstanceOf(GateFailed);
    expect((error as GateFailed).exitCode).toBe(ExitCode.GateFailed);
    expect((error as GateFailed).failures).toEqual([
      'exact_match ≥ 0.9 [default]: exact_match is 0.75, below the minimum 0.9',
    ]);
    expect(host.outputs.get('gates-passed')).toBe('false');
    const results = JSON.parse(readFileSync(path.join(uc.dir, 'reports/results.json'), 'utf8'));
    expect(results.metrics).toEqual([
      expect.objectContaining({
        evaluator: 'exact',
        metric: 'exact_match',
        value: 0.75,
        kind: 'boolean',
        scoreKey: 'exact.exact_match',
      }),
    ]);
    expect(readFileSync(path.join(uc.dir, 'reports/results.junit.xml'), 'utf8')).toContain('<failure');
    expect(host.summary).toContain('exact_match');
  } finally {
    uc.cleanup();
  }
});

test('an LLM-judged evaluator runs its judge prompty through the engine (likert scores)', async () => {
  const uc = makeUseCase({
    'data/train.jsonl': data,
    'experiment.yaml': withEvaluators(
      'evaluators:\n  - name: judge\n    builtin: relevance\n    options:\n      connection: aoai\n      deployment: gpt-4o\n    datasets:\n      - name: train\n        mappings:\n          question: ${data.question}\n          answer: ${run.outputs.answer}\n',
    ),
  });
  try {
    const { results } = await lifecycle(uc.dir);
    expect(results.metrics).toEqual([
      expect.objectContaining({ evaluator: 'judge', metric: 'relevance', value: 4, kind: 'likert' }),
    ]);
    const { lines } = reportedResults(uc.dir);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.scores['judge.reason'] === 'addresses the question')).toBe(true);
  } finally {
    uc.cleanup();
  }
});

test('embedding similarity embeds both texts through the engine: identical texts score 1, others less', async () => {
  const sentences = [
    '{"question": "the cat sat on the mat", "answer": "the cat sat on the mat"}',
    '{"question": "a red car in the street", "answer": "a blue car in the street"}',
    '{"question": "stock prices fell", "answer": "the weather is sunny"}',
    '{"question": "open the door", "answer": "open the window"}',
  ];
  const uc = makeUseCase({
    'data/train.jsonl': sentences.join('\n') + '\n',
    'experiment.yaml': withEvaluators(
      'evaluators:\n  - name: semantic\n    builtin: embedding_similarity\n    options:\n      connection: aoai\n      deployment: text-embedding-3-small\n    datasets:\n      - name: train\n        mappings:\n          prediction: ${run.outputs.answer}\n          reference: ${data.answer}\n',
    ),
  });
  try {
    const { results } = await lifecycle(uc.dir);
    const byLine = Object.fromEntries(
      reportedResults(uc.dir).lines.map((l) => [l.lineNumber, l.scores['semantic.embedding_similarity'] as number]),
    );
    expect(byLine[0]).toBeCloseTo(1, 10); // the same text
    expect(byLine[1]).toBeGreaterThan(byLine[2]); // one word apart vs nothing in common
    expect(byLine[1]).toBeLessThan(1);
    expect(results.metrics).toEqual([expect.objectContaining({ metric: 'embedding_similarity', kind: 'continuous' })]);
    const evalRun = results.evaluations[0];
    const runJson = JSON.parse(readFileSync(path.join(uc.dir, '.llmops/runs', evalRun.runId, 'run.json'), 'utf8'));
    expect(runJson.llm_calls).toBe(4);
    expect(runJson.tokens.total).toBeGreaterThan(0);
  } finally {
    uc.cleanup();
  }
});

test('evaluation data not row-aligned with the run it scores is an input error at its place in experiment.yaml', async () => {
  const uc = makeUseCase({ 'data/train.jsonl': data, 'data/eval.jsonl': '{"answer": "a"}\n' });
  try {
    const common = { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops') };
    await bulkRunStep.run(common, new MemoryHost());
    const error = (await evaluateStep.run(common, new MemoryHost()).catch((e) => e)) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(formatProblem(error.problems[0])).toMatch(
      /experiment\.yaml:19:17: evaluators\[0\]\.datasets\[0\]: .*data\/eval\.jsonl has 1 rows but run demo\.default\.train\.\S+ of dataset "train" has 4 lines, expected row-aligned data \(or a line_number column\)$/,
    );
  } finally {
    uc.cleanup();
  }
});

test('failed lines beyond the tolerance fail bulk-run (exit 1) naming each line; within it the step passes', async () => {
  const flow =
    'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${check.output}\nnodes:\n- name: check\n  type: python\n  source:\n    type: code\n    path: check.py\n  inputs:\n    question: ${inputs.question}\n';
  const code =
    'from promptflow.core import tool\n\n\n@tool\ndef check(question: str) -> str:\n    if question == "c":\n        raise ValueError("no answer for c")\n    return question\n';
  const uc = makeUseCase({
    'data/train.jsonl': data,
    'flows/std/flow.dag.yaml': flow,
    'flows/std/check.py': code,
    'experiment.yaml': withEvaluators('evaluators:\n'),
  });
  try {
    const common = { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops') };
    const host = new MemoryHost();
    const error = (await bulkRunStep.run(common, host).catch((e) => e)) as GateFailed;
    expect(error).toBeInstanceOf(GateFailed);
    expect(error.failures[0]).toMatch(/^demo\.default\.train\.\S+: 1 of 4 lines failed \(tolerance 0\)$/);
    expect(error.failures[1]).toBe("  line 2: Execution failure in 'check': (ValueError) no answer for c");
    const annotation = host.lines.find((l) => l.level === 'error');
    expect(annotation?.at).toEqual({ file: expect.stringMatching(/data[/\\]train\.jsonl$/), line: 3 });
    expect(existsSync(host.outputs.get('runs-file')!)).toBe(true);
    await expect(bulkRunStep.run({ ...common, maxFailedLines: '25%' }, new MemoryHost())).resolves.toEqual(
      expect.objectContaining({ runs: [expect.objectContaining({ lines: 4, failed: 1 })] }),
    );
    // The JUnit test tab follows the same tolerance: within it, the failed line is not a failing test case.
    const reports = path.join(uc.dir, 'reports');
    await reportStep.run({ ...common, outputDir: reports }, new MemoryHost());
    const junit = () => readFileSync(path.join(reports, 'results.junit.xml'), 'utf8');
    expect(junit()).toContain('<failure');
    writeFileSync(
      path.join(uc.dir, 'experiment.yaml'),
      withEvaluators('evaluators:\n', 'execution:\n  max_failed_lines: 1\n'),
    );
    await reportStep.run({ ...common, outputDir: reports }, new MemoryHost());
    expect(junit()).not.toContain('<failure');
  } finally {
    uc.cleanup();
  }
});
