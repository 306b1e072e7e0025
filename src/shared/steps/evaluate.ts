/**
 * `evaluate`: for each evaluator and each standard run whose dataset its datasets reference,
 * score the run — an evaluation flow run against it (`${run.outputs.x}` joined by line number),
 * or a built-in evaluator. Runs are linked to datasets by name, never by path fragments (the
 * seed template's bug), and evaluation data must be row-aligned with the run it scores.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { UseCase } from '../config/types.js';
import { loadUseCase } from '../config/use-case.js';
import { dataAssetOf, resolveAzureDatasets } from '../azure/datasets.js';
import { mappedColumns } from '../data/check.js';
import { ConfigError, GateFailed, type Problem } from '../errors.js';
import type { EvaluationResult } from '../results/model.js';
import { runBatch, scanData } from '../runs/index.js';
import {
  evaluationRunId,
  linkEvaluations,
  planExperiment,
  type EvaluationLink,
  type ExperimentPlan,
} from '../runs/plan.js';
import { runBuiltinEvaluator } from '../eval/builtin/run-builtin.js';
import { checkCodeEvaluators } from '../eval/code-evaluators/index.js';
import { useCaseInputs } from './common-inputs.js';
import type { StepDefinition } from './declare.js';
import type { EvaluationsFile, RunsFile, StandardRun } from '../results/handoff.js';
import {
  ciBuildId,
  defaultEvaluationsFile,
  defaultRunsFile,
  readHandoff,
  unfinishedRuns,
  writeHandoff,
} from './experiment-files.js';
import { llmServiceFor, loadPrices } from './llm-service.js';
import { planInputs, showPlan } from './plan-output.js';
import { progressFor } from './progress.js';
import { environmentFallback, executionOverrides, failedLineLimit, storeInputs } from './run-settings.js';

export interface EvaluateInputs {
  config: string;
  env?: string;
  store: string;
  concurrency?: number;
  maxFailedLines?: string;
  cacheMode?: UseCase['execution']['cache'];
  buildId?: string;
  runsFile?: string;
  evaluationsFile?: string;
  dryRun?: boolean;
  planFile?: string;
}

export interface EvaluateOutputs {
  evaluationsFile: string;
  evaluations: EvaluationResult[];
  /** The plan of a dry run (or with --plan-file). */
  plan?: ExperimentPlan;
}

/** One evaluation to run: an evaluator on one of its datasets against one standard run. */
type Job = EvaluationLink<StandardRun>;

