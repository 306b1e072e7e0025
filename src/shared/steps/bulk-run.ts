/**
 * `bulk-run`: run the standard flow on every dataset × variant of the plan, record every line
 * in the run store, and fail (exit 1) when more lines failed than the tolerance allows — the seed
 * template never did (its issue #207).
 */
import { recordRedactor } from '../safety/redactor.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Execution, UseCase, VariantPlanName } from '../config/types.js';
import { dataAssetOf, resolveAzureDatasets } from '../azure/datasets.js';
import { checkDatasets, clusterColumn, requiredColumns } from '../data/check.js';
import { Canceled, ConfigError, GateFailed } from '../errors.js';
import { onCancelSignal } from '../cancel-signal.js';
import type { Host } from '../host/host.js';
import { writeJsonAtomic } from '../files.js';
import { runBatch, RunStore, type RunRecord, type RunSummary } from '../runs/index.js';
import {
  parseShard,
  planExperiment,
  readableRunId,
  shardPlan,
  type ExperimentPlan,
  type PlannedRun,
} from '../runs/plan.js';
import { PieceScheduler } from '../runs/pool.js';
import { createRunStopper, earlyStopGates, earlyStopPlan, earlyStopSeed } from '../eval/early-stop-run.js';
import { StepProgress } from './step-progress.js';
import { llmServiceFor, loadPrices } from './llm-service.js';
import { planInputs, shardInput, showPlan, targetInput } from './plan-output.js';
import { useCaseInputs } from './common-inputs.js';
import type { StepDefinition } from './declare.js';
import type { RunsFile, StandardRun } from '../results/handoff.js';
import { ciBuildId, defaultRunsFile, writeHandoff } from './experiment-files.js';
import {
  environmentFallback,
  executionOverrides,
  failedLineLimit,
  pacedText,
  loadUseCaseForRun,
  storeInputs,
} from './run-settings.js';

