/**
 * Shards of a plan and the shared line pool: shardPlan partitions every line of every run into contiguous,
 * balanced shards (a property test); all runs of a bulk-run share one pool of C lines; every shard run one after
 * the other into one store gives the records of one unsharded run.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { ConfigError, GateFailed } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { runBatch } from '../../src/shared/runs/index.js';
import { SlotPool } from '../../src/shared/runs/pool.js';
import { shardPlan, parseShard, type PlannedRun } from '../../src/shared/runs/plan.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import { makeUseCase } from '../helpers/use-case-dir.js';

const runsOf = (ranges: Array<[number, number]>) =>
  ranges.map(([start, size], i) => ({ runId: `r${i}`, lineRange: { start, end: start + size } }) as PlannedRun);

test('shards partition the lines: every line of every run in exactly one shard, contiguous, balanced within one', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(5), fc.nat(40)), { minLength: 0, maxLength: 12 }),
      fc.integer({ min: 1, max: 30 }),
      (ranges, count) => {
        const runs = runsOf(ranges);
        const shards = shardPlan({ runs }, count);
        expect(shards).toHaveLength(count);
        // Walking the shards in order walks the plan's lines in order, each exactly once.
        const walked: string[] = [];
        for (const s of shards) {
          let n = 0;
          for (const p of s.pieces) {
            expect(p.end).toBeGreaterThan(p.start);
            for (let l = p.start; l < p.end; l++) walked.push(`${p.runId}:${l}`);
            n += p.end - p.start;
          }
          expect(n).toBe(s.lines);
        }
        const expected = runs.flatMap((r) =>
          Array.from(
            { length: r.lineRange!.end - r.lineRange!.start },
            (_, i) => `${r.runId}:${r.lineRange!.start + i}`,
          ),
        );
        expect(walked).toEqual(expected);
        const sizes = shards.map((s) => s.lines);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      },
    ),
    { numRuns: 300 },
  );
});

test('a run whose lines are not known here (a data asset) cannot be sharded: a clear error, not a crash', () => {
  const runs = [{ runId: 'r0', source: 'azureml:questions:3' } as PlannedRun];
  expect(() => shardPlan({ runs }, 2)).toThrow(ConfigError);
  expect(() => shardPlan({ runs }, 2)).toThrow(/azureml:questions:3 whose lines are not known on this machine/);
});

test('a shard is written i/n, 1-based', () => {
  expect(parseShard('2/4', 'x')).toEqual({ index: 1, count: 4 });
  for (const bad of ['0/4', '5/4', '1/0', 'a/b', '2'])
    expect(() => parseShard(bad, 'input "shard"')).toThrow(/expected i\/n with 1 <= i <= n/);
});

test('the slot pool never hands out more than its size and serves waiters in arrival order', async () => {
  const pool = new SlotPool(3);
  let inUse = 0;
  let most = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      pool.run(async () => {
        order.push(i);
        most = Math.max(most, ++inUse);
        await new Promise((r) => setTimeout(r, 2));
        inUse--;
      }),
    ),
  );
  expect(most).toBe(3);
  expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect(pool.inUse).toBe(0);
});

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({ latencyMs: 20 });
  process.env.AOAI_API_BASE = server.url;
  process.env.AOAI_API_KEY = 'local-test-key';
});
afterAll(() => server.close());

const flowFiles: Record<string, string> = {
  'flows/std/flow.dag.yaml': `inputs:
  question:
    type: string
outputs:
  answer:
    type: string
    reference: \${ask.output}
nodes:
- name: ask
  use_variants: true
node_variants:
  ask:
    default_variant_id: v0
    variants:
      v0:
        node: { type: llm, source: { type: code, path: ask.jinja2 }, inputs: { deployment_name: gpt-4o, max_tokens: 5, question: "\${inputs.question}" }, connection: aoai, api: chat }
      v1:
        node: { type: llm, source: { type: code, path: ask.jinja2 }, inputs: { deployment_name: gpt-4o, max_tokens: 9, question: "\${inputs.question}" }, connection: aoai, api: chat }
`,
  'flows/std/ask.jinja2': '# user:\n{{question}}\n',
  'data/train.jsonl': Array.from({ length: 7 }, (_, i) => JSON.stringify({ question: `q${i}` })).join('\n') + '\n',
  'data/more.jsonl': Array.from({ length: 5 }, (_, i) => JSON.stringify({ question: `m${i}` })).join('\n') + '\n',
  'flows/eval/flow.dag.yaml':
    'inputs:\n  question:\n    type: string\n  answer:\n    type: string\noutputs:\n  same:\n    type: string\n    reference: ${inputs.answer}\n' +
    'nodes:\n- name: score\n  type: python\n  source: { type: code, path: score.py }\n  inputs: { answer: "${inputs.answer}", question: "${inputs.question}" }\n' +
    '- name: mean\n  type: python\n  source: { type: code, path: mean.py }\n  inputs: { scores: "${score.output}" }\n  aggregation: true\n',
  'flows/eval/score.py':
    'from promptflow.core import tool\n\n@tool\ndef score(answer: str, question: str) -> float:\n    return float(question[-1] in "13579" and len(answer) > 0)\n',
  'flows/eval/mean.py':
    'from promptflow.core import log_metric, tool\n\n@tool\ndef mean(scores: list) -> dict:\n    log_metric("hit", sum(scores) / len(scores))\n    return {}\n',
  'experiment.yaml': `name: demo
flow: flows/std
connections:
  - name: aoai
    connection_type: AzureOpenAIConnection
    api_base: \${api_base}
    api_key: \${api_key}
variants:
  plan: one_at_a_time
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
  - name: hit
    flow: flows/eval
    datasets:
      - name: train
        mappings:
          question: \${data.question}
          answer: \${run.outputs.answer}
      - name: more
        mappings:
          question: \${data.question}
          answer: \${run.outputs.answer}
  - name: exact
    builtin: exact_match
    datasets:
      - name: train
        mappings:
          prediction: \${run.outputs.answer}
          reference: \${data.question}
`,
};

/** A run's records without what differs between sessions (timings), by line. */
function records(store: string, runId: string): unknown[] {
  return readFileSync(path.join(store, 'runs', runId, 'outputs.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .map(({ latency_ms: _l, nodes: _n, ...rest }) => rest)
    .sort((a, b) => (a.line_number as number) - (b.line_number as number));
}

test('all runs share one pool of C lines; every shard one after the other gives the records of one unsharded run', async () => {
  const one = makeUseCase(flowFiles);
  const sharded = makeUseCase(flowFiles);
  try {
    const before = server.stats().maxInFlight;
    const common = (dir: string) => ({
      config: path.join(dir, 'experiment.yaml'),
      store: path.join(dir, '.llmops'),
      buildId: '5',
      cacheMode: 'off' as const,
      concurrency: 4,
    });
    const whole = await bulkRunStep.run(common(one.dir), new MemoryHost());
    // 4 runs (2 datasets × 2 variants), 24 lines, at most 4 lines in flight across the runs.
    expect(whole.runs).toHaveLength(4);
    expect(whole.runs.every((r) => r.status === 'Completed' && r.completed === r.lines)).toBe(true);
    expect(server.stats().maxInFlight).toBeLessThanOrEqual(Math.max(before, 4));

    const host = new MemoryHost();
    for (let i = 1; i <= 5; i++) await bulkRunStep.run({ ...common(sharded.dir), shard: `${i}/5` }, host);
    const store = path.join(sharded.dir, '.llmops');
    const runsFile = JSON.parse(readFileSync(path.join(store, 'experiments/demo/runs.json'), 'utf8'));
    expect(runsFile.runs.map((r: { runId: string }) => r.runId)).toEqual(whole.runs.map((r) => r.runId));
    for (const run of whole.runs) {
      expect(records(store, run.runId)).toEqual(records(path.join(one.dir, '.llmops'), run.runId));
      const record = JSON.parse(readFileSync(path.join(store, 'runs', run.runId, 'run.json'), 'utf8'));
      expect(record.status).toBe('Completed');
      expect(record.counts).toEqual({ total: run.lines, completed: run.lines, failed: 0 });
      expect(record.shards.length).toBeGreaterThanOrEqual(1);
      for (const s of record.shards) expect(s).toEqual(expect.objectContaining({ count: 5 }));
    }
    // 24 lines in 5 shards: 4 or 5 lines each; the first shard covers lines 0-4 of the first run.
    const first = JSON.parse(readFileSync(path.join(store, 'runs', whole.runs[0].runId, 'run.json'), 'utf8'));
    expect(first.shards[0]).toEqual({ index: 0, count: 5, start: 0, end: 5 });
  } finally {
    one.cleanup();
    sharded.cleanup();
  }
});

test('evaluate --shard i/n: every shard one after the other gives the evaluation records and metrics of one unsharded evaluate', async () => {
  const one = makeUseCase(flowFiles);
  const sharded = makeUseCase(flowFiles);
  try {
    const common = (dir: string) => ({
      config: path.join(dir, 'experiment.yaml'),
      store: path.join(dir, '.llmops'),
      buildId: '6',
      cacheMode: 'off' as const,
      concurrency: 4,
    });
    const host = new MemoryHost();
    await bulkRunStep.run(common(one.dir), host);
    const whole = await evaluateStep.run(common(one.dir), host);
    // hit on 4 runs, exact on the 2 train runs.
    expect(whole.evaluations).toHaveLength(6);

    await bulkRunStep.run(common(sharded.dir), host);
    let last;
    for (let i = 1; i <= 4; i++) last = await evaluateStep.run({ ...common(sharded.dir), shard: `${i}/4` }, host);
    const strip = (e: { runId: string }[]) => JSON.parse(JSON.stringify(e));
    expect(strip(last!.evaluations)).toEqual(strip(whole.evaluations));
    for (const e of whole.evaluations) {
      expect(records(path.join(sharded.dir, '.llmops'), e.runId)).toEqual(
        records(path.join(one.dir, '.llmops'), e.runId),
      );
      if (e.evaluator === 'hit') {
        const metrics = JSON.parse(
          readFileSync(path.join(sharded.dir, '.llmops/runs', e.runId, 'metrics.json'), 'utf8'),
        );
        // Aggregated over every line of the run, not over the last shard's piece: odd lines of 7 (train) or 5.
        expect(metrics.hit).toBeCloseTo(e.dataset === 'train' ? 3 / 7 : 2 / 5, 10);
      }
    }
  } finally {
    one.cleanup();
    sharded.cleanup();
  }
});

test('runs sharing a pool of 3 never have more than 3 lines at the model together, and reach 3', async () => {
  const own = await startModelServer({ latencyMs: 30 });
  const uc = makeUseCase(flowFiles);
  try {
    const pool = new SlotPool(3);
    const connection = {
      name: 'aoai',
      type: 'AzureOpenAIConnection',
      value: { api_base: own.url, api_key: 'k', api_type: 'azure', api_version: '2024-02-01' },
      secretKeys: ['api_key'],
    };
    const run = (data: string, variant: string) =>
      runBatch({
        flow: path.join(uc.dir, 'flows/std'),
        data: path.join(uc.dir, data),
        columnMapping: { question: '${data.question}' },
        variant,
        storeRoot: path.join(uc.dir, '.llmops'),
        concurrency: 3,
        connections: [connection],
        pool,
      });
    const summaries = await Promise.all([
      run('data/train.jsonl', '${ask.v0}'),
      run('data/more.jsonl', '${ask.v1}'),
      run('data/train.jsonl', '${ask.v1}'),
    ]);
    expect(summaries.map((s) => s.counts.completed)).toEqual([7, 5, 7]);
    expect(own.stats().maxInFlight).toBe(3);
    expect(pool.inUse).toBe(0);
  } finally {
    uc.cleanup();
    await own.close();
  }
});

test('bulk-run --resume keeps finished runs, and a kept run over the failed-line tolerance still fails the step', async () => {
  const uc = makeUseCase({
    ...flowFiles,
    'flows/std/flow.dag.yaml':
      'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${check.output}\n' +
      'nodes:\n- name: check\n  type: python\n  source: { type: code, path: check.py }\n  inputs: { question: "${inputs.question}" }\n',
    'flows/std/check.py':
      'from promptflow.core import tool\n\n@tool\ndef check(question: str) -> str:\n    if question == "q3":\n        raise ValueError("no q3")\n    return question\n',
    'experiment.yaml': flowFiles['experiment.yaml'].replace(/evaluators:[\s\S]*$/, ''),
  });
  try {
    const common = {
      config: path.join(uc.dir, 'experiment.yaml'),
      store: path.join(uc.dir, '.llmops'),
      buildId: '7',
      cacheMode: 'off' as const,
      maxFailedLines: '0',
    };
    const first = await bulkRunStep.run(common, new MemoryHost()).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(GateFailed);
    const host = new MemoryHost();
    const again = await bulkRunStep.run({ ...common, resume: true }, host).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(GateFailed);
    expect((again as GateFailed).failures[0]).toMatch(
      /^demo\.default\.train\.7\.[0-9a-f]{4}: 1 of 7 lines failed \(tolerance 0\)$/,
    );
    expect(host.lines.filter((l) => l.message.includes('finished earlier, kept'))).toHaveLength(2);
  } finally {
    uc.cleanup();
  }
});
