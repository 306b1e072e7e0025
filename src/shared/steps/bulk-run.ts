/**
 * `bulk-run`: run the standard flow on every dataset × variant of the plan, record every line
 * in the run store, and fail (exit 1) when more lines failed than the tolerance allows — the seed
 * template never did (its issue #207).
 */
import path from 'node:path';
import type { Execution, UseCase, VariantPlanName } from '../config/types.js';
import { loadUseCase } from '../config/use-case.js';
import { checkDatasets, requiredColumns } from '../data/check.js';
import { ConfigError, GateFailed } from '../errors.js';
import type { Host } from '../host/host.js';
import { runBatch, RunStore, type RunSummary } from '../runs/index.js';
import { planExperiment, readableRunId, type ExperimentPlan } from '../runs/plan.js';
import { llmServiceFor, loadPrices } from './llm-service.js';
import { planInputs, showPlan } from './plan-output.js';
import { progressFor } from './progress.js';
import { useCaseInputs } from './common-inputs.js';
import type { StepDefinition } from './declare.js';
import type { RunsFile, StandardRun } from '../results/handoff.js';
import { ciBuildId, defaultRunsFile, readHandoff, writeHandoff } from './experiment-files.js';
import { environmentFallback, executionOverrides, failedLineLimit, storeInputs } from './run-settings.js';

export interface BulkRunInputs {
  config: string;
  env?: string;
  store: string;
  variants?: VariantPlanName;
  datasets?: string;
  concurrency?: number;
  maxFailedLines?: string;
  cacheMode?: Execution['cache'];
  buildId?: string;
  runsFile?: string;
  resume?: boolean;
  dryRun?: boolean;
  planFile?: string;
}

export interface BulkRunOutputs {
  runsFile: string;
  runs: StandardRun[];
  /** The plan the runs came from (a dry run returns it with no runs). */
  plan: ExperimentPlan;
}

