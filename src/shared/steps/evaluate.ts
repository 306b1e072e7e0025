/**
 * `evaluate`: for each evaluator and each standard run whose dataset its datasets reference,
 * score the run — an evaluation flow run against it (`${run.outputs.x}` joined by line number),
 * or a built-in evaluator. Runs are linked to datasets by name, never by path fragments (the
 * seed template's bug), and evaluation data must be row-aligned with the run it scores.
 */
import { recordRedactor } from '../safety/redactor.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { UseCase } from '../config/types.js';
import { dataAssetOf, resolveAzureDatasets } from '../azure/datasets.js';
import { mappedColumns } from '../data/check.js';
import { ConfigError, GateFailed, type Problem } from '../errors.js';
import { earlyStopVerdicts } from '../eval/early-stop-verdict.js';
import type { EvaluationResult } from '../results/model.js';
import { runBatch, RunStore, scanData, type RunRecord, type RunSummary } from '../runs/index.js';
import { PieceScheduler } from '../runs/pool.js';
import { StepProgress } from './step-progress.js';
import {
  evaluationRunId,
  linkEvaluations,
  parseShard,
  planExperiment,
  shardPlan,
  type EvaluationLink,
  type PlannedRun,
  type ExperimentPlan,
} from '../runs/plan.js';
import { llmJudges, runBuiltinEvaluator, scorerSetupProblemAt } from '../eval/builtin/run-builtin.js';
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
import { planInputs, shardInput, showPlan, targetInput } from './plan-output.js';
import {
  environmentFallback,
  executionOverrides,
  failedLineLimit,
  pacedText,
  loadUseCaseForRun,
  storeInputs,
} from './run-settings.js';

