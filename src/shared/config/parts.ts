/**
 * Which parts of a use case's configuration each lifecycle step uses. A problem belongs to the
 * parts it was found in and blocks exactly the steps that use all of them: an empty
 * ENDPOINT_NAME in deployment_config.json blocks deploy and smoke-test, never bulk-run.
 */
import type { Problem } from '../errors.js';

export type ConfigPart =
  /** experiment.yaml itself, its datasets, variants and the standard flow. */
  | 'experiment'
  /** The evaluators block (names, datasets), gates and the baseline. */
  | 'evaluators'
  /** The evaluation flows the evaluators name. */
  | 'evaluator-flows'
  /** What running a flow needs: connections and their secrets, init values, environment/env.yaml. */
  | 'runtime'
  /** configs/deployment_config.json. */
  | 'deployment'
  /** configs/dataops_config.json. */
  | 'dataops';

export const configParts: readonly ConfigPart[] = [
  'experiment',
  'evaluators',
  'evaluator-flows',
  'runtime',
  'deployment',
  'dataops',
];

export type LifecycleStep = 'register-data' | 'bulk-run' | 'evaluate' | 'report' | 'deploy' | 'smoke-test';

export const stepNeeds: Readonly<Record<LifecycleStep, readonly ConfigPart[]>> = {
  // Registers the standard and evaluation datasets: reads no flow code, no secret.
  'register-data': ['experiment', 'evaluators'],
  'bulk-run': ['experiment', 'runtime'],
  // Runs the evaluation flows, and the standard flow again for ${target.*} mappings.
  evaluate: ['experiment', 'evaluators', 'evaluator-flows', 'runtime'],
  // Reads the run store and checks the gates: runs nothing.
  report: ['experiment', 'evaluators'],
  deploy: ['experiment', 'runtime', 'deployment'],
  // Calls the deployed endpoint with the deployment's test file.
  'smoke-test': ['experiment', 'deployment'],
};

const lifecycle = Object.keys(stepNeeds) as LifecycleStep[];

/** What a loader is asked to check: a step's parts, a list of parts, or everything (validate). */
export type Needs = LifecycleStep | readonly ConfigPart[] | 'all';

export function partsNeeded(needs: Needs | undefined): Set<ConfigPart> {
  if (needs === undefined || needs === 'all') return new Set(configParts);
  if (typeof needs === 'string') return new Set(stepNeeds[needs]);
  return new Set(needs);
}

/** The steps a problem found in these parts stops. */
export function blockedSteps(parts: readonly ConfigPart[]): LifecycleStep[] {
  return lifecycle.filter((step) => parts.every((p) => stepNeeds[step].includes(p)));
}

/** "blocks: deploy, smoke-test" — said by validate after each problem. */
export function describeBlocked(parts: readonly ConfigPart[]): string {
  const steps = blockedSteps(parts);
  if (steps.length === lifecycle.length) return 'blocks: every step';
  if (steps.length === 0) return 'blocks: no lifecycle step (only validate reads it)';
  return `blocks: ${steps.join(', ')}`;
}

export interface Finding {
  problem: Problem;
  parts: readonly ConfigPart[];
}

/** Problems collected while loading, each with the parts it was found in. */
export class Findings {
  private readonly buckets: { parts: readonly ConfigPart[]; problems: Problem[] }[] = [];

  /** A list the checks push into; everything pushed belongs to `parts`. */
  bucket(...parts: ConfigPart[]): Problem[] {
    const problems: Problem[] = [];
    this.buckets.push({ parts, problems });
    return problems;
  }

  all(): Finding[] {
    return this.buckets.flatMap((b) => b.problems.map((problem) => ({ problem, parts: b.parts })));
  }
}