export interface BulkRunInputs {
  config: string;
  env?: string;
  store: string;
  variants?: VariantPlanName;
  datasets?: string;
  concurrency?: number;
  /** Programmatic only (run-shard): this shard's share of the model's quota. */
  rateShare?: Pick<Execution, 'requestsPerMinute' | 'tokensPerMinute'>;
  maxFailedLines?: string;
  cacheMode?: Execution['cache'];
  buildId?: string;
  runsFile?: string;
  resume?: boolean;
  dryRun?: boolean;
  planFile?: string;
  /** `i/n`: execute only shard i of n of the plan's lines. */
  shard?: string;
  /** Where the plan's lines run (default: execution.target of experiment.yaml). */
  target?: Execution['target'];
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
        'Finish an interrupted bulk-run: its saved plan (plan.json beside the runs file) is executed again; finished runs are kept, lines already recorded are not run again.',
    },
    ...planInputs,
    shardInput,
    targetInput,
  ],
  outputs: [
    { name: 'runs-file', description: 'Path of the runs file (JSON) for the next steps.' },
    { name: 'run-ids', description: 'Comma-separated ids of the runs.' },
    { name: 'lines', description: 'Lines run in all.' },
    { name: 'failed-lines', description: 'Lines that failed in all.' },
  ],
  async run(inputs, host) {
    const useCase = loadUseCaseForRun(inputs, host, 'bulk-run');
    // Opt-in: the store keeps lines with their PII redacted (redaction.run_store).
    const redactRecord = useCase.redaction?.runStore ? recordRedactor(useCase.redaction.kinds) : undefined;
    // What the user's code prints while lines run: the host redacts it when a redaction block is set (loadUseCase).
    const logLine = (m: string) => host.info(m);
    const cloud = !inputs.shard && (inputs.target ?? useCase.execution.target) === 'azure';
    const execution = executionOverrides(useCase.execution, inputs);
    const build = inputs.buildId ?? ciBuildId();
    const datasets = selectDatasets(useCase, inputs.datasets);
    const shard = inputs.shard ? parseShard(inputs.shard, 'input "shard"') : undefined;
    const stopping = useCase.gates.findIndex((g) => g.earlyStop);
    if (stopping >= 0 && (cloud || shard))
      throw ConfigError.at(
        useCase.locationOf(['gates', stopping, 'early_stop']),
        `gates[${stopping}].early_stop: early stopping decides while one process runs the lines, found ${cloud ? 'execution target azure' : `--shard ${inputs.shard}`}, expected the local target without --shard (or early_stop: false)`,
      );
    // azureml: datasets are downloaded into the store's cache first; the runs file records the version read.
    const lineage = await resolveAzureDatasets(datasets, useCase, inputs.store, host);
    // Every dataset is read (strictly) before the first line of the first one runs.
    await checkDatasets(
      datasets
        .filter((d) => d.localPath)
        .map((d) => ({
          path: d.localPath!,
          display: path.relative(process.cwd(), d.localPath!),
          required: [...requiredColumns(d.mappings, useCase.flow.model), ...clusterColumn(d)],
        })),
    );
    const runsFile = inputs.runsFile ?? defaultRunsFile(inputs.store, useCase);
    const planPath = planFileBeside(runsFile);
    const planned = await planExperiment(useCase, {
      variants: inputs.variants,
      datasets: datasets.map((d) => d.name),
      build,
      prices: loadPrices(process.env.LLMOPS_PRICES_FILE),
      estimate: Boolean(inputs.dryRun || inputs.planFile),
      // A run id already in the store is not reused by a new plan.
      taken: (id) => new RunStore(inputs.store).exists(id),
    });
    // --resume executes the plan written before; a shard joins the plan of the same inputs its siblings wrote.
    const earlier = inputs.resume || shard ? readSavedPlan(planPath, planned, inputs.resume === true) : undefined;
    const plan = earlier ?? planned;
    if (stopping >= 0) plan.earlyStop = earlyStopPlan(useCase);
    if (inputs.dryRun || inputs.planFile) await showPlan(plan, 'runs', host, inputs, useCase.missingSecrets);
    const cloudRun = cloud ? await (await import('../azure/jobs-step.js')).prepareCloudRun(useCase, host) : undefined;
    if (inputs.dryRun) {
      if (cloudRun)
        await cloudRun.run({
          work: cloudRun.bulkRunWork(plan, planPath),
          storeRoot: inputs.store,
          dryRun: true,
          pollMs: 0,
          concurrency: execution.concurrency,
        });
      host.setOutput('run-ids', plan.runs.map((r) => r.runId).join(','));
      return { runsFile, runs: [], plan };
    }
    if (!earlier) writeJsonAtomic(planPath, plan);
    exportEnvironment(useCase.environmentVariables);
    // On azure the shards run as jobs and their records are merged here; the runs are then finished below like
    // a local shard's (every line recorded: nothing runs, aggregation completes them).
    if (cloudRun)
      await cloudRun.run({
        work: cloudRun.bulkRunWork(plan, planPath),
        storeRoot: inputs.store,
        concurrency: execution.concurrency,
      });

    const pieces = shard
      ? shardPlan(plan, shard.count)[shard.index].pieces.map((p) => ({
          planned: plan.runs.find((r) => r.runId === p.runId)!,
          range: { start: p.start, end: p.end },
        }))
      : plan.runs.map((r) => ({ planned: r, range: undefined }));
    // After a cloud run every line is recorded: this machine may not hold the connections' values.
    const llm = llmServiceFor(execution, inputs.store, useCase.connections, host, {
      checkAtLoad: !cloudRun,
      redaction: useCase.redaction,
    });
    const fallbackConnection = environmentFallback(useCase, (s) => host.mask(s));
    const handoff: RunsFile = {
      experiment: useCase.name,
      env: useCase.envName,
      build: plan.build ?? build,
      createdAt: new Date().toISOString(),
      runs: plan.runs.map((r) => ({ ...standardRunOf(r, inputs.store), ...dataAssetOf(lineage.get(r.source)) })),
    };
    // Written before any line runs, so evaluate sees which runs have not finished.
    writeHandoff(runsFile, handoff);
    const entry = (runId: string) => handoff.runs.find((r) => r.runId === runId)!;

    const concurrency = execution.concurrency;
    const scheduler = new PieceScheduler(concurrency, pieces.length);
    const lineCount = (p: (typeof pieces)[number]) =>
      (p.range ? p.range.end - p.range.start : (p.planned.lines ?? p.planned.lineRange?.end ?? 0)) *
      (datasets.find((d) => d.name === p.planned.dataset)?.repeat ?? 1);
    const progress = new StepProgress(
      host,
      'bulk-run',
      pieces.reduce((n, p) => n + lineCount(p), 0),
    );
    const overLimit: { run: StandardRun; limit: number }[] = [];
    host.info(
      `bulk-run ${useCase.name}: ${plan.runs.length} run(s)${shard ? `, shard ${shard.index + 1}/${shard.count}: ${pieces.length} piece(s)` : ''}, ${pieces.reduce((n, p) => n + lineCount(p), 0)} line(s), concurrency ${concurrency} across runs (up to ${scheduler.openAtOnce} open at once)${pacedText(execution)}, cache ${execution.cache}${earlier ? ', resuming the saved plan' : ''}`,
    );

    const runPiece = async ({ planned: r, range }: (typeof pieces)[number]) => {
      if (scheduler.signal.aborted) return;
      const run = entry(r.runId);
      const before = readRecordIfAny(inputs.store, r.runId);
      if (before?.status === 'Completed') {
        host.info(`run ${r.runId}: finished earlier, kept`);
        progress.kept(lineCount({ planned: r, range }));
        // The step's verdict covers every run of the plan, those finished in an earlier session too.
        const limit = failedLineLimit(execution.maxFailedLines, linesRun(before));
        if (before.counts.failed > limit && !overLimit.some((o) => o.run === run)) overLimit.push({ run, limit });
        return;
      }
      const dataset = datasets.find((d) => d.name === r.dataset)!;
      const stopGates = earlyStopGates(useCase, r);
      let summary: RunSummary;
      let stopper: Awaited<ReturnType<typeof createRunStopper>> | undefined;
      try {
        // An early-stop gate on an evaluation flow runs the flow's per-line part with the run's connections and model.
        stopper = stopGates.length
          ? await createRunStopper(stopGates, dataset.localPath!, earlyStopSeed(useCase, before?.order), {
              connections: useCase.connections,
              fallbackConnection,
              llm,
              lineTimeoutMs: execution.lineTimeoutSec * 1000,
              python: execution.python,
              pythonRequirements: execution.pythonRequirements,
              storeRoot: inputs.store,
              log: logLine,
              onSecret: (s: string) => host.mask(s),
            })
          : undefined;
        summary = await runBatch({
          stopper,
          announced: true,
          redactRecord,
          storeRoot: inputs.store,
          concurrency,
          pool: scheduler.pool,
          signal: scheduler.signal,
          connections: useCase.connections,
          fallbackConnection,
          llm,
          lineTimeoutMs: execution.lineTimeoutSec * 1000,
          progress: progress.forRun(lineCount({ planned: r, range })),
          init: useCase.flow.init,
          python: execution.python,
          pythonRequirements: execution.pythonRequirements,
          log: logLine,
          onSecret: (s: string) => host.mask(s),
          flow: useCase.flow.model,
          variant: r.selection,
          variantId: r.variantId,
          data: dataset.localPath!,
          ...dataAssetOf(lineage.get(dataset.source)),
          columnMapping: dataset.mappings,
          runId: r.runId,
          // The store's record is the resume point: lines already in outputs.jsonl are final.
          resume: before ? r.runId : undefined,
          lineRange: range,
          shard: range && shard ? shard : undefined,
          repeat: dataset.repeat,
        });
      } catch (e) {
        // The runs file says what happened, so evaluate and report do not read a run that never finished.
        Object.assign(run, { status: 'Failed', error: e instanceof Error ? e.message : String(e) });
        scheduler.fail(e);
        return;
      } finally {
        await stopper?.close();
      }
      delete run.error;
      Object.assign(run, {
        lines: summary.counts.total,
        completed: summary.counts.completed,
        failed: summary.counts.failed,
        status: summary.status,
      });
      writeHandoff(runsFile, handoff);
      if (summary.status === 'Canceled') return;
      // A model endpoint that cannot be reached fails the step (exit 3) instead of the next runs' lines.
      const down = llm.unreachable();
      if (down) {
        scheduler.fail(down);
        return;
      }
      // A percentage tolerance of an early-stopped run counts the lines it ran, not those it left unrun.
      const limit = failedLineLimit(
        execution.maxFailedLines,
        stopGates.length ? summary.counts.completed + summary.counts.failed : summary.counts.total,
      );
      host.info(
        `run ${r.runId} (${r.dataset}, ${r.variantId})${before ? ' (resumed)' : ''}${range ? ` lines ${range.start}-${range.end - 1}` : ''}: ${summary.status}, ${summary.counts.completed}/${summary.counts.total} lines completed, ${summary.counts.failed} failed${summary.skipped ? ` (${summary.skipped} recorded before)` : ''}, ${summary.tokens.total} tokens${summary.costUsd !== undefined ? `, $${summary.costUsd.toFixed(4)}` : ''}, ${(summary.durationMs / 1000).toFixed(1)} s`,
      );
      if (summary.status === 'Completed' && summary.counts.failed > limit) overLimit.push({ run, limit });
      if (stopGates.length && summary.status === 'Completed') host.info(earlyStopText(r.runId, inputs.store));
    };
    // A CI cancel or Ctrl+C: no new lines start, the runs record what finished (status Canceled) and the step ends
    // with 128 + the signal. A second signal ends the process at once (node's default).
    const stopListening = onCancelSignal((signal) =>
      scheduler.fail(
        new Canceled(
          signal,
          `bulk-run ${useCase.name} stopped by ${signal}: the lines that finished are saved; run the same command with --resume to continue`,
        ),
      ),
    );
    try {
      await scheduler.run(pieces, runPiece);
    } finally {
      stopListening();
    }
    progress.finish();
    writeHandoff(runsFile, handoff);
    scheduler.throwIfFailed();

    const runs = handoff.runs;
    host.setOutput('runs-file', runsFile);
    host.setOutput('run-ids', runs.map((r) => r.runId).join(','));
    // An early-stopped run counts the lines it ran (a finished run records every line it ran).
    host.setOutput(
      'lines',
      String(runs.reduce((a, r) => a + (r.status === 'Completed' ? r.completed + r.failed : r.lines), 0)),
    );
    host.setOutput('failed-lines', String(runs.reduce((a, r) => a + r.failed, 0)));
    if (overLimit.length) throw await failedLinesError(overLimit, inputs.store, host);
    return { runsFile, runs, plan };
  },
};

