/**
 * `--promote-when better|not-worse`: a rollout check that, at each traffic stage, compares the new version with
 * the prior one on the requests each answered during the stage (read from request logs that name who answered)
 * and passes only when the verdict meets the requirement. It waits, up to a limit, for enough requests on both
 * sides; a stage that never gets them is inconclusive and fails (a rollout is not promoted on no evidence).
 * @module
 */
import type { CheckResult, RolloutCheck, RolloutStage } from '../deploy/rollout.js';
import { compareDeployments, meets, type CompareOptions, type CompareResult } from './compare.js';
import { readMonitorData, withinWindow } from './read.js';
import { UNKNOWN_DEPLOYMENT } from './summary.js';

export type PromoteRequirement = 'better' | 'not-worse';

export interface PromoteWhenOptions extends Omit<CompareOptions, 'candidate' | 'reference'> {
  requirement: PromoteRequirement;
  /** Request logs (files or folders) every version of the deployment writes to, naming itself on each line. */
  sources: string[] | (() => string[]);
  /**
   * The name a version has in the logs, when it differs from the rollout's version name (e.g. the colour a
   * Kubernetes version serves as). Default: the same name.
   */
  logName?: (version: string) => string;
  /** How long a stage may wait for `minRequests` on both sides (ms). Default 600000. */
  stageTimeoutMs?: number;
  /** Between looks at the logs (ms). Default 1000. */
  pollMs?: number;
  /** Each stage's comparison, as it is decided. */
  onCompare?: (stage: RolloutStage, result: CompareResult) => void;
  now?: () => number;
}

/** The prior version a stage compares with: the one with the largest share besides the new one. */
function referenceOf(stage: RolloutStage, version: string): string | undefined {
  return Object.entries(stage.traffic)
    .filter(([v, w]) => v !== version && w > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
}

export function promoteWhenCheck(o: PromoteWhenOptions): RolloutCheck {
  const now = o.now ?? Date.now;
  const nameOf = o.logName ?? ((v: string) => v);
  // The stage's traffic is what was logged since this check last ran (the stage was written right after it).
  let since = now();
  return async (version, stage): Promise<CheckResult> => {
    const started = since;
    const reference = stage ? referenceOf(stage, version) : undefined;
    if (!stage || stage.weight === 0 || !reference) {
      since = now();
      return { passed: true, detail: `promotion gate (${o.requirement}): no split traffic to compare yet` };
    }
    const candidateName = nameOf(version);
    const referenceName = nameOf(reference);
    const minRequests = o.minRequests ?? 30;
    const deadline = now() + (o.stageTimeoutMs ?? 600_000);
    let result: CompareResult;
    for (;;) {
      const sources = typeof o.sources === 'function' ? o.sources() : o.sources;
      const data = withinWindow(readMonitorData(sources), started);
      const count = (n: string) => data.requests.filter((r) => (r.deployment ?? UNKNOWN_DEPLOYMENT) === n).length;
      const enough = count(candidateName) >= minRequests && count(referenceName) >= minRequests;
      if (enough || now() >= deadline) {
        result = compareDeployments(data, { ...o, candidate: candidateName, reference: referenceName });
        break;
      }
      await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
    }
    since = now();
    o.onCompare?.(stage, result);
    return {
      passed: meets(result.verdict, o.requirement),
      detail: `promotion gate (${o.requirement}) at ${stage.weight}%: ${result.summary}`,
    };
  };
}
