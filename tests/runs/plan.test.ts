/**
 * The experiment plan as pure data: variant plans × datasets × evaluators, stable run ids, line counts, and the
 * estimate of calls, tokens and cost against a hand count.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { countChatTokens, DEFAULT_PRICES, loadTokenizers } from '../../src/shared/llm/index.js';
import { planExperiment } from '../../src/shared/runs/plan.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import { baseEnv, makeUseCase } from '../helpers/use-case-dir.js';

beforeAll(() => Object.assign(process.env, baseEnv));

/** Two llm nodes with two variants each; `max_tokens` 10 and 20. */
const twoVariedNodes: Record<string, string> = {
  'flows/std/flow.dag.yaml': `inputs:
  question:
    type: string
outputs:
  answer:
    type: string
    reference: \${b.output}
nodes:
- name: a
  use_variants: true
- name: b
  use_variants: true
node_variants:
  a:
    default_variant_id: v0
    variants:
      v0:
        node: { type: llm, source: { type: code, path: a.jinja2 }, inputs: { deployment_name: gpt-4o, max_tokens: 10, question: "\${inputs.question}" }, connection: aoai, api: chat }
      v1:
        node: { type: llm, source: { type: code, path: a.jinja2 }, inputs: { deployment_name: gpt-4o, max_tokens: 10, question: "\${inputs.question}" }, connection: aoai, api: chat }
  b:
    default_variant_id: v0
    variants:
      v0:
        node: { type: llm, source: { type: code, path: b.jinja2 }, inputs: { deployment_name: gpt-4o, max_tokens: 20, text: "\${a.output}" }, connection: aoai, api: chat }
      v1:
        node: { type: llm, source: { type: code, path: b.jinja2 }, inputs: { deployment_name: gpt-4o, max_tokens: 20, text: "\${a.output}" }, connection: aoai, api: chat }
`,
  'flows/std/a.jinja2': '# system:\nAnswer briefly.\n# user:\n{{question}}\n',
  'flows/std/b.jinja2': '# user:\nShorten: {{text}}\n',
  'data/train.jsonl':
    '{"question": "What is the capital of France?", "answer": "Paris"}\n{"question": "Two plus two?", "answer": "4"}\n{"question": "Colour of the sky?", "answer": "blue"}\n',
  'data/more.jsonl':
    '{"question": "Largest planet?", "answer": "Jupiter"}\n{"question": "Boiling point of water in C?", "answer": "100"}\n',
  'data/eval.jsonl': '{"answer": "Paris"}\n{"answer": "4"}\n{"answer": "blue"}\n',
  'experiment.yaml': `name: demo
flow: flows/std
connections:
  - name: aoai
    connection_type: AzureOpenAIConnection
    api_base: \${api_base}
    api_key: \${api_key}
datasets:
  - name: train
    source: data/train.jsonl
    mappings:
      question: \${data.question}
  - name: more
    source: data/more.jsonl
    mappings:
      question: \${data.question}
evaluators:
  - name: accuracy
    flow: flows/eval
    datasets:
      - name: train_eval
        reference: train
        source: data/eval.jsonl
        mappings:
          answer: \${data.answer}
          prediction: \${run.outputs.answer}
  - name: judge
    builtin: relevance
    options:
      connection: aoai
      deployment: gpt-4o
    datasets:
      - name: train
        mappings:
          question: \${data.question}
          answer: \${run.outputs.answer}
      - name: more
        mappings:
          question: \${data.question}
          answer: \${run.outputs.answer}
`,
};

const load = (dir: string) =>
  loadUseCase({ configPath: path.join(dir, 'experiment.yaml'), host: new MemoryHost(), needs: 'bulk-run' });

