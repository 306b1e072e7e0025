/**
 * Merging shard stores into the local run store: each line once, however often a shard's output is merged
 * (a re-downloaded or retried shard), the run Partial until the step finishes it; cloud settings problems
 * named at their place before anything is submitted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mergeShardStore } from '../../src/shared/azure/jobs-merge.js';
import { RunStore, type RunRecord } from '../../src/shared/runs/store.js';
import { cloudSettings } from '../../src/shared/azure/jobs-settings.js';
import { ConfigError } from '../../src/shared/errors.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'llmops-merge-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function record(id: string, piece: { start: number; end: number }): RunRecord {
  return {
    version: 1,
    id,
    status: 'Partial',
    flow: { path: 'flows/std', kind: 'dag', name: 'std' },
    variant: { id: 'default', selection: {} },
    data: ['/job/code/data/train.jsonl'],
    column_mapping: {},
    concurrency: 2,
    counts: { total: 4, completed: piece.end - piece.start, failed: 0 },
    timings: { created_at: '2026-12-07T00:00:00Z' },
    tokens: { prompt: 0, completion: 0, total: 0 },
    llm_calls: 0,
    shards: [{ index: piece.start / 2, count: 2, ...piece }],
  };
}

async function shardStore(id: string, piece: { start: number; end: number }): Promise<string> {
  const root = tmp();
  const writer = new RunStore(root).begin(record(id, piece));
  for (let n = piece.start; n < piece.end; n++)
    writer.append({
      line_number: n,
      status: 'Completed',
      inputs: { question: `q${n}` },
      outputs: { answer: `q${n}` },
      latency_ms: 1,
      tokens: { prompt: 0, completion: 0, total: 0 },
    });
  await writer.close();
  return root;
}

test('each shard line is merged once, however often a shard is merged; the run stays Partial', async () => {
  const local = new RunStore(tmp());
  const first = await shardStore('r1', { start: 0, end: 2 });
  const second = await shardStore('r1', { start: 2, end: 4 });
  expect(await mergeShardStore(first, local, ['r1'], 'shard 1/2', { r1: ['/here/train.jsonl'] })).toEqual([
    { runId: 'r1', added: 2, skipped: 0 },
  ]);
  expect(await mergeShardStore(first, local, ['r1'], 'shard 1/2')).toEqual([{ runId: 'r1', added: 0, skipped: 2 }]);
  expect(await mergeShardStore(second, local, ['r1'], 'shard 2/2')).toEqual([{ runId: 'r1', added: 2, skipped: 0 }]);
  const lines: number[] = [];
  for await (const r of local.lines('r1')) lines.push(r.line_number);
  expect(lines.sort()).toEqual([0, 1, 2, 3]);
  const merged = local.record('r1');
  expect(merged.status).toBe('Partial');
  expect(merged.data).toEqual(['/here/train.jsonl']);
  expect(merged.shards).toHaveLength(2);
  expect(merged.counts.total).toBe(4);
});

test('a shard output without one of its runs is a service error naming the shard and the run', async () => {
  const local = new RunStore(tmp());
  const first = await shardStore('r1', { start: 0, end: 2 });
  await expect(mergeShardStore(first, local, ['r2'], 'shard 1/2 (job j1)')).rejects.toThrow(
    /shard 1\/2 \(job j1\) finished without run r2/,
  );
});

test('cloud settings: a missing image and an unknown connection are named at their place (exit 2)', () => {
  const useCase = {
    azure: { connections: { nope: 'ws-conn' } } as unknown as Record<string, string>,
    connections: [{ name: 'aoai' }] as never,
    locationOf: (p: (string | number)[]) => ({ file: 'experiment.yaml', line: p.length, column: 1 }),
    variable: () => undefined,
  };
  let error: unknown;
  try {
    cloudSettings(useCase);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const message = (error as Error).message;
  expect(message).toContain('azure.image: missing');
  expect(message).toContain('azure.connections.nope: not a connection of the experiment, expected one of aoai');
});
