/**
 * Runs a built-in evaluator against a standard run. Deterministic scorers are computed here and
 * recorded as an evaluation run in the run store (same files as a flow run); LLM-judged ones
 * run a judge prompty through the engine, so they share its cache, limits and accounting.
 */
import type { Connection } from '../../config/connections.js';
import type { Evaluator, EvaluatorDataset } from '../../config/types.js';
import { emptyUsage, LlmService, type Usage } from '../../engine/index.js';
import { ConfigError } from '../../errors.js';
import { loadPrompty } from '../../flow/index.js';
import {
  CompiledMapping,
  readData,
  runBatch,
  RunStore,
  type LineRecord,
  type ProgressReporter,
  type RunRecord,
  type RunSummary,
} from '../../runs/index.js';
import { assetPath } from '../../assets.js';
import { missingOptions, scorers } from './scorers.js';

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
}

/** Judges scored 1–5 by an LLM with a documented rubric (src/shared/eval/judges/<name>.prompty). */
export const llmJudges = ['groundedness', 'relevance', 'coherence', 'fluency', 'similarity'] as const;

export async function runBuiltinEvaluator(o: BuiltinRunOptions): Promise<RunSummary> {
  const builtin = o.evaluator.builtin!;
  if ((llmJudges as readonly string[]).includes(builtin)) return runJudge(o, builtin);
  const scorer = scorers[builtin];
  const where = `evaluator "${o.evaluator.name}"`;
  const missing = missingOptions(builtin, o.evaluator.options);
  if (missing) throw ConfigError.at({ file: where }, `builtin ${builtin} needs ${missing}`);
  const absent = scorer.needs.filter((n) => !(n in o.dataset.mappings));
  if (absent.length)
    throw ConfigError.at(
      { file: where },
      `builtin ${builtin} needs mappings for ${absent.join(', ')} (e.g. prediction: "\${run.outputs.answer}", reference: "\${data.answer}") in dataset ${o.dataset.name}`,
    );

  const store = new RunStore(o.storeRoot);
  const standard = store.record(o.standardRunId);
  const records = new Map<number, LineRecord>();
  for await (const r of store.lines(o.standardRunId)) records.set(r.line_number, r);
  const rows: Record<string, unknown>[] = [];
  if (o.dataset.localPath) for await (const row of readData(o.dataset.localPath)) rows.push(row);
  const mapping = new CompiledMapping(o.dataset.mappings);
  const usage = emptyUsage();
  const embed = builtin === 'embedding_similarity' ? embedder(o, usage) : undefined;

  const started = Date.now();
  const record: RunRecord = {
    version: 1,
    id: o.runId,
    status: 'Running',
    flow: { path: `builtin:${builtin}`, kind: 'dag', name: builtin },
    variant: { id: 'default', selection: {} },
    data: o.dataset.localPath ? [o.dataset.localPath] : [],
    column_mapping: o.dataset.mappings,
    referenced_run: o.standardRunId,
    concurrency: 1,
    counts: { total: 0, completed: 0, failed: 0 },
    timings: { created_at: new Date(started).toISOString(), started_at: new Date(started).toISOString() },
    tokens: { prompt: 0, completion: 0, total: 0 },
    llm_calls: 0,
  };
  const writer = store.begin(record);
  const scores: number[] = [];
  const total = standard.counts.total;
  o.progress?.start({ total, done: 0, failed: 0, skipped: 0, elapsedMs: 0, rate: 0 });
  for (const [lineNumber, rec] of [...records.entries()].sort((a, b) => a[0] - b[0])) {
    // Lines that failed in the standard run have nothing to score (Prompt Flow drops them from the join too).
    if (rec.status !== 'Completed') continue;
    const row = rows.find((r) => r.line_number === lineNumber) ?? rows[lineNumber] ?? {};
    const inputs = mapping.apply({ data: row, 'run.outputs': rec.outputs ?? {}, 'run.inputs': rec.inputs });
    const t0 = performance.now();
    let value: number | undefined;
    let error: string | undefined;
    let lineTokens = 0;
    try {
      const before = usage.totalTokens;
      value = await scorer.score({ inputs, record: rec, options: o.evaluator.options, embed });
      lineTokens = usage.totalTokens - before;
    } catch (e) {
      error = (e as Error).message;
    }
    record.counts.total++;
    const line: LineRecord = {
      line_number: lineNumber,
      status: error ? 'Failed' : 'Completed',
      inputs: { ...inputs, line_number: lineNumber },
      latency_ms: performance.now() - t0,
      tokens: { prompt: lineTokens, completion: 0, total: lineTokens },
    };
    if (error) {
      line.error = {
        message: error,
        messageFormat: '',
        messageParameters: {},
        referenceCode: 'Builtin',
        code: 'UserError',
        innerError: { code: 'BuiltinEvaluatorError', innerError: null },
      } as unknown as LineRecord['error'];
      record.counts.failed++;
    } else {
      line.outputs = { [scorer.metric]: value ?? null };
      record.counts.completed++;
      if (value !== undefined) scores.push(value);
    }
    if (!writer.append(line)) await writer.drain();
  }
  await writer.close();
  const metrics = scores.length ? { [scorer.metric]: scores.reduce((a, b) => a + b, 0) / scores.length } : {};
  writer.writeMetrics(metrics);
  record.tokens = { prompt: usage.promptTokens, completion: usage.completionTokens, total: usage.totalTokens };
  record.llm_calls = usage.llmCalls;
  if (usage.costUsd !== undefined) record.cost_usd = usage.costUsd;
  const durationMs = Date.now() - started;
  Object.assign(record, {
    status: 'Completed',
    timings: { ...record.timings, ended_at: new Date().toISOString(), duration_ms: durationMs },
  });
  writer.saveRun();
  o.progress?.finish({
    total: record.counts.total,
    done: record.counts.total,
    failed: record.counts.failed,
    skipped: 0,
    elapsedMs: durationMs,
    rate: record.counts.total / Math.max(0.001, durationMs / 1000),
  });
  return {
    runId: o.runId,
    dir: writer.dir,
    status: 'Completed',
    counts: record.counts,
    skipped: 0,
    metrics,
    tokens: record.tokens,
    costUsd: usage.costUsd,
    llmCalls: usage.llmCalls,
    durationMs,
  };
}

