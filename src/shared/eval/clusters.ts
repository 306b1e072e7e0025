/**
 * Lines that are not independent, grouped: a dataset that declares `cluster_by: <column>` (the turns of one
 * conversation share a conversation_id) has each of its lines mapped to a cluster index, an Int32Array by line
 * number — 4 bytes a line, the column's strings are dropped once read. The intervals and paired comparisons of
 * its scores then treat the cluster, not the line, as the unit (eval/stats/clustered.ts).
 * @module
 */
import { ConfigError } from '../errors.js';
import type { LineTable, RunLines } from '../results/line-table.js';
import { displayPath, readData } from '../runs/data.js';

/** One dataset's lines by cluster: `ids[lineNumber]` is the cluster index (0..count-1). */
export interface DatasetClusters {
  column: string;
  /** Set when the clusters are exactly the data lines of a run with `repeat: K` (K answers per cluster). */
  repeat?: number;
  ids: Int32Array;
  count: number;
}

/** The cluster of every value a statistic reads, in the order it reads them. */
export interface ClusterAssignment {
  /** Every value's dataset ran with this `repeat: K`, and its cluster is its data line. */
  repeat?: number;
  /** The column (or columns, when datasets differ) the lines are clustered by. */
  column: string;
  ids: Int32Array;
}

/** Reads the cluster column of a dataset file once; a row without it is an error at its file and line. */
export async function readDatasetClusters(file: string, column: string): Promise<DatasetClusters> {
  const index = new Map<string, number>();
  let ids = new Int32Array(1024);
  let n = 0;
  for await (const row of readData(file)) {
    const v = row[column];
    if (v === undefined || v === null)
      throw ConfigError.at(
        { file: displayPath(file), line: n + 1 },
        `column "${column}" (cluster_by) is missing from this row; expected it in every row`,
      );
    // Types kept apart: 1 and "1" are different conversations.
    const key = typeof v === 'string' ? `s${v}` : `j${JSON.stringify(v)}`;
    let k = index.get(key);
    if (k === undefined) index.set(key, (k = index.size));
    if (n === ids.length) {
      const bigger = new Int32Array(ids.length * 2);
      bigger.set(ids);
      ids = bigger;
    }
    ids[n++] = k;
  }
  return { column, ids: ids.slice(0, n), count: index.size };
}

/** The clusters of the datasets that declare them, by dataset name. */
export class LineClusters {
  private readonly byDataset = new Map<string, DatasetClusters>();

  set(dataset: string, clusters: DatasetClusters): void {
    this.byDataset.set(dataset, clusters);
  }

  get(dataset: string): DatasetClusters | undefined {
    return this.byDataset.get(dataset);
  }

  get size(): number {
    return this.byDataset.size;
  }

  /**
   * Cluster ids parallel to `table.values(variantId, key)`, or undefined when none of the variant's datasets is
   * clustered. Datasets get disjoint ranges; a line of a dataset without clusters is a cluster of its own.
   */
  forValues(table: LineTable, variantId: string, key: string): ClusterAssignment | undefined {
    const runs = [...table.runsOf(variantId).values()];
    if (!runs.some((r) => this.byDataset.has(r.dataset))) return undefined;
    const out = new IdList();
    for (const run of runs) {
      const c = out.start(this.byDataset.get(run.dataset));
      for (let i = 0; i < run.size; i++) if (run.score(key, i) !== undefined) out.push(c, i);
    }
    return { column: this.columnOf(runs), ids: out.done(), ...this.repeatOf(runs) };
  }

  /**
   * Cluster ids parallel to `table.paired(...)`: the candidate's datasets decide (both sides read the same rows
   * of the same dataset).
   */
  forPaired(
    table: LineTable,
    variantId: string,
    key: string,
    reference: LineTable,
    referenceVariant: string,
    referenceKey = key,
  ): ClusterAssignment | undefined {
    const candidateRuns = table.runsOf(variantId);
    const refRuns = reference.runsOf(referenceVariant);
    const runs = [...candidateRuns.values()].filter((r) => refRuns.has(r.dataset));
    if (!runs.some((r) => this.byDataset.has(r.dataset))) return undefined;
    const out = new IdList();
    for (const run of runs) {
      const ref = refRuns.get(run.dataset)!;
      const c = out.start(this.byDataset.get(run.dataset));
      for (let i = 0; i < run.size; i++)
        if (run.score(key, i) !== undefined && ref.score(referenceKey, i) !== undefined) out.push(c, i);
    }
    return { column: this.columnOf(runs), ids: out.done() };
  }

  private repeatOf(runs: RunLines[]): { repeat?: number } {
    const ks = new Set(runs.map((r) => this.byDataset.get(r.dataset)?.repeat));
    const [k] = ks;
    return ks.size === 1 && k !== undefined ? { repeat: k } : {};
  }

  private columnOf(runs: RunLines[]): string {
    return [...new Set(runs.flatMap((r) => this.byDataset.get(r.dataset)?.column ?? []))].join(', ');
  }
}

/**
 * The ids of the values, as a growable Int32Array. Each dataset gets a range of its own: a clustered dataset's
 * cluster index after the ranges of earlier datasets; a line of an unclustered one (or past the end of the
 * dataset read) a fresh id, a cluster of one.
 */
class IdList {
  private ids = new Int32Array(256);
  private n = 0;
  private base = 0;
  private next = 0;

  /** Starts the lines of one dataset's run; returns what `push` takes. */
  start(c: DatasetClusters | undefined): DatasetClusters | undefined {
    this.base = this.next;
    if (c) this.next += c.count;
    return c;
  }

  push(c: DatasetClusters | undefined, line: number): void {
    this.add(c && line < c.ids.length ? this.base + c.ids[line] : this.next++);
  }

  private add(id: number): void {
    if (this.n === this.ids.length) {
      const bigger = new Int32Array(this.ids.length * 2);
      bigger.set(this.ids);
      this.ids = bigger;
    }
    this.ids[this.n++] = id;
  }
  done(): Int32Array {
    return this.ids.slice(0, this.n);
  }
}
