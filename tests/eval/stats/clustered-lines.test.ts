/**
 * Intervals and paired comparisons clustered by a dataset column (experiment.yaml cluster_by), from the report's
 * compact per-line arrays: six conversations of two turns each, where both turns of a conversation succeed or
 * fail together, so the clustered interval is visibly wider than the one treating turns as independent.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { computeComparisons, computeMetrics } from '../../../src/shared/eval/analysis.js';
import { LineClusters, readDatasetClusters } from '../../../src/shared/eval/clusters.js';
import { clusterNote, FEW_CLUSTERS } from '../../../src/shared/report/clusters.js';
import { clusterRobustInterval } from '../../../src/shared/eval/stats/index.js';
import { groupClusters, hasRepeats } from '../../../src/shared/eval/stats/clustered.js';
import { LineTable } from '../../../src/shared/results/line-table.js';
import type { EvaluationResult, LineResult, VariantInfo } from '../../../src/shared/results/model.js';
import { ConfigError } from '../../../src/shared/errors.js';

/*
 * Hand computation (Python 3 stdlib), y = turn success of variant a, two turns per conversation c0..c5:
 *   y = [1,1, 0,0, 1,1, 0,0, 1,1, 1,1]; N = 12, G = 6, ȳ = 8/12
 *   cluster sums − 2ȳ: 2/3, −4/3, 2/3, −4/3, 2/3, 2/3  →  Σ² = 4·4/9 + 2·16/9 = 16/3
 *   SE² = G/(G−1) · Σ² / N² = 6/5 · 16/3 / 144                       →  SE = 0.21081851067789195
 *   t(0.975, 5) = 2.570581835636314                                   →  [0.12474, 1.20859], clamped to 1
 * Naive (Wilson, 8 of 12):                                               [0.39062, 0.86188]
 * Variant b succeeds on every turn: d = b − a = 1 − y, mean 1/3, same SE →  [−0.20859, 0.87526], t = 1.5811
 */
const ys = [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1];
const conversations = ys.map((_, i) => `c${Math.floor(i / 2)}`);
const T5 = 2.570581835636314;
const SE = 0.21081851067789195;

const variants: VariantInfo[] = [
  { id: 'a', selection: {}, isDefault: true },
  { id: 'b', selection: {}, isDefault: false },
];

function lines(variantId: string, score: (i: number) => number): LineResult[] {
  return ys.map((_, i) => ({
    runId: `run-${variantId}`,
    variantId,
    dataset: 'conversations',
    lineNumber: i,
    inputs: {},
    latencyMs: 1,
    tokens: { prompt: 0, completion: 0, total: 0 },
    outputs: { answer: 'x' },
    scores: { 'judge.success': score(i) },
  }));
}

const evaluations: EvaluationResult[] = variants.map((v) => ({
  evaluator: 'judge',
  runId: `eval-${v.id}`,
  dataset: 'conversations',
  standardRunId: `run-${v.id}`,
  variantId: v.id,
  lines: ys.length,
  failed: 0,
  metrics: {},
}));

let dir: string;
let clusters: LineClusters;
const table = LineTable.fromLines([...lines('a', (i) => ys[i]), ...lines('b', () => 1)]);

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'clustered-lines-'));
  const file = path.join(dir, 'conversations.jsonl');
  writeFileSync(file, conversations.map((c, i) => JSON.stringify({ conversation_id: c, turn: i % 2 })).join('\n'));
  clusters = new LineClusters();
  clusters.set('conversations', await readDatasetClusters(file, 'conversation_id'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the cluster column is read once into an integer array by line number', async () => {
  const c = clusters.get('conversations')!;
  expect(c).toMatchObject({ column: 'conversation_id', count: 6 });
  expect(c.ids).toBeInstanceOf(Int32Array);
  expect([...c.ids]).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
});

