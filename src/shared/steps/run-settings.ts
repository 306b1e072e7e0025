/** Inputs and settings shared by the steps that run flows (bulk-run, evaluate). */
import { environmentConnection, type Connection } from '../config/connections.js';
import type { Execution, UseCase } from '../config/types.js';
import { loadUseCase } from '../config/use-case.js';
import type { Host } from '../host/host.js';
import type { SourceLocation } from '../errors.js';
import { ConfigError } from '../errors.js';
import type { InputSpec } from './declare.js';

export const storeInputs: readonly InputSpec[] = [
  {
    name: 'store',
    type: 'path',
    default: '.llmops',
    description: 'Run store folder (runs, data registry, LLM cache, experiment files).',
  },
  {
    name: 'concurrency',
    type: 'integer',
    description: 'Lines run at once (default: execution.concurrency of experiment.yaml, else 8).',
  },
  {
    name: 'max-failed-lines',
    type: 'string',
    description:
      'Failed lines tolerated per run: a count or a percentage like 5% (default: execution.max_failed_lines, else 0).',
  },
  {
    name: 'cache-mode',
    type: 'choice',
    choices: ['read', 'write', 'readwrite', 'off', 'replay'],
    description:
      'LLM response cache (default: execution.cache, else readwrite). replay: fail on a response that was never recorded.',
  },
  {
    name: 'build-id',
    type: 'string',
    description: 'Build id for run ids and reports (default: GITHUB_RUN_ID, BUILD_BUILDID or BUILD_NUMBER).',
  },
];

/** experiment.yaml's execution block with the step's inputs applied over it. */
export function executionOverrides(
  base: Execution,
  inputs: {
    concurrency?: number;
    maxFailedLines?: string;
    cacheMode?: Execution['cache'];
    /** A cloud shard's share of the model's quota (run-shard), replacing the whole quota of experiment.yaml. */
    rateShare?: Pick<Execution, 'requestsPerMinute' | 'tokensPerMinute'>;
  },
): Execution {
  const out = { ...base, ...inputs.rateShare };
  if (inputs.concurrency !== undefined) {
    if (inputs.concurrency < 1)
      throw ConfigError.at(
        { file: 'input "concurrency"' },
        `found ${inputs.concurrency}, expected a whole number of at least 1`,
      );
    out.concurrency = inputs.concurrency;
  }
  if (inputs.maxFailedLines !== undefined) out.maxFailedLines = parseTolerance(inputs.maxFailedLines);
  if (inputs.cacheMode !== undefined) out.cache = inputs.cacheMode;
  return out;
}

/** ", model calls paced at 600 requests/min" when the execution declares the model's quota. */
export function pacedText(execution: Pick<Execution, 'requestsPerMinute' | 'tokensPerMinute'>): string {
  const parts = [
    execution.requestsPerMinute ? `${execution.requestsPerMinute} requests/min` : '',
    execution.tokensPerMinute ? `${execution.tokensPerMinute} tokens/min` : '',
  ].filter(Boolean);
  return parts.length ? `, model calls paced at ${parts.join(', ')}` : '';
}

export function parseTolerance(text: string): Execution['maxFailedLines'] {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  if (!m || (!m[2] && !Number.isInteger(Number(m[1]))))
    throw ConfigError.at(
      { file: 'input "max-failed-lines"' },
      `found ${JSON.stringify(text)}, expected a count like 3 or a percentage like 5%`,
    );
  return m[2] ? { percent: Number(m[1]) } : { count: Number(m[1]) };
}

/** How many failed lines a run of `total` lines may have. */
export function failedLineLimit(tolerance: Execution['maxFailedLines'], total: number): number {
  return 'count' in tolerance ? tolerance.count : Math.floor((tolerance.percent / 100) * total);
}

/**
 * The environment's Azure OpenAI / OpenAI connection, for connection names only a flow's Python code reveals (a
 * parameter typed as a connection): the same fallback `flow test` and llm nodes use. Its key is masked.
 */
export function environmentFallback(useCase: UseCase, mask: (secret: string) => void): Connection | undefined {
  const fallback = environmentConnection(useCase.variable, 'from_env');
  if (typeof fallback?.value.api_key === 'string') mask(fallback.value.api_key);
  return fallback;
}

/**
 * The use case as bulk-run and evaluate need it. A dry run reads no secret: placeholders left unset are listed as
 * what the real run will need. A cloud run reads none here either: its jobs read the connections from the
 * workspace. Only a local run requires them, which is known once the configuration says the target, so the
 * configuration may be read twice; its warnings are told once.
 */
export function loadUseCaseForRun(
  inputs: { config: string; env?: string; target?: string; shard?: string; dryRun?: boolean },
  host: Host,
  needs: 'bulk-run' | 'evaluate',
): UseCase {
  const warnings: Array<[string, SourceLocation | undefined]> = [];
  const listing = loadUseCase({
    configPath: inputs.config,
    env: inputs.env,
    host: { mask: (s) => host.mask(s), warning: (message, at) => warnings.push([message, at]) },
    needs,
    secrets: 'list',
  });
  // A shard is executed here (run-shard inside a cloud job, or a local shard), whatever the target.
  const cloud = !inputs.shard && (inputs.target ?? listing.execution.target) === 'azure';
  if (!cloud && !inputs.dryRun)
    return loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs, secrets: 'require' });
  for (const [message, at] of warnings) host.warning(message, at);
  return listing;
}