export interface EvaluateInputs {
  config: string;
  env?: string;
  store: string;
  concurrency?: number;
  /** Programmatic only (run-shard): this shard's share of the model's quota. */
  rateShare?: Pick<UseCase['execution'], 'requestsPerMinute' | 'tokensPerMinute'>;
  maxFailedLines?: string;
  cacheMode?: UseCase['execution']['cache'];
  buildId?: string;
  runsFile?: string;
  evaluationsFile?: string;
  dryRun?: boolean;
  planFile?: string;
  resume?: boolean;
  /** `i/n`: execute only shard i of n of the evaluation jobs' lines. */
  shard?: string;
  /** Where the evaluation lines run (default: execution.target of experiment.yaml). */
  target?: UseCase['execution']['target'];
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
    {
      name: 'resume',
      type: 'boolean',
      default: 'false',
      description:
        'Finish an interrupted evaluate: finished evaluation runs are kept, lines already recorded are not run again.',
    },
    ...planInputs,
    shardInput,
    targetInput,
  ],
  outputs: [
    { name: 'evaluations-file', description: 'Path of the evaluations file (JSON) for the report step.' },
    { name: 'metrics', description: 'JSON: evaluator → variant → dataset → aggregated metrics.' },
  ],
  async run(inputs, host) {
    const useCase = loadUseCaseForRun(inputs, host, 'evaluate');
    // Opt-in: the store keeps lines with their PII redacted (redaction.run_store).
    const redactRecord = useCase.redaction?.runStore ? recordRedactor(useCase.redaction.kinds) : undefined;
    // What the user's code prints while lines run: the host redacts it when a redaction block is set (loadUseCase).
    const logLine = (m: string) => host.info(m);
    const cloud = !inputs.shard && (inputs.target ?? useCase.execution.target) === 'azure';
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
      if (cloud) host.info('evaluate: the Azure ML jobs it would submit are listed once bulk-run has written its runs');
      const plan = await planExperiment(useCase, {
        build: inputs.buildId ?? ciBuildId(),
        prices: loadPrices(process.env.LLMOPS_PRICES_FILE),
      });
      await showPlan(plan, 'evaluations', host, inputs, useCase.missingSecrets);
      return { evaluationsFile: '', evaluations: [], plan };
    }
    const runs = readHandoff<RunsFile>(runsFile, 'bulk-run');
    const unfinished = unfinishedRuns(runsFile, runs, 'evaluate');
    if (unfinished) throw unfinished;
    const jobs = linkEvaluations(useCase, runs.runs);
    // A built-in scorer's missing options or mappings stop the step before any evaluation runs, at their line.
    const setup = jobs.flatMap((j) => scorerSetupProblemAt(useCase, j.evaluator, j.dataset) ?? []);
    if (setup.length) throw new ConfigError([...new Map(setup.map((p) => [p.message, p])).values()]);
    let shownPlan: ExperimentPlan | undefined;
    if (inputs.dryRun || inputs.planFile) {
      const plan = await planExperiment(useCase, {
        build: runs.build,
        standardRuns: runs.runs,
        prices: loadPrices(process.env.LLMOPS_PRICES_FILE),
        sampleLines: 5,
      });
      // The runs of the runs file are what gets scored: the plan's own standard runs are not shown.
      await showPlan(plan, 'evaluations', host, inputs, useCase.missingSecrets);
      shownPlan = plan;
      if (inputs.dryRun && !(cloud && jobs.length > 0)) return { evaluationsFile: '', evaluations: [], plan };
    }
    const shard = inputs.shard ? parseShard(inputs.shard, 'input "shard"') : undefined;
    const rows = await checkAlignment(jobs, useCase);
    // On azure the evaluation jobs' lines run as cloud jobs and are merged into the store; the runs are then
    // finished below as resumed ones (every line recorded: nothing runs, aggregation completes them). A dry run
    // lists the jobs it would submit.
    let cloudDone = false;
    if (cloud && jobs.length > 0) {
      const { prepareCloudRun } = await import('../azure/jobs-step.js');
      const { evaluateWork } = await import('../azure/jobs-evaluate.js');
      const cloudRun = await prepareCloudRun(useCase, host);
      // `repeat: K`: a job's evaluation runs K lines per data row; shards cut data rows (repetitions stay together).
      // (Rows counted from the run itself, not from data, are its lines already.)
      const repeatOf = (j: Job) =>
        !j.dataset.localPath || j.evaluator.code
          ? 1
          : (useCase.datasets.find((d) => d.name === j.run.dataset)?.repeat ?? 1);
      const total = [...rows].reduce((n, [j, r]) => n + r * repeatOf(j), 0);
      await cloudRun.run({
        dryRun: inputs.dryRun,
        work: evaluateWork({
          runs,
          runsFile,
          storeRoot: inputs.store,
          total,
          dataRows: [...rows.values()].reduce((n, r) => n + r, 0),
          cloud: cloudRun.cloud,
          localData: Object.fromEntries(
            jobs
              .filter((j) => j.dataset.localPath)
              .map((j) => [evaluationRunId(j.run.runId, j.evaluator.name), [j.dataset.localPath!]]),
          ),
          evaluationRunIds: (count) =>
            Array.from({ length: count }, (_, index) => [
              ...new Set(
                shardPieces(jobs, rows, { index, count }).map((p) =>
                  evaluationRunId(p.job.run.runId, p.job.evaluator.name),
                ),
              ),
            ]),
          lines: (count) =>
            Array.from({ length: count }, (_, index) =>
              shardPieces(jobs, rows, { index, count }).reduce(
                (n, p) => n + (p.range ? p.range.end - p.range.start : rows.get(p.job)!) * repeatOf(p.job),
                0,
              ),
            ),
        }),
        storeRoot: inputs.store,
        concurrency: execution.concurrency,
      });
      if (inputs.dryRun) return { evaluationsFile: '', evaluations: [], plan: shownPlan };
      cloudDone = true;
    }
    if (jobs.length === 0)
      host.warning(
        `evaluate: no evaluator references the datasets of these runs (${[...new Set(runs.runs.map((r) => r.dataset))].join(', ')}); nothing to evaluate`,
      );

    // After a cloud run every line is recorded: this machine may not hold the connections' values.
    const llm = llmServiceFor(execution, inputs.store, useCase.connections, host, {
      checkAtLoad: !cloudDone,
      redaction: useCase.redaction,
    });
    const fallbackConnection = environmentFallback(useCase, (s) => host.mask(s));
    // Code-only evaluators import their eval_*.py files now: the user's import errors stop the step (exit 2) before any model call.
    const codeEvaluators = await checkCodeEvaluators(
      jobs.map((j) => j.evaluator),
      useCase,
      { llm, concurrency: execution.concurrency, python: execution.python },
    );
    const overLimit: string[] = [];
    // Every job at once through one line pool of size C, at most C evaluation runs open (as bulk-run).
    const concurrency = execution.concurrency;
    const pieces = shard ? shardPieces(jobs, rows, shard) : jobs.map((job) => ({ job, range: undefined }));
    const scheduler = new PieceScheduler(concurrency, pieces.length);
    const ran = new Map<Job, RunSummary>();
    // With `repeat: K` an evaluation line is a repetition: K per data row (rows counted from the run itself, or
    // for code-only evaluators, are lines already).
    const perRow = (j: Job) =>
      !j.dataset.localPath || j.evaluator.code
        ? 1
        : (useCase.datasets.find((d) => d.name === j.run.dataset)?.repeat ?? 1);
    // A run that stopped early (gates[].early_stop) is evaluated on the lines it ran, not on every data row.
    const ranOf = (j: Job) =>
      j.run.status === 'Completed' ? Math.min(rows.get(j)!, j.run.completed + j.run.failed) : rows.get(j)!;
    const pieceLines = (p: EvaluationPiece) => (p.range ? p.range.end - p.range.start : ranOf(p.job)) * perRow(p.job);
    const progress = new StepProgress(
      host,
      'evaluate',
      pieces.reduce((n, p) => n + pieceLines(p), 0),
    );
    host.info(
      `evaluate ${useCase.name}: ${jobs.length} evaluation run(s)${shard ? `, shard ${shard.index + 1}/${shard.count}: ${pieces.length} piece(s)` : ''}, concurrency ${concurrency} across runs${pacedText(execution)}${inputs.resume ? ', resuming' : ''}`,
    );
    const runPiece = async (piece: EvaluationPiece) => {
      if (scheduler.signal.aborted) return;
      const { job, range } = piece;
      const runId = evaluationRunId(job.run.runId, job.evaluator.name);
      const before = existingRun(inputs.store, runId);
      // What is in the store under this id: kept and finished (--resume, or a sibling shard's piece of this run),
      // or replaced — a run of an earlier evaluate, whose standard run may have changed since.
      const continues =
        before !== undefined &&
        (inputs.resume === true ||
          cloudDone ||
          (shard !== undefined && (before.record.shards ?? []).some((s) => s.count === shard.count)));
      if (continues && before.record.status === 'Completed') {
        host.info(`evaluation ${runId}: finished earlier, kept`);
        progress.kept(pieceLines(piece));
        // The step's verdict covers the evaluation runs finished in an earlier session too.
        const { failed, total } = before.record.counts;
        const limit = failedLineLimit(execution.maxFailedLines, total);
        if (failed > limit)
          overLimit.push(
            `${runId}: ${failed} of ${total} evaluation lines failed (tolerance ${limit})${before.record.error ? `: ${before.record.error}` : ''}`,
          );
        return;
      }
      if (before && !continues) new RunStore(inputs.store).remove(runId);
      const common = {
        runId,
        redactRecord,
        storeRoot: inputs.store,
        concurrency,
        connections: useCase.connections,
        fallbackConnection,
        llm,
        progress: progress.forRun(pieceLines(piece)),
        // Lineage: the asset version the evaluation's dataset was read from, whatever kind of evaluator.
        ...dataAssetOf(lineage.get(job.dataset.source)),
      };
      const cut = { lineRange: range, shard: range ? shard : undefined };
      let summary: RunSummary;
      try {
        summary = job.evaluator.flow
          ? await runBatch({
              ...common,
              ...cut,
              pool: scheduler.pool,
              signal: scheduler.signal,
              resume: continues ? runId : undefined,
              flow: job.evaluator.flow.model,
              data: job.dataset.localPath!,
              columnMapping: job.dataset.mappings,
              referencedRun: job.run.runId,
              lineTimeoutMs: execution.lineTimeoutSec * 1000,
              init: job.evaluator.flow.init,
              python: execution.python,
              pythonRequirements: execution.pythonRequirements,
              log: logLine,
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
                ...cut,
                pool: scheduler.pool,
                resume: continues,
                evaluator: job.evaluator,
                dataset: job.dataset,
                standardRunId: job.run.runId,
              });
      } catch (e) {
        scheduler.fail(e);
        return;
      }
      if (summary.status === 'Canceled') return;
      const down = llm.unreachable();
      if (down) {
        // an unreachable judge model: exit 3, not a gate failure
        scheduler.fail(down);
        return;
      }
      ran.set(job, summary);
      const metrics = numericMetrics(summary.metrics);
      host.info(
        `evaluation ${runId}${range ? ` lines ${range.start}-${range.end - 1}` : ''}: ${summary.status}, ${
          Object.entries(metrics)
            .map(([k, v]) => `${k} = ${v}`)
            .join(', ') || 'no aggregated metrics'
        }; ${summary.counts.failed} of ${summary.counts.total} lines failed`,
      );
      const limit = failedLineLimit(execution.maxFailedLines, summary.counts.total);
      if (summary.status === 'Completed' && summary.counts.failed > limit)
        overLimit.push(
          `${runId}: ${summary.counts.failed} of ${summary.counts.total} evaluation lines failed (tolerance ${limit})${summary.error ? `: ${summary.error}` : ''}`,
        );
    };
    await scheduler.run(pieces, runPiece);
    progress.finish();
    scheduler.throwIfFailed();

    // Every job whose evaluation run is complete, in the order of the jobs: those finished now, and those kept or
    // finished by other shards. A run still waiting for other shards' lines is left out until they ran.
    const evaluations: EvaluationResult[] = [];
    const waiting: string[] = [];
    for (const job of jobs) {
      const runId = evaluationRunId(job.run.runId, job.evaluator.name);
      const now = ran.get(job);
      if (now?.status === 'Completed') {
        evaluations.push(resultOf(job, runId, now.counts, now.metrics));
        continue;
      }
      const stored = existingRun(inputs.store, runId);
      if (stored?.record.status === 'Completed')
        evaluations.push(resultOf(job, runId, stored.record.counts, stored.metrics));
      else waiting.push(runId);
    }
    if (waiting.length)
      host.info(
        `evaluate: ${waiting.length} evaluation run(s) wait for the lines of other shards and are not in the evaluations file yet: ${waiting.join(', ')}`,
      );

    const evaluationsFile = inputs.evaluationsFile ?? defaultEvaluationsFile(inputs.store, useCase);
    const handoff: EvaluationsFile = {
      experiment: useCase.name,
      env: useCase.envName,
      build: inputs.buildId ?? runs.build ?? ciBuildId(),
      createdAt: new Date().toISOString(),
      evaluations,
    };
    writeHandoff(evaluationsFile, handoff);
    // Early-stopped runs are judged by the confidence sequence they stopped on (the report's verdict too).
    for (const line of await earlyStopVerdicts(useCase.gates, new RunStore(inputs.store), runs.runs, evaluations))
      if (line.startsWith('warning: ')) host.warning(`evaluate: ${line.slice('warning: '.length)}`);
      else host.info(`evaluate: ${line}`);
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