test('variant plans × datasets × evaluators: the runs and the evaluation jobs linking them', async () => {
  const uc = makeUseCase(twoVariedNodes);
  try {
    const useCase = load(uc.dir);
    const counts: Record<string, number> = {};
    for (const variants of ['defaults', 'one_at_a_time', 'cartesian'] as const) {
      const plan = await planExperiment(useCase, { variants, build: '7' });
      counts[variants] = plan.runs.length;
      const perDataset = plan.runs.length / 2;
      expect(plan.runs.filter((r) => r.dataset === 'train')).toHaveLength(perDataset);
      expect(plan.runs.map((r) => r.lines)).toEqual([...Array(perDataset).fill(3), ...Array(perDataset).fill(2)]);
      expect(plan.runs.every((r) => r.lineRange?.start === 0 && r.lineRange.end === r.lines)).toBe(true);
      // accuracy scores the train runs; the judge scores every run.
      expect(plan.evaluations.filter((e) => e.evaluator === 'accuracy').map((e) => e.standardRunId)).toEqual(
        plan.runs.filter((r) => r.dataset === 'train').map((r) => r.runId),
      );
      expect(plan.evaluations.filter((e) => e.evaluator === 'judge').map((e) => e.standardRunId)).toEqual(
        plan.runs.map((r) => r.runId),
      );
      expect(new Set([...plan.runs.map((r) => r.runId), ...plan.evaluations.map((e) => e.runId)]).size).toBe(
        plan.runs.length + plan.evaluations.length,
      );
      // Plain data: it survives JSON unchanged.
      expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    }
    expect(counts).toEqual({ defaults: 2, one_at_a_time: 6, cartesian: 8 });
    const cartesian = await planExperiment(useCase, { variants: 'cartesian', build: '7' });
    expect(cartesian.runs.filter((r) => r.dataset === 'train').map((r) => r.variantId)).toEqual([
      'default',
      'b.v1',
      'a.v1',
      'a.v1+b.v1',
    ]);
  } finally {
    uc.cleanup();
  }
});

test('run ids are stable across two plans of the same inputs and change with the data', async () => {
  const uc = makeUseCase(twoVariedNodes);
  try {
    const first = await planExperiment(load(uc.dir), { variants: 'cartesian', build: '1234' });
    const second = await planExperiment(load(uc.dir), { variants: 'cartesian', build: '1234' });
    expect(second.runs.map((r) => r.runId)).toEqual(first.runs.map((r) => r.runId));
    expect(second.evaluations.map((e) => e.runId)).toEqual(first.evaluations.map((e) => e.runId));
    expect(first.runs[0].runId).toMatch(/^demo\.default\.train\.1234\.[0-9a-f]{4}$/);
    // Without a build id the minute stamps the ids: the same minute, the same ids.
    const now = new Date('2026-12-07T10:11:12Z');
    const a = await planExperiment(load(uc.dir), { now });
    const b = await planExperiment(load(uc.dir), { now });
    expect(a.runs.map((r) => r.runId)).toEqual(b.runs.map((r) => r.runId));
    expect(a.runs[0].runId).toContain('.20261207-1011.');
    // An id already taken (in the store) is not reused.
    const taken = new Set([first.runs[0].runId]);
    const again = await planExperiment(load(uc.dir), {
      variants: 'cartesian',
      build: '1234',
      taken: (id) => taken.has(id),
    });
    expect(again.runs[0].runId).toBe(`${first.runs[0].runId}.2`);
    expect(again.runs.slice(1).map((r) => r.runId)).toEqual(first.runs.slice(1).map((r) => r.runId));
    // Other data under the same build: another id.
    writeFileSync(path.join(uc.dir, 'data/train.jsonl'), '{"question": "changed", "answer": "x"}\n');
    const changed = await planExperiment(load(uc.dir), { variants: 'cartesian', build: '1234' });
    expect(changed.runs[0].runId).not.toBe(first.runs[0].runId);
    expect(changed.runs[0].lines).toBe(1);
    expect(changed.runs[0].dataHash).not.toBe(first.runs[0].dataHash);
  } finally {
    uc.cleanup();
  }
});