/** Embeddings through the engine's LLM service, so they share its cache, limits and accounting. */
function embedder(o: BuiltinRunOptions, usage: Usage): (texts: string[]) => Promise<number[][]> {
  const name = String(o.evaluator.options.connection);
  const connection = o.connections.find((c) => c.name === name);
  if (!connection)
    throw ConfigError.at(
      { file: `evaluator "${o.evaluator.name}"` },
      `options.connection "${name}" is not a connection of this experiment, expected one of: ${o.connections.map((c) => c.name).join(', ') || '(none)'}`,
    );
  return async (texts) => {
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
      `builtin ${builtin} is judged by a model: it needs options.connection (a connection name) and options.deployment (the model or deployment to call)`,
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
  const summary = await runBatch({
    flow,
    data: o.dataset.localPath!,
    columnMapping: o.dataset.mappings,
    referencedRun: o.standardRunId,
    runId: o.runId,
    storeRoot: o.storeRoot,
    concurrency: o.concurrency,
    connections: o.connections,
    llm: o.llm,
    progress: o.progress,
  });
  // A prompty has no aggregation: the judge's metric is the mean of its per-line scores.
  const scores: number[] = [];
  const store = new RunStore(o.storeRoot);
  for await (const r of store.lines(summary.runId)) {
    const score = Number((r.outputs as { score?: unknown } | undefined)?.score);
    if (r.status === 'Completed' && Number.isFinite(score)) scores.push(score);
  }
  const metrics = scores.length ? { [builtin]: scores.reduce((a, b) => a + b, 0) / scores.length } : {};
  store.open(summary.runId).writeMetrics(metrics);
  return { ...summary, metrics };
}