function resultOf(
  job: Job,
  runId: string,
  counts: { total: number; failed: number },
  metrics: Record<string, unknown>,
): EvaluationResult {
  return {
    runId,
    evaluator: job.evaluator.name,
    dataset: job.dataset.name,
    standardRunId: job.run.runId,
    variantId: job.run.variantId,
    lines: counts.total,
    failed: counts.failed,
    metrics: numericMetrics(metrics),
  };
}

/** An evaluation run already in the store, with its metrics when it wrote them. */
function existingRun(
  store: string,
  runId: string,
): { record: RunRecord; metrics: Record<string, unknown> } | undefined {
  const runs = new RunStore(store);
  if (!runs.has(runId)) return undefined;
  return { record: runs.record(runId), metrics: runs.metrics(runId) };
}

/** One shard's piece of an evaluation job: its lines [start, end) of the evaluation data, or all of them. */
interface EvaluationPiece {
  job: Job;
  range?: { start: number; end: number };
}

/**
 * The evaluation jobs' lines cut as shardPlan cuts a plan's. Code-only and in-process built-in evaluators read
 * their data themselves and cannot be cut: each runs whole in the shard that holds its first line.
 */
function shardPieces(jobs: Job[], rows: Map<Job, number>, shard: { index: number; count: number }): EvaluationPiece[] {
  const cuttable = (j: Job) =>
    j.evaluator.flow !== undefined || (llmJudges as readonly string[]).includes(j.evaluator.builtin ?? '');
  const ids = jobs.map((_, i) => String(i));
  const mine = shardPlan(
    { runs: jobs.map((j, i) => ({ runId: ids[i], lineRange: { start: 0, end: rows.get(j)! } }) as PlannedRun) },
    shard.count,
  )[shard.index].pieces;
  return mine.flatMap((p): EvaluationPiece[] => {
    const job = jobs[Number(p.runId)];
    if (cuttable(job)) return [{ job, range: { start: p.start, end: p.end } }];
    return p.start === 0 ? [{ job }] : [];
  });
}