test('a per-line interval clustered by conversation is wider than the naive one (hand-computed)', () => {
  const naive = computeMetrics(evaluations, table, variants).find((m) => m.variantId === 'a')!;
  expect(naive.interval).toMatchObject({ n: 12, method: 'wilson' });
  expect(naive.interval!.lower).toBeCloseTo(0.39062208887279953, 8);
  expect(naive.interval!.upper).toBeCloseTo(0.8618799089087867, 8);

  const clustered = computeMetrics(evaluations, table, variants, clusters).find((m) => m.variantId === 'a')!;
  expect(clustered.interval).toMatchObject({
    n: 12,
    method: 'cluster-t',
    clusteredBy: 'conversation_id',
    clusters: 6,
  });
  expect(clustered.interval!.mean).toBeCloseTo(8 / 12, 12);
  expect(clustered.interval!.lower).toBeCloseTo(8 / 12 - T5 * SE, 6);
  expect(clustered.interval!.upper).toBe(1); // 1.2086 clamped: a share
  expect(clustered.interval!.upper - clustered.interval!.lower).toBeGreaterThan(
    1.8 * (naive.interval!.upper - naive.interval!.lower),
  );
});

test('the paired comparison between variants is clustered too (hand-computed)', () => {
  const metrics = computeMetrics(evaluations, table, variants, clusters);
  const [c] = computeComparisons({ metrics, table, variants, clusters });
  expect(c).toMatchObject({ variantId: 'b', against: 'default', test: 'cluster-paired-t', n: 12 });
  expect(c).toMatchObject({ clusteredBy: 'conversation_id', clusters: 6 });
  expect(c.delta).toBeCloseTo(1 / 3, 12);
  expect(c.ciLow!).toBeCloseTo(1 / 3 - T5 * SE, 6);
  expect(c.ciHigh!).toBeCloseTo(1 / 3 + T5 * SE, 6);
  // Without clusters the 4 discordant turns look like 4 independent wins (exact McNemar, p = 0.125).
  const naive = computeComparisons({ metrics: computeMetrics(evaluations, table, variants), table, variants })[0];
  expect(naive).toMatchObject({ test: 'mcnemar-exact' });
  expect(naive.pValue).toBeCloseTo(0.125, 12);
  expect(naive.clusteredBy).toBeUndefined();
  expect(c.pValue).toBeGreaterThan(naive.pValue);
});

test('the report says what the lines were clustered by, and warns when clusters are few', () => {
  const metrics = computeMetrics(evaluations, table, variants, clusters);
  const comparisons = computeComparisons({ metrics, table, variants, clusters });
  const note = clusterNote({ metrics, comparisons })!;
  expect(note.text).toBe(
    'Intervals and comparisons clustered by conversation_id (6 clusters): lines of one cluster are not independent, so each cluster counts once.',
  );
  expect(note.warning).toContain(`only 6 clusters of conversation_id: with fewer than ${FEW_CLUSTERS} clusters`);
  expect(clusterNote({ metrics: computeMetrics(evaluations, table, variants), comparisons: [] })).toBeUndefined();
});

test('lines of a dataset without cluster_by stay their own clusters beside a clustered dataset', () => {
  const mixed = LineTable.fromLines([
    ...lines('a', (i) => ys[i]),
    ...lines('a', (i) => ys[i]).map((l) => ({ ...l, runId: 'run-other', dataset: 'other' })),
  ]);
  const ids = clusters.forValues(mixed, 'a', 'judge.success')!;
  expect([...ids.ids]).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
});

test('a row without the cluster column is an error at its file and line', async () => {
  const file = path.join(dir, 'broken.jsonl');
  writeFileSync(file, '{"conversation_id": "a"}\n{"turn": 2}\n');
  const err = await readDatasetClusters(file, 'conversation_id').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).problems[0]).toMatchObject({ line: 2 });
  expect((err as ConfigError).message).toContain('column "conversation_id" (cluster_by) is missing from this row');
});

test('cluster indexes in an Int32Array group exactly as the same ids in a plain array', () => {
  const values = [0.2, 0.9, 0.4, 0.4, 1, 0.1, 0.7];
  const plain = [5, 5, 2, 9, 2, 9, 0];
  const dense = Int32Array.from(plain);
  expect(groupClusters(values, dense)).toEqual(groupClusters(values, plain));
  expect(clusterRobustInterval(values, dense)).toEqual(clusterRobustInterval(values, plain));
  expect(hasRepeats(dense)).toBe(true);
  expect(hasRepeats(Int32Array.from([3, 1, 2]))).toBe(false);
});