/** The lines a finished run ran: all of them, unless it stopped early. */
function linesRun(record: RunRecord): number {
  return record.early_stop?.stopped ? record.early_stop.lines : record.counts.total;
}

/** What the log says of an early-stop run: stopped after how many lines and why, or that every line was needed. */
function earlyStopText(runId: string, store: string): string {
  const e = readRecordIfAny(store, runId)?.early_stop;
  if (!e) return `run ${runId}: early stopping recorded nothing`;
  const why = e.gates.map((g) => `${g.name}: ${g.reason}`).join('; ');
  return e.stopped
    ? `run ${runId}: early stop after ${e.lines} of ${e.total} lines (anytime-valid, α = ${e.alpha}): ${why}`
    : `run ${runId}: early stopping needed every line (${e.total}): ${why}`;
}

/** Where bulk-run keeps the plan it executes: beside its runs file. */
export function planFileBeside(runsFile: string): string {
  return path.join(path.dirname(runsFile), 'plan.json');
}

/**
 * The saved plan to execute again. `--resume` needs it (nothing to resume without it); a shard takes it when it
 * was made from the same inputs (experiment, environment, build, variant plan, datasets and their data), else
 * plans afresh.
 */
function readSavedPlan(file: string, fresh: ExperimentPlan, required: boolean): ExperimentPlan | undefined {
  if (!existsSync(file)) {
    if (required)
      throw ConfigError.at(
        { file: path.relative(process.cwd(), file) },
        'no saved plan to resume: expected the plan.json a bulk-run writes beside its runs file before running',
      );
    return undefined;
  }
  const saved = JSON.parse(readFileSync(file, 'utf8')) as ExperimentPlan;
  const shape = (p: ExperimentPlan) =>
    JSON.stringify([
      p.experiment,
      p.env,
      p.build,
      p.variantPlan,
      p.runs.map((r) => [r.variantId, r.dataset, r.dataHash, r.lines]),
    ]);
  if (shape(saved) === shape(fresh)) return saved;
  if (required)
    throw ConfigError.at(
      { file: path.relative(process.cwd(), file) },
      'the saved plan was made from other inputs (experiment, environment, build id, variants, datasets or their data changed); expected the same inputs as the interrupted bulk-run, or a new bulk-run without --resume',
    );
  return undefined;
}

