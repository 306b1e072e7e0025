/**
 * What a report says about clustered intervals: which column grouped the lines, how many clusters there were,
 * and a warning when they are few — with few clusters the cluster-robust interval is itself uncertain (its
 * variance is estimated from G cluster sums, G − 1 degrees of freedom).
 * @module
 */
import type { ResultsSummary } from '../results/model.js';

/** Below this many clusters the report warns that clustered intervals are rough. */
export const FEW_CLUSTERS = 30;

export interface ClusterNote {
  /** One sentence for the report: "Intervals and comparisons clustered by conversation_id (4 clusters) …". */
  text: string;
  /** Set when some clustered interval rests on fewer than FEW_CLUSTERS clusters. */
  warning?: string;
}

export function clusterNote(r: Pick<ResultsSummary, 'metrics' | 'comparisons'>): ClusterNote | undefined {
  const counts = new Map<string, number[]>();
  const add = (column: string | undefined, clusters: number | undefined) => {
    if (column === undefined || clusters === undefined) return;
    counts.set(column, [...(counts.get(column) ?? []), clusters]);
  };
  for (const m of r.metrics) add(m.interval?.clusteredBy, m.interval?.clusters);
  for (const c of r.comparisons) add(c.clusteredBy, c.clusters);
  if (counts.size === 0) return undefined;
  const parts = [...counts].map(([column, n]) => `${column} (${range(n)} clusters)`);
  const text = `Intervals and comparisons clustered by ${parts.join('; ')}: lines of one cluster are not independent, so each cluster counts once.`;
  const few = [...counts].filter(([, n]) => Math.min(...n) < FEW_CLUSTERS);
  if (few.length === 0) return { text };
  const what = few.map(([column, n]) => `${Math.min(...n)} clusters of ${column}`).join(', ');
  return {
    text,
    warning: `only ${what}: with fewer than ${FEW_CLUSTERS} clusters the clustered intervals are themselves uncertain (read them as rough); more clusters make them trustworthy`,
  };
}

function range(n: number[]): string {
  const lo = Math.min(...n);
  const hi = Math.max(...n);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}