export const bulkRunStep: StepDefinition<BulkRunInputs, BulkRunOutputs> = {
  name: 'bulk-run',
  description:
    'Run the standard flow on every dataset × variant of the plan, recording every line in the run store; fail when more lines failed than the tolerance allows.',
  inputs: [
    ...useCaseInputs,
    ...storeInputs,
    {
      name: 'variants',
      type: 'choice',
      choices: ['defaults', 'one_at_a_time', 'cartesian', 'list'],
      description: 'Variant plan (default: variants.plan of experiment.yaml, else one_at_a_time).',
    },
    {
      name: 'datasets',
      type: 'string',
      description: 'Comma-separated dataset names to run (default: all datasets of the experiment).',
    },
    {
      name: 'runs-file',
      type: 'path',
      description:
        'Where to write the runs file for evaluate and report (default: <store>/experiments/<name>[.<env>]/runs.json).',
    },
    {
      name: 'resume',
      type: 'boolean',
      default: 'false',
      description:
        'Finish the runs of an interrupted bulk-run (from its runs file): finished lines are not run again, finished runs are kept.',
    },
    ...planInputs,
  ],
  outputs: [
    { name: 'runs-file', description: 'Path of the runs file (JSON) for the next steps.' },
    { name: 'run-ids', description: 'Comma-separated ids of the runs.' },
    { name: 'lines', description: 'Lines run in all.' },
    { name: 'failed-lines', description: 'Lines that failed in all.' },
  ],
  async run(inputs, host) {
    const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'bulk-run' });
    const execution = executionOverrides(useCase.execution, inputs);
    const build = inputs.buildId ?? ciBuildId();
    const datasets = selectDatasets(useCase, inputs.datasets);
    // Every dataset is read (strictly) before the first line of the first one runs.
    await checkDatasets(
      datasets
        .filter((d) => d.localPath)
        .map((d) => ({
          path: d.localPath!,
          display: path.relative(process.cwd(), d.localPath!),
          required: requiredColumns(d.mappings, useCase.flow.model),
        })),
    );
    const runsFile = inputs.runsFile ?? defaultRunsFile(inputs.store, useCase);
    const previous = inputs.resume ? readHandoff<RunsFile>(runsFile, 'bulk-run').runs : [];
    const resumable = new Set(previous.map((r) => r.runId));
    // The runs to make, with their ids: a run id already in the store (and not being resumed) is not reused.
    const plan = await planExperiment(useCase, {
      variants: inputs.variants,
      datasets: datasets.map((d) => d.name),
      build,
      prices: loadPrices(process.env.LLMOPS_PRICES_FILE),
      taken: (id) => !resumable.has(id) && new RunStore(inputs.store).exists(id),
    });
    if (inputs.dryRun || inputs.planFile) await showPlan(plan, 'runs', host, inputs);
    if (inputs.dryRun) {
      host.setOutput('run-ids', plan.runs.map((r) => r.runId).join(','));
      return { runsFile, runs: [], plan };
    }
    exportEnvironment(useCase.environmentVariables);

    const llm = llmServiceFor(execution, inputs.store, useCase.connections, host);
    const fallbackConnection = environmentFallback(useCase, (s) => host.mask(s));
    const handoff: RunsFile = {
      experiment: useCase.name,
      env: useCase.envName,
      build,
      createdAt: new Date().toISOString(),
      runs: [],
    };
    const runs = handoff.runs;
    const overLimit: { run: StandardRun; summary: RunSummary; limit: number }[] = [];
    const variantCount = new Set(plan.runs.map((r) => r.variantId)).size;
    host.info(
      `bulk-run ${useCase.name}: ${datasets.length} dataset(s) × ${variantCount} variant(s), concurrency ${execution.concurrency}, cache ${execution.cache}${inputs.resume ? ', resuming' : ''}`,
    );
    for (const planned of plan.runs) {
      const dataset = datasets.find((d) => d.name === planned.dataset)!;
      const earlier = previous.find((r) => r.dataset === planned.dataset && r.variantId === planned.variantId);
      if (earlier?.status === 'Completed') {
        host.info(`run ${earlier.runId}: finished earlier, kept`);
        runs.push(earlier);
        continue;
      }
      const runId = earlier?.runId ?? planned.runId;
      const run: StandardRun = {
        runId,
        variantId: planned.variantId,
        selection: planned.selection,
        isDefault: planned.isDefault,
        dataset: dataset.name,
        dataFile: dataset.localPath!,
        lines: 0,
        completed: 0,
        failed: 0,
        status: 'Running',
      };
      runs.push(run);
      // Written before the run starts, so a killed bulk-run can be resumed from this file.
      writeHandoff(runsFile, handoff);
      host.info(`run ${runId}: ${dataset.name} with ${planned.variantId}${earlier ? ' (resumed)' : ''}`);
      const settings = {
        announced: true,
        storeRoot: inputs.store,
        concurrency: execution.concurrency,
        connections: useCase.connections,
        fallbackConnection,
        llm,
        lineTimeoutMs: execution.lineTimeoutSec * 1000,
        progress: progressFor(host, runId),
        init: useCase.flow.init,
        python: execution.python,
        pythonRequirements: execution.pythonRequirements,
        log: (m: string) => host.info(m),
        onSecret: (s: string) => host.mask(s),
      };
      let summary: RunSummary;
      try {
        // A run that failed before its store record was written starts afresh under the same id.
        summary =
          earlier && new RunStore(inputs.store).has(runId)
            ? await runBatch({ ...settings, resume: runId })
            : await runBatch({
                ...settings,
                flow: useCase.flow.model,
                variant: planned.selection,
                variantId: planned.variantId,
                data: dataset.localPath!,
                columnMapping: dataset.mappings,
                runId,
              });
      } catch (e) {
        // The runs file says what happened, so evaluate and report do not read a run that never finished.
        Object.assign(run, { status: 'Failed', error: e instanceof Error ? e.message : String(e) });
        writeHandoff(runsFile, handoff);
        throw e;
      }
      delete run.error;
      Object.assign(run, {
        lines: summary.counts.total,
        completed: summary.counts.completed,
        failed: summary.counts.failed,
        status: summary.status,
      });
      // A model endpoint that cannot be reached fails the step (exit 3) instead of the next runs' lines.
      const down = llm.unreachable();
      if (down) {
        writeHandoff(runsFile, handoff);
        throw down;
      }
      const limit = failedLineLimit(execution.maxFailedLines, summary.counts.total);
      host.info(
        `  ${summary.counts.completed}/${summary.counts.total} lines completed, ${summary.counts.failed} failed${summary.skipped ? ` (${summary.skipped} finished before)` : ''}, ${summary.tokens.total} tokens${summary.costUsd !== undefined ? `, $${summary.costUsd.toFixed(4)}` : ''}, ${(summary.durationMs / 1000).toFixed(1)} s`,
      );
      if (summary.counts.failed > limit) overLimit.push({ run, summary, limit });
    }

    writeHandoff(runsFile, handoff);
    host.setOutput('runs-file', runsFile);
    host.setOutput('run-ids', runs.map((r) => r.runId).join(','));
    host.setOutput('lines', String(runs.reduce((a, r) => a + r.lines, 0)));
    host.setOutput('failed-lines', String(runs.reduce((a, r) => a + r.failed, 0)));
    if (overLimit.length) throw await failedLinesError(overLimit, inputs.store, host);
    return { runsFile, runs, plan };
  },
};

