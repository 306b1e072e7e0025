/**
 * Runs a built-in evaluator against a standard run through the batch runner, like a flow evaluator: the same
 * alignment, concurrency, resume, progress, failure records and metrics.json. A deterministic scorer is the
 * runner's executor (a line → its score, the aggregation → the mean); an LLM judge is a judge prompty run by
 * the engine (sharing its cache, limits and accounting), its aggregation the mean of its scores.
 */
import type { Connection } from '../../config/connections.js';
import type { Evaluator, EvaluatorDataset, UseCase } from '../../config/types.js';
import {
  emptyUsage,
  LlmService,
  type AggregationColumns,
  type AggregationResult,
  type LineResult,
  type PfError,
  type Usage,
} from '../../engine/index.js';
import { ConfigError, type Problem } from '../../errors.js';
import { loadPrompty, type FlowInputDef } from '../../flow/index.js';
import {
  runBatch,
  RunStore,
  type BatchExecutor,
  type LineRecord,
  type OutputsReader,
  type ProgressReporter,
  type RunBatchOptions,
  type RunningAggregation,
  type RunSummary,
} from '../../runs/index.js';
import { assetPath } from '../../assets.js';
import type { SlotPool } from '../../runs/pool.js';
import { missingOptions, scorers, type ScoredLine } from './scorers.js';
import { safetyServices } from './safety-services.js';

export interface BuiltinRunOptions {
  evaluator: Evaluator;
  dataset: EvaluatorDataset;
  standardRunId: string;
  runId: string;
  storeRoot: string;
  concurrency: number;
  connections: Connection[];
  llm: LlmService;
  progress?: ProgressReporter;
  /** The step's line pool, shared with its other evaluation runs. */
  pool?: SlotPool;
  /** Resume the evaluation run already in the store (its recorded lines are final). */
  resume?: boolean;
  /** A shard's piece of the evaluation run (lines [start, end) of the data) and the shard, for run.json. */
  lineRange?: { start: number; end: number };
  shard?: { index: number; count: number };
  /** The Azure ML data asset version the dataset was read from (lineage in run.json). */
  dataAsset?: { asset: string; dataUri: string; hash?: string };
  /** PII redaction of the records the store keeps (redaction.run_store). */
  redactRecord?: RunBatchOptions['redactRecord'];
}

/** Judges scored 1–5 by an LLM with a documented rubric (src/shared/eval/judges/<name>.prompty). */
export const llmJudges = ['groundedness', 'relevance', 'coherence', 'fluency', 'similarity'] as const;

/**
 * What a built-in scorer (not a judge) lacks to score this dataset: options, or mappings of the inputs it reads.
 * Undefined when it has everything, or is not a scorer. Checked by evaluate before any evaluation runs.
 */
export function scorerSetupProblem(
  evaluator: Pick<Evaluator, 'builtin' | 'options'>,
  dataset: Pick<EvaluatorDataset, 'name' | 'mappings'>,
): { in: 'options' | 'mappings'; message: string } | undefined {
  const builtin = evaluator.builtin;
  const scorer = builtin ? scorers[builtin] : undefined;
  if (!builtin || !scorer) return undefined;
  const missing = missingOptions(builtin, evaluator.options);
  if (missing) return { in: 'options', message: `builtin ${builtin} needs ${missing}` };
  const inputs = [...scorer.needs, ...(scorer.optional ?? [])];
  // A mapping under another name (ground_truth for reference) is named: it is what the user meant.
  const unread = Object.keys(dataset.mappings).filter((m) => !inputs.includes(m));
  const found = unread.length ? `; found ${unread.join(', ')}, which ${builtin} does not read` : '';
  if (scorer.optional && !scorer.optional.some((n) => n in dataset.mappings))
    return {
      in: 'mappings',
      message: `builtin ${builtin} needs a mapping for at least one of ${scorer.optional.join(', ')} (e.g. input: "\${data.question}", prediction: "\${run.outputs.answer}") in dataset ${dataset.name}`,
    };
  const absent = scorer.needs.filter((n) => !(n in dataset.mappings));
  if (absent.length)
    return {
      in: 'mappings',
      message: `builtin ${builtin} needs mappings for ${absent.join(', ')} (e.g. prediction: "\${run.outputs.answer}", reference: "\${data.answer}") in dataset ${dataset.name}${found}`,
    };
  return undefined;
}