export const evaluateStep: StepDefinition<EvaluateInputs, EvaluateOutputs> = {
  name: 'evaluate',
  description:
    'Score every standard run with the evaluators whose datasets reference its dataset: evaluation flows or built-in evaluators.',
  inputs: [
    ...useCaseInputs,
    ...storeInputs,
    {
      name: 'runs-file',
      type: 'path',
      description: 'Runs file written by bulk-run (default: <store>/experiments/<name>[.<env>]/runs.json).',
    },
    {
      name: 'evaluations-file',
      type: 'path',
      description: 'Where to write the evaluations file for report (default: next to the runs file).',
    },
    ...planInputs,
  ],
  outputs: [
    { name: 'evaluations-file', description: 'Path of the evaluations file (JSON) for the report step.' },
    { name: 'metrics', description: 'JSON: evaluator → variant → dataset → aggregated metrics.' },
  ],
  async run(inputs, host) {
    const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'evaluate' });
    // azureml: evaluation datasets are read from the store's cache (downloaded once).
    const lineage = await resolveAzureDatasets(
      [...useCase.datasets, ...useCase.evaluators.flatMap((e) => e.datasets)],
      useCase,
      inputs.store,
      host,
    );
    const execution = executionOverrides(useCase.execution, inputs);
    const runsFile = inputs.runsFile ?? defaultRunsFile(inputs.store, useCase);
    if (inputs.dryRun && !existsSync(runsFile)) {
      // Before bulk-run has run: the evaluations of the runs it would make.
      host.info(`evaluate: no runs file at ${runsFile}; planning against the runs bulk-run would make`);
      const plan = await planExperiment(useCase, {
        build: inputs.buildId ?? ciBuildId(),
        prices: loadPrices(process.env.LLMOPS_PRICES_FILE),
      });
      await showPlan(plan, 'evaluations', host, inputs);
      return { evaluationsFile: '', evaluations: [], plan };
    }
    const runs = readHandoff<RunsFile>(runsFile, 'bulk-run');
    const unfinished = unfinishedRuns(runsFile, runs, 'evaluate');
    if (unfinished) throw unfinished;
    const jobs = linkEvaluations(useCase, runs.runs);
    if (inputs.dryRun || inputs.planFile) {
      const plan = await planExperiment(useCase, {
        build: runs.build,
        standardRuns: runs.runs,
        prices: loadPrices(process.env.LLMOPS_PRICES_FILE),
        sampleLines: 5,
      });
      // The runs of the runs file are what gets scored: the plan's own standard runs are not shown.
      await showPlan(plan, 'evaluations', host, inputs);
      if (inputs.dryRun) return { evaluationsFile: '', evaluations: [], plan };
    }
    await checkAlignment(jobs, useCase);
    if (jobs.length === 0)
      host.warning(
        `evaluate: no evaluator references the datasets of these runs (${[...new Set(runs.runs.map((r) => r.dataset))].join(', ')}); nothing to evaluate`,
      );

    const llm = llmServiceFor(execution, inputs.store, useCase.connections, host);
    const fallbackConnection = environmentFallback(useCase, (s) => host.mask(s));
    // Code-only evaluators import their eval_*.py files now: the user's import errors stop the step (exit 2) before any model call.
    const codeEvaluators = await checkCodeEvaluators(
      jobs.map((j) => j.evaluator),
      useCase,
      { llm, concurrency: execution.concurrency, python: execution.python },
    );
    const evaluations: EvaluationResult[] = [];
    const overLimit: string[] = [];
    for (const job of jobs) {
      const runId = evaluationRunId(job.run.runId, job.evaluator.name);
      host.info(`evaluate ${job.evaluator.name} on ${job.run.runId} (${job.dataset.name})`);
      const common = {
        runId,
        storeRoot: inputs.store,
        concurrency: execution.concurrency,
        connections: useCase.connections,
        fallbackConnection,
        llm,
        progress: progressFor(host, runId),
      };
      const summary = job.evaluator.flow
        ? await runBatch({
            ...common,
            flow: job.evaluator.flow.model,
            data: job.dataset.localPath!,
            ...dataAssetOf(lineage.get(job.dataset.source)),
            columnMapping: job.dataset.mappings,
            referencedRun: job.run.runId,
            lineTimeoutMs: execution.lineTimeoutSec * 1000,
            init: job.evaluator.flow.init,
            python: execution.python,
            pythonRequirements: execution.pythonRequirements,
            log: (m: string) => host.info(m),
            onSecret: (s: string) => host.mask(s),
          })
        : job.evaluator.code
          ? await codeEvaluators.run(job.evaluator, {
              ...common,
              data: job.dataset.localPath!,
              mappings: job.dataset.mappings,
              referencedRun: job.run.runId,
            })
          : await runBuiltinEvaluator({
              ...common,
              evaluator: job.evaluator,
              dataset: job.dataset,
              standardRunId: job.run.runId,
            });
      const down = llm.unreachable();
      if (down) throw down; // an unreachable judge model: exit 3, not a gate failure
      const metrics = numericMetrics(summary.metrics);
      evaluations.push({
        runId,
        evaluator: job.evaluator.name,
        dataset: job.dataset.name,
        standardRunId: job.run.runId,
        variantId: job.run.variantId,
        lines: summary.counts.total,
        failed: summary.counts.failed,
        metrics,
      });
      host.info(
        `  ${
          Object.entries(metrics)
            .map(([k, v]) => `${k} = ${v}`)
            .join(', ') || 'no aggregated metrics'
        }; ${summary.counts.failed} of ${summary.counts.total} lines failed`,
      );
      const limit = failedLineLimit(execution.maxFailedLines, summary.counts.total);
      if (summary.counts.failed > limit)
        overLimit.push(
          `${runId}: ${summary.counts.failed} of ${summary.counts.total} evaluation lines failed (tolerance ${limit})${summary.error ? `: ${summary.error}` : ''}`,
        );
    }

    const evaluationsFile = inputs.evaluationsFile ?? defaultEvaluationsFile(inputs.store, useCase);
    const handoff: EvaluationsFile = {
      experiment: useCase.name,
      env: useCase.envName,
      build: inputs.buildId ?? runs.build ?? ciBuildId(),
      createdAt: new Date().toISOString(),
      evaluations,
    };
    writeHandoff(evaluationsFile, handoff);
    host.setOutput('evaluations-file', evaluationsFile);
    host.setOutput('metrics', JSON.stringify(metricsOutput(evaluations)));
    if (overLimit.length)
      throw new GateFailed(
        `evaluate: failed lines over the tolerance in ${overLimit.length} evaluation run(s)`,
        overLimit,
      );
    return { evaluationsFile, evaluations };
  },
};

/** Evaluation data must have one row per line of the run it scores (unless its rows carry line_number). */
async function checkAlignment(jobs: Job[], useCase: UseCase): Promise<void> {
  const problems: Problem[] = [];
  const scanned = new Map<string, Awaited<ReturnType<typeof scanData>> | undefined>();
  for (const job of jobs) {
    // Code-only evaluators read their data themselves and run their own target on it.
    if (!job.dataset.localPath || job.evaluator.code) continue;
    const file = job.dataset.localPath;
    const required = mappedColumns(job.dataset.mappings);
    const key = `${file}\u0000${required.map((r) => r.column).join('\u0000')}`;
    if (!scanned.has(key)) {
      try {
        scanned.set(key, await scanData(file, { required, reportAbsent: true }));
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        problems.push(...e.problems);
        scanned.set(key, undefined);
      }
    }
    const scan = scanned.get(key);
    if (!scan) continue;
    if (!scan.lineNumbers && scan.rows !== job.run.lines) {
      const at = useCase.locationOf([
        'evaluators',
        job.evaluatorIndex,
        'datasets',
        job.datasetIndex,
        job.dataset.name === job.dataset.reference ? 'name' : 'source',
      ]);
      problems.push({
        ...at,
        message: `evaluators[${job.evaluatorIndex}].datasets[${job.datasetIndex}]: ${path.relative(process.cwd(), file)} has ${scan.rows} rows but run ${job.run.runId} of dataset "${job.run.dataset}" has ${job.run.lines} lines, expected row-aligned data (or a line_number column)`,
      });
    }
  }
  if (problems.length) throw new ConfigError(problems);
}

function numericMetrics(metrics: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

function metricsOutput(
  evaluations: EvaluationResult[],
): Record<string, Record<string, Record<string, Record<string, number>>>> {
  const out: Record<string, Record<string, Record<string, Record<string, number>>>> = {};
  for (const e of evaluations) ((out[e.evaluator] ??= {})[e.variantId] ??= {})[e.dataset] = e.metrics;
  return out;
}
