/**
 * An evaluate step's evaluation jobs as cloud work: the snapshot carries the runs file and the standard runs
 * the evaluations score (their store folders), each shard's job evaluates its lines into its own store, and
 * the evaluation runs it wrote are merged back.
 * @module
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { RunsFile } from '../results/handoff.js';
import { RunStore } from '../runs/store.js';
import { shardCount, type CloudWork } from './jobs-run.js';
import type { CloudSettings } from './jobs-settings.js';
import { SNAPSHOT_RUNS_FILE, SNAPSHOT_STORE, type SnapshotFile } from './jobs-snapshot.js';

export interface EvaluateWorkOptions {
  runs: RunsFile;
  runsFile: string;
  storeRoot: string;
  /** Evaluation lines in all. */
  total: number;
  /** Data rows in all (fewer than `total` with `repeat: K`): shards cut rows, so there are at most this many. */
  dataRows?: number;
  cloud: CloudSettings;
  /** Per shard of `count`: the evaluation runs it writes. */
  evaluationRunIds: (count: number) => string[][];
  /** Per shard of `count`: its lines. */
  lines: (count: number) => number[];
  /** The data files of each evaluation run on this machine, for run.json. */
  localData: Record<string, string[]>;
}

export function evaluateWork(o: EvaluateWorkOptions): CloudWork {
  const count = Math.max(1, Math.min(o.dataRows ?? o.total, shardCount(o.total, o.cloud)));
  const ids = o.evaluationRunIds(count);
  const lines = o.lines(count);
  const store = new RunStore(o.storeRoot);
  const files: SnapshotFile[] = [{ name: SNAPSHOT_RUNS_FILE, file: o.runsFile }];
  for (const run of o.runs.runs) {
    const dir = store.dir(run.runId);
    const inStore = path.relative(store.root, dir).split(path.sep).join('/');
    for (const file of filesUnder(dir))
      files.push({
        name: `${SNAPSHOT_STORE}/${inStore}/${path.relative(dir, file).split(path.sep).join('/')}`,
        file,
      });
  }
  return {
    step: 'evaluate',
    experiment: o.runs.experiment,
    env: o.runs.env,
    build: o.runs.build,
    runIds: [...new Set(ids.flat())],
    shards: ids.map((runIds, i) => ({ runIds, lines: lines[i] })),
    files,
    args: [`--runs-file ${SNAPSHOT_RUNS_FILE}`, `--seed-store ${SNAPSHOT_STORE}`],
    stateFile: path.join(path.dirname(o.runsFile), 'cloud-evaluate-jobs.json'),
    localData: o.localData,
  };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(full));
    else if (e.isFile()) out.push(full);
  }
  return out;
}
