/**
 * Merging a cloud shard's store (the folder its job wrote) into the local run store: each of the shard's
 * records is appended once (a line number already recorded locally is skipped, so a retried or re-downloaded
 * shard never doubles a line), the run stays Partial, and its shards list grows. The step then finishes the
 * runs locally the way a local shard does: every line recorded means it aggregates and completes.
 * @module
 */
import { ServiceError } from '../errors.js';
import { RunStore, type RunRecord } from '../runs/store.js';

export interface MergeCount {
  runId: string;
  added: number;
  skipped: number;
}

/** Merges the runs `runIds` of the store at `shardRoot` into `local`; a run missing in the shard is an error. */
export async function mergeShardStore(
  shardRoot: string,
  local: RunStore,
  runIds: string[],
  shardLabel: string,
  /** The data files of each run on this machine (run.json names these, not the job's copies). */
  localData: Record<string, string[]> = {},
): Promise<MergeCount[]> {
  const shard = new RunStore(shardRoot);
  const counts: MergeCount[] = [];
  for (const runId of runIds) {
    if (!shard.has(runId))
      throw new ServiceError(
        `Azure ML: ${shardLabel} finished without run ${runId} in its output; the job ran another plan (did the data change?)`,
      );
    const theirs = shard.record(runId);
    const writer = local.has(runId)
      ? local.open(runId)
      : local.begin({ ...fresh(theirs), ...(localData[runId] ? { data: localData[runId] } : {}) });
    const seen = new Set<number>();
    for await (const rec of local.lines(runId)) seen.add(rec.line_number);
    let added = 0;
    let skipped = 0;
    for await (const rec of shard.lines(runId)) {
      if (seen.has(rec.line_number)) {
        skipped++;
        continue;
      }
      seen.add(rec.line_number);
      if (!writer.append(rec)) await writer.drain();
      added++;
    }
    await writer.close();
    const mine = writer.record;
    for (const piece of theirs.shards ?? [])
      if (!mine.shards?.some((p) => JSON.stringify(p) === JSON.stringify(piece))) (mine.shards ??= []).push(piece);
    mine.counts = { ...mine.counts, total: theirs.counts.total };
    mine.llm_calls = (mine.llm_calls ?? 0) + (theirs.llm_calls ?? 0);
    if (theirs.status === 'Completed' && !theirs.shards?.length) {
      // A run the shard ran whole (an evaluator that reads its data itself cannot be cut): final as it is.
      Object.assign(mine, {
        status: 'Completed',
        counts: theirs.counts,
        tokens: theirs.tokens,
        cost_usd: theirs.cost_usd,
      });
      mine.llm_calls = theirs.llm_calls;
      mine.error = theirs.error;
      writer.writeMetrics(shard.metrics(runId));
    } else if (mine.status !== 'Completed') mine.status = 'Partial';
    writer.saveRun();
    counts.push({ runId, added, skipped });
  }
  return counts;
}

/** The local record of a run first seen in a shard: its identity, no lines yet. */
function fresh(r: RunRecord): RunRecord {
  return {
    ...r,
    status: 'Partial',
    counts: { total: r.counts.total, completed: 0, failed: 0 },
    tokens: { prompt: 0, completion: 0, total: 0 },
    llm_calls: 0,
    shards: [],
    cost_usd: undefined,
    error: undefined,
    resumed: undefined,
  };
}