/** scorerSetupProblem as a problem at its line: the evaluator's builtin key (options) or the dataset's mappings. */
export function scorerSetupProblemAt(
  useCase: Pick<UseCase, 'evaluators' | 'locationOf'>,
  evaluator: Evaluator,
  dataset: Pick<EvaluatorDataset, 'name' | 'mappings'>,
): Problem | undefined {
  const problem = scorerSetupProblem(evaluator, dataset);
  if (!problem) return undefined;
  const e = useCase.evaluators.indexOf(evaluator);
  const d = evaluator.datasets.findIndex((x) => x.name === dataset.name);
  if (e < 0 || d < 0) return { file: `evaluator "${evaluator.name}"`, message: problem.message };
  const options = problem.in === 'options';
  return {
    ...useCase.locationOf(options ? ['evaluators', e, 'builtin'] : ['evaluators', e, 'datasets', d, 'mappings']),
    message: `evaluators[${e}]${options ? '' : `.datasets[${d}]`}: ${problem.message}`,
  };
}

export async function runBuiltinEvaluator(o: BuiltinRunOptions): Promise<RunSummary> {
  const builtin = o.evaluator.builtin!;
  if ((llmJudges as readonly string[]).includes(builtin)) return runJudge(o, builtin);
  const where = `evaluator "${o.evaluator.name}"`;
  const safety = await safetyServices(builtin, o.evaluator.options, where);
  // Without a Content Safety resource, harm severities are judged by a model (judges/content_safety.prompty).
  if (builtin === 'content_safety' && !safety.contentSafety) return runJudge(o, builtin);
  const scorer = scorers[builtin];
  const problem = scorerSetupProblem(o.evaluator, o.dataset);
  if (problem) throw ConfigError.at({ file: where }, problem.message);
  const store = new RunStore(o.storeRoot);
  store.record(o.standardRunId); // the standard run must exist: ConfigError naming it
  const embed = builtin === 'embedding_similarity' ? embedder(o) : undefined;
  // Scorers of the standard line itself (latency, cost) look its record up by line number.
  const standard =
    scorer.needs.length === 0 && !scorer.optional ? (await store.index(o.standardRunId)).reader() : undefined;
  return runBatch({
    executor: scorerExecutor(o, builtin, { embed, standard, safety }),
    data: o.dataset.localPath!,
    columnMapping: o.dataset.mappings,
    referencedRun: o.standardRunId,
    runId: o.runId,
    redactRecord: o.redactRecord,
    resume: o.resume && store.has(o.runId) ? o.runId : undefined,
    storeRoot: o.storeRoot,
    concurrency: o.concurrency,
    progress: o.progress,
    // Only a scorer that calls a model takes slots of the step's line pool.
    pool: builtin === 'embedding_similarity' ? o.pool : undefined,
    lineRange: o.lineRange,
    shard: o.shard,
    dataAsset: o.dataAsset,
  });
}

/** What a built-in scorer's lines record when the scorer throws. */
function scorerError(message: string): PfError {
  return {
    message,
    messageFormat: '',
    messageParameters: {},
    referenceCode: 'Builtin',
    code: 'UserError',
    innerError: { code: 'BuiltinEvaluatorError', innerError: null },
  } as unknown as PfError;
}

/**
 * A built-in evaluator's metric, the mean of one output's numbers, kept as a running sum and count: a million
 * lines' scores are never gathered. Added in line order, so the sum (and the metric) is the same whatever order
 * the lines finished in.
 */
function meanOf(output: string, metric: string): () => RunningAggregation {
  return () => {
    let sum = 0;
    let n = 0;
    return {
      add(outputs) {
        const v = outputs[output];
        if (typeof v === 'number') {
          sum += v;
          n++;
        }
      },
      finish: () => ({ metrics: n > 0 ? { [metric]: sum / n } : {}, usage: emptyUsage() }),
    };
  };
}

/** The same mean over lines given at once (a caller that aggregates outside the batch runner). */
function meanAggregation(running: () => RunningAggregation, output: string) {
  return async (lines: AggregationColumns | unknown): Promise<AggregationResult> => {
    const aggregation = running();
    const given = lines as AggregationColumns | ReadonlyArray<{ outputs?: Record<string, unknown> }>;
    if (Array.isArray(given)) for (const l of given) aggregation.add(l.outputs ?? {});
    else for (const v of (given as AggregationColumns).inputs.get(output) ?? []) aggregation.add({ [output]: v });
    return aggregation.finish();
  };
}

/**
 * A built-in scorer as the batch runner's executor: a line's mapped inputs → its score (output named after the
 * metric), the aggregation → the mean of the scores.
 */