test('the estimate of a tiny flow matches a hand count', async () => {
  const uc = makeUseCase(twoVariedNodes);
  try {
    await loadTokenizers();
    const plan = await planExperiment(load(uc.dir), { variants: 'defaults', build: '1' });
    const train = plan.runs.find((r) => r.dataset === 'train')!;
    const questions = ['What is the capital of France?', 'Two plus two?', 'Colour of the sky?'];
    // Node a renders the question; node b's input is a's output, unknown before running (empty).
    const a = questions.map((q) =>
      countChatTokens(
        [
          { role: 'system', content: 'Answer briefly.' },
          { role: 'user', content: q },
        ],
        'gpt-4o',
      ),
    );
    const b = countChatTokens([{ role: 'user', content: 'Shorten:' }], 'gpt-4o');
    const prompt = a.reduce((x, y) => x + y, 0) + 3 * b;
    expect(train.estimate.calls).toBe(2 * 3);
    expect(train.estimate.promptTokens).toBe(prompt);
    expect(train.estimate.completionTokens).toBe(3 * (10 + 20));
    const price = DEFAULT_PRICES['gpt-4o'];
    expect(train.estimate.costUsd).toBeCloseTo((prompt * price.input + 90 * price.output) / 1e6, 10);
    expect(train.estimate.models).toEqual(['gpt-4o']);
    // The flow evaluator has no llm node; the judge makes one call per line of the run it scores.
    const accuracy = plan.evaluations.find((e) => e.evaluator === 'accuracy')!;
    expect(accuracy.estimate).toMatchObject({ calls: 0, promptTokens: 0, costUsd: 0 });
    const judge = plan.evaluations.filter((e) => e.evaluator === 'judge');
    expect(judge.map((e) => [e.lines, e.estimate.calls])).toEqual([
      [3, 3],
      [2, 2],
    ]);
    expect(judge[0].estimate.promptTokens).toBeGreaterThan(3 * 50); // the judge's rubric is long
    expect(plan.estimate.total.calls).toBe(6 + 4 + 5);
    expect(plan.estimate.total.costUsd).toBeCloseTo(
      plan.runs.concat().reduce((s, r) => s + r.estimate.costUsd!, 0) +
        judge.reduce((s, e) => s + e.estimate.costUsd!, 0),
      10,
    );
  } finally {
    uc.cleanup();
  }
});

describe('bulk-run executes the plan', () => {
  test('a dry run returns the plan and writes nothing; the real run uses the planned ids; a second run does not reuse them', async () => {
    const uc = makeUseCase({
      'data/train.jsonl': '{"question": "q1", "answer": "a1"}\n{"question": "q2", "answer": "a2"}\n',
    });
    try {
      const common = {
        config: path.join(uc.dir, 'experiment.yaml'),
        store: path.join(uc.dir, '.llmops'),
        cacheMode: 'off' as const,
        buildId: '5',
      };
      const host = new MemoryHost();
      const dry = await bulkRunStep.run({ ...common, dryRun: true, planFile: path.join(uc.dir, 'plan.json') }, host);
      expect(dry.runs).toEqual([]);
      expect(existsSync(common.store)).toBe(false);
      expect(host.summary).toMatch(/\| run \| variant \| dataset \| lines \| calls \| tokens \(in\+out\) \| cost \|/);
      expect(host.summary).toContain(`| ${dry.plan.runs[0].runId} | default | train | 2 | 0 | 0+0 | $0.0000 |`);
      const planned = JSON.parse(readFileSync(path.join(uc.dir, 'plan.json'), 'utf8'));
      expect(planned).toEqual(dry.plan);

      const real = await bulkRunStep.run(common, new MemoryHost());
      expect(real.runs.map((r) => [r.runId, r.lines, r.status])).toEqual([[planned.runs[0].runId, 2, 'Completed']]);
      const second = await bulkRunStep.run(common, new MemoryHost());
      expect(second.runs[0].runId).toBe(`${planned.runs[0].runId}.2`);
    } finally {
      uc.cleanup();
    }
  });

  test('evaluate --dry-run after bulk-run plans its jobs against the runs of the runs file and writes no evaluation', async () => {
    const uc = makeUseCase();
    try {
      const common = {
        config: path.join(uc.dir, 'experiment.yaml'),
        store: path.join(uc.dir, '.llmops'),
        cacheMode: 'off' as const,
        buildId: '6',
      };
      const { runs } = await bulkRunStep.run(common, new MemoryHost());
      const host = new MemoryHost();
      const dry = await evaluateStep.run({ ...common, dryRun: true }, host);
      expect(dry.evaluations).toEqual([]);
      expect(dry.plan!.evaluations.map((e) => [e.evaluator, e.standardRunId, e.runId, e.lines])).toEqual([
        ['accuracy', runs[0].runId, `${runs[0].runId}.eval.accuracy`, 1],
      ]);
      expect(existsSync(path.join(common.store, 'runs', `${runs[0].runId}.eval.accuracy`))).toBe(false);
      expect(existsSync(path.join(common.store, 'experiments/demo/evaluations.json'))).toBe(false);
      // The real evaluation uses the same ids.
      const real = await evaluateStep.run(common, new MemoryHost());
      expect(real.evaluations.map((e) => e.runId)).toEqual(dry.plan!.evaluations.map((e) => e.runId));
      expect(real.evaluationsFile).toBe(path.join(common.store, 'experiments/demo/evaluations.json'));
      expect(existsSync(path.join(common.store, 'runs', `${runs[0].runId}.eval.accuracy`))).toBe(true);
    } finally {
      uc.cleanup();
    }
  });
});
