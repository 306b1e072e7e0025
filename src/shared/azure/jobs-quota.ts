/**
 * The model's quota (execution.requests_per_minute / tokens_per_minute) divided among a cloud run's jobs: each
 * job's definition carries its share, which its engine keeps by pacing (llm/pacer.ts). A job definition cannot
 * change once submitted, so the division is made at each submission: a job gets an equal part of what the jobs
 * already running leave free, among the shards still to submit. Shares of finished jobs return to the pool, so
 * a shard submitted again (a retry, a resume) gets what finished shards gave back, and the shares of the jobs
 * running at any moment never add up to more than the quota.
 * @module
 */
import type { Execution } from '../config/types.js';

export type RateShare = Pick<Execution, 'requestsPerMinute' | 'tokensPerMinute'>;

/** The quota a cloud run divides, or undefined when experiment.yaml declares none. */
export function quotaOf(execution: RateShare | undefined): RateShare | undefined {
  if (!execution?.requestsPerMinute && !execution?.tokensPerMinute) return undefined;
  return { requestsPerMinute: execution.requestsPerMinute, tokensPerMinute: execution.tokensPerMinute };
}

/**
 * The share of one more job: (quota − shares of the running jobs) / shards waiting to be submitted (this one
 * included), rounded down to a hundredth so the sum never exceeds the quota.
 */
export function nextShare(quota: RateShare, running: RateShare[], waiting: number): RateShare {
  const part = (limit: number | undefined, take: (s: RateShare) => number | undefined) => {
    if (!limit) return undefined;
    const used = running.reduce((n, s) => n + (take(s) ?? 0), 0);
    return Math.max(0.01, Math.floor(((limit - used) / Math.max(1, waiting)) * 100) / 100);
  };
  return {
    requestsPerMinute: part(quota.requestsPerMinute, (s) => s.requestsPerMinute),
    tokensPerMinute: part(quota.tokensPerMinute, (s) => s.tokensPerMinute),
  };
}

/** run-shard's options carrying a share. */
export function shareArgs(share: RateShare | undefined): string[] {
  if (!share) return [];
  return [
    ...(share.requestsPerMinute ? [`--requests-per-minute ${share.requestsPerMinute}`] : []),
    ...(share.tokensPerMinute ? [`--tokens-per-minute ${share.tokensPerMinute}`] : []),
  ];
}

/** "600 requests/min, 90000 tokens/min" */
export function describeShare(share: RateShare): string {
  return [
    share.requestsPerMinute ? `${share.requestsPerMinute} requests/min` : '',
    share.tokensPerMinute ? `${share.tokensPerMinute} tokens/min` : '',
  ]
    .filter(Boolean)
    .join(', ');
}