function scorerExecutor(
  o: BuiltinRunOptions,
  builtin: string,
  helpers: {
    embed?: (texts: string[], usage: Usage) => Promise<number[][]>;
    standard?: OutputsReader;
    safety?: Awaited<ReturnType<typeof safetyServices>>;
  },
): BatchExecutor {
  const scorer = scorers[builtin];
  const read = [...scorer.needs, ...(scorer.optional ?? []).filter((n) => n in o.dataset.mappings)];
  const inputs: Record<string, FlowInputDef> = Object.fromEntries(
    read.map((name) => [
      name,
      { name, hasDefault: false, isChatInput: false, at: { file: `evaluator "${o.evaluator.name}"` } },
    ]),
  );
  return {
    describes: { path: `builtin:${builtin}`, kind: 'dag', name: builtin },
    inputs,
    hasAggregation: true,
    runningAggregation: meanOf(scorer.metric, scorer.metric),
    async runLine(lineInputs, options) {
      const lineNumber = options?.lineNumber ?? 0;
      const usage = emptyUsage();
      const started = performance.now();
      const result: LineResult = { lineNumber, status: 'Completed', inputs: lineInputs, latencyMs: 0, usage };
      try {
        const record = helpers.standard?.get(lineNumber);
        const embed = helpers.embed ? (texts: string[]) => helpers.embed!(texts, usage) : undefined;
        const value = await scorer.score({
          inputs: lineInputs,
          record: record ?? ({} as LineRecord),
          options: o.evaluator.options,
          embed,
          safety: helpers.safety,
        });
        const scored: ScoredLine = typeof value === 'object' && value !== null ? value : { score: value, details: {} };
        result.outputs = { [scorer.metric]: scored.score ?? null, ...scored.details };
      } catch (e) {
        result.status = 'Failed';
        result.error = scorerError((e as Error).message);
      }
      result.latencyMs = performance.now() - started;
      return result;
    },
    aggregate: meanAggregation(meanOf(scorer.metric, scorer.metric), scorer.metric),
    close: async () => helpers.standard?.close(),
  };
}

/** Embeddings through the engine's LLM service, so they share its cache, limits and accounting. */
function embedder(o: BuiltinRunOptions): (texts: string[], usage: Usage) => Promise<number[][]> {
  const name = String(o.evaluator.options.connection);
  const connection = o.connections.find((c) => c.name === name);
  if (!connection)
    throw ConfigError.at(
      { file: `evaluator "${o.evaluator.name}"` },
      `options.connection "${name}" is not a connection of this experiment, expected one of: ${o.connections.map((c) => c.name).join(', ') || '(none)'}`,
    );
  return async (texts, usage) => {
    const result = await o.llm.call(
      'embedding',
      connection,
      { model: String(o.evaluator.options.deployment), input: texts },
      [usage],
    );
    return (result.response as { data: { embedding: number[] }[] }).data.map((d) => d.embedding);
  };
}

/** An LLM judge: the judge prompty, pointed at the evaluator's connection and deployment, run over the dataset joined with the standard run. */
async function runJudge(o: BuiltinRunOptions, builtin: string): Promise<RunSummary> {
  const where = `evaluator "${o.evaluator.name}"`;
  const connection = o.evaluator.options.connection;
  const deployment = o.evaluator.options.deployment;
  if (typeof connection !== 'string' || typeof deployment !== 'string') {
    throw ConfigError.at(
      { file: where },
      `builtin ${builtin} is judged by a model${builtin === 'content_safety' ? ' when no Content Safety resource is set (options.content_safety_endpoint or AZURE_CONTENT_SAFETY_ENDPOINT)' : ''}: it needs options.connection (a connection name) and options.deployment (the model or deployment to call)`,
    );
  }
  const type =
    o.connections.find((c) => c.name === connection)?.type === 'OpenAIConnection' ? 'openai' : 'azure_openai';
  const modelKey = type === 'openai' ? 'model' : 'azure_deployment';
  const flow = loadPrompty(assetPath(`src/shared/eval/judges/${builtin}.prompty`), {
    overrides: { model: { configuration: { type, connection, [modelKey]: deployment } } },
  });
  const needed = Object.entries(flow.inputs)
    .filter(([, d]) => !d.hasDefault)
    .map(([n]) => n);
  const absent = needed.filter((n) => !(n in o.dataset.mappings));
  if (absent.length)
    throw ConfigError.at(
      { file: where },
      `builtin ${builtin} needs mappings for ${absent.join(', ')} in dataset ${o.dataset.name}`,
    );
  return runBatch({
    flow,
    data: o.dataset.localPath!,
    columnMapping: o.dataset.mappings,
    referencedRun: o.standardRunId,
    runId: o.runId,
    redactRecord: o.redactRecord,
    resume: o.resume && new RunStore(o.storeRoot).has(o.runId) ? o.runId : undefined,
    storeRoot: o.storeRoot,
    concurrency: o.concurrency,
    connections: o.connections,
    llm: o.llm,
    progress: o.progress,
    pool: o.pool,
    lineRange: o.lineRange,
    shard: o.shard,
    // A prompty has no aggregation: the judge's metric is the mean of its per-line scores.
    adapt: (executor) => ({
      inputs: executor.inputs,
      hasAggregation: true,
      runningAggregation: meanOf('score', builtin),
      runLine: (inputs, options) => executor.runLine(inputs, options),
      aggregate: meanAggregation(meanOf('score', builtin), 'score'),
      close: () => executor.close(),
    }),
  });
}