function selectDatasets(useCase: UseCase, names?: string) {
  if (!names) return useCase.datasets;
  const wanted = names
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((n) => !useCase.datasets.some((d) => d.name === n));
  if (unknown.length)
    throw ConfigError.at(
      { file: 'input "datasets"' },
      `${unknown.map((u) => `"${u}"`).join(', ')} not in the experiment, expected some of: ${useCase.datasets.map((d) => d.name).join(', ')}`,
    );
  return useCase.datasets.filter((d) => wanted.includes(d.name));
}

/** env.yaml values go to every run (flows and their Python code read them); CI's own values win. */
function exportEnvironment(vars: Record<string, string>): void {
  for (const [k, v] of Object.entries(vars)) if (process.env[k] === undefined) process.env[k] = v;
}

/** The one run-id scheme lives with the plan. */
export { readableRunId };

/** The failed lines, annotated on the dataset line they came from (first few per run). */
/** Where line N of a data file is written: JSONL one record a line, CSV/TSV after the header, JSON unknown. */
function dataLine(file: string, lineNumber: number): { file: string; line?: number } {
  const display = path.relative(process.cwd(), file);
  if (/\.jsonl$/i.test(file)) return { file: display, line: lineNumber + 1 };
  if (/\.(csv|tsv)$/i.test(file)) return { file: display, line: lineNumber + 2 };
  return { file: display };
}

async function failedLinesError(
  overLimit: { run: StandardRun; summary: RunSummary; limit: number }[],
  store: string,
  host: Host,
): Promise<GateFailed> {
  const failures: string[] = [];
  for (const { run, limit } of overLimit) {
    failures.push(`${run.runId}: ${run.failed} of ${run.lines} lines failed (tolerance ${limit})`);
    let shown = 0;
    for await (const rec of new RunStore(store).lines(run.runId)) {
      if (rec.status !== 'Failed') continue;
      const message = rec.error?.message ?? 'failed';
      if (shown < 10)
        host.error(
          `line ${rec.line_number} of ${run.dataset} failed: ${message}`,
          dataLine(run.dataFile, rec.line_number),
        );
      if (shown < 20) failures.push(`  line ${rec.line_number}: ${message}`);
      shown++;
    }
  }
  return new GateFailed(`bulk-run: failed lines over the tolerance in ${overLimit.length} run(s)`, failures);
}