/**
 * Evaluation data must have one row per line of the run it scores (unless its rows carry line_number). Returns
 * the rows of each job's evaluation data (code-only evaluators: the lines of the run they score).
 */
async function checkAlignment(jobs: Job[], useCase: UseCase): Promise<Map<Job, number>> {
  const rows = new Map<Job, number>(jobs.map((j) => [j, j.run.lines]));
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
    rows.set(job, scan.rows);
    // `repeat: K`: the run has K lines per data row.
    const repeat = useCase.datasets.find((d) => d.name === job.run.dataset)?.repeat ?? 1;
    if (!scan.lineNumbers && scan.rows * repeat !== job.run.lines) {
      const at = useCase.locationOf([
        'evaluators',
        job.evaluatorIndex,
        'datasets',
        job.datasetIndex,
        job.dataset.name === job.dataset.reference ? 'name' : 'source',
      ]);
      problems.push({
        ...at,
        message: `evaluators[${job.evaluatorIndex}].datasets[${job.datasetIndex}]: ${path.relative(process.cwd(), file)} has ${scan.rows} rows${repeat > 1 ? ` (× repeat ${repeat})` : ''} but run ${job.run.runId} of dataset "${job.run.dataset}" has ${job.run.lines} lines, expected row-aligned data (or a line_number column)`,
      });
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return rows;
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