function readRecordIfAny(store: string, runId: string): RunRecord | undefined {
  const runs = new RunStore(store);
  return runs.has(runId) ? runs.record(runId) : undefined;
}

/** A planned run as the runs file lists it, with what the store holds of it so far. */
function standardRunOf(r: PlannedRun, store: string): StandardRun {
  const record = readRecordIfAny(store, r.runId);
  return {
    runId: r.runId,
    variantId: r.variantId,
    selection: r.selection,
    isDefault: r.isDefault,
    dataset: r.dataset,
    dataFile: r.dataFile!,
    lines: record?.counts.total ?? r.lines ?? 0,
    completed: record?.counts.completed ?? 0,
    failed: record?.counts.failed ?? 0,
    status: record?.status ?? 'Planned',
    ...(record?.error ? { error: record.error } : {}),
  };
}

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
  overLimit: { run: StandardRun; limit: number }[],
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
      // With repeat: K a record's line number counts repetitions; the data line is its source line.
      const sourceLine = rec.source_line ?? rec.line_number;
      const which =
        rec.repetition !== undefined ? `line ${sourceLine} (repetition ${rec.repetition + 1})` : `line ${sourceLine}`;
      if (shown < 10) host.error(`${which} of ${run.dataset} failed: ${message}`, dataLine(run.dataFile, sourceLine));
      if (shown < 20) failures.push(`  ${which}: ${message}`);
      shown++;
    }
  }
  return new GateFailed(`bulk-run: failed lines over the tolerance in ${overLimit.length} run(s)`, failures);
}
