/**
 * Parity of two targets on the same lines: both run as ordinary runs in the store (resume, concurrency, cache,
 * pacing as any run), then each line is compared — exact agreement of the compared outputs, semantic similarity
 * (embeddings), an LLM-judged equivalence score, every evaluator's score on both sides — and the whole is tested
 * for equivalence within the margin: the disagreement rate's one-sided upper bound, and TOST on each evaluator's
 * paired difference (eval/stats/equivalence.ts).
 * @module
 */
import type { Connection } from '../config/connections.js';
import type { FlowRef, UseCase } from '../config/types.js';
import type { LlmService, Usage } from '../engine/index.js';
import { emptyUsage } from '../engine/index.js';
import { scorers } from '../eval/builtin/scorers.js';
import { cosineSimilarity } from '../eval/metrics/index.js';
import { equivalenceTest, type EquivalenceTest } from '../eval/stats/equivalence.js';
import { runBuiltinEvaluator } from '../eval/builtin/run-builtin.js';
import { summarize } from '../eval/stats/summarize.js';
import { effectiveMapping } from '../runs/mapping.js';
import { evaluationRunId } from '../runs/plan.js';
import { readData, RunStore, type DataRow, type LineRecord } from '../runs/index.js';
import { runBatch } from '../runs/batch.js';
import { marginFor, type ParityConfig, type ParityModel } from './config.js';
import { disagreementUpperBound } from './disagreement.js';

export interface ParitySide {
  kind: string;
  name: string;
  /** The flow file, or the endpoint's URL as written (placeholders unresolved). */
  target: string;
  runId: string;
  failed: number;
}

export interface ParityLine {
  line: number;
  inputs: Record<string, unknown>;
  baseline?: Record<string, unknown>;
  candidate?: Record<string, unknown>;
  /** Error message of a side whose line failed. */
  error?: { baseline?: string; candidate?: string };
  agree: boolean;
  similarity?: number;
  /** LLM-judged equivalence, 0 (different) to 1 (equivalent). */
  judge?: number;
  scores: Record<string, { baseline: number | null; candidate: number | null }>;
  /** How much the sides disagree on this line, 0 to 1 (the report lists the largest first). */
  disagreement: number;
}

export interface ParityMeasure {
  mean: number;
  ciLow: number;
  ciHigh: number;
}

export interface ParityEvaluatorResult {
  name: string;
  metric: string;
  baseline: number;
  candidate: number;
  /** candidate − baseline, with the TOST's (1 − 2α) interval, against this evaluator's δ (`test.margin`). */
  test: EquivalenceTest;
  /** Where its δ came from: `parity.margins.<key>`, or `parity.margin` (the default, or --margin). */
  marginFrom: string;
}

export interface ParityResult {
  useCase: string;
  dataset: string;
  lines: number;
  /** The default δ: on the disagreement rate and on every evaluator without its own (`evaluators[].test.margin`). */
  margin: number;
  alpha: number;
  outputs: string[];
  baseline: ParitySide;
  candidate: ParitySide;
  agreement: {
    rate: number;
    disagreements: number;
    disagreementUpper: number;
    withinMargin: boolean;
    /** The clusters (`cluster_by`) the bound counts, when lines share them. */
    clusters?: number;
  };
  similarity?: ParityMeasure;
  judge?: ParityMeasure;
  evaluators: ParityEvaluatorResult[];
  equivalent: boolean;
  /** One sentence per check, saying why it passed or failed. */
  reasons: string[];
  /** Every line, the largest disagreement first (ties in line order). */
  rows: ParityLine[];
}

export interface ParityRunOptions {
  service: LlmService;
  storeRoot: string;
  log?: (message: string) => void;
  onSecret?: (value: string) => void;
  signal?: AbortSignal;
}

export async function runParity(useCase: UseCase, cfg: ParityConfig, o: ParityRunOptions): Promise<ParityResult> {
  const store = new RunStore(o.storeRoot);
  const run = async (side: 'baseline' | 'candidate', ref: FlowRef): Promise<ParitySide> => {
    o.log?.(`parity: running the ${side} (${describeTarget(ref)}) on ${cfg.dataset.name}`);
    const summary = await runBatch({
      flow: ref.model,
      data: cfg.dataset.localPath!,
      columnMapping: effectiveMapping(ref.model.inputs, cfg.dataset.mappings),
      storeRoot: o.storeRoot,
      concurrency: useCase.execution.concurrency,
      connections: useCase.connections,
      llm: o.service,
      lineTimeoutMs: useCase.execution.lineTimeoutSec * 1000,
      python: useCase.execution.python,
      init: ref.init,
      onSecret: o.onSecret,
      signal: o.signal,
      variantId: side,
    });
    return {
      kind: ref.kind,
      name: ref.model.name,
      target: describeTarget(ref),
      runId: summary.runId,
      failed: summary.counts.failed,
    };
  };
  const baseline = await run('baseline', cfg.baseline);
  const candidate = await run('candidate', cfg.candidate);
  const [bLines, cLines] = [await byLine(store, baseline.runId), await byLine(store, candidate.runId)];
  const rowsData: DataRow[] = [];
  for await (const row of readData(cfg.dataset.localPath!)) rowsData.push(row);

  const usage: Usage[] = [emptyUsage()];
  const connection = (m: ParityModel) => useCase.connections.find((c) => c.name === m.connection) as Connection;
  // Every evaluator runs on each side's run as the evaluate step runs it (`${run.outputs.x}` joined by line).
  const evaluatorScores = await scoreWithEvaluators(useCase, cfg, o, {
    baseline: baseline.runId,
    candidate: candidate.runId,
  });
  const rows: ParityLine[] = [];
  for (let i = 0; i < rowsData.length; i++) {
    const b = bLines.get(i);
    const c = cLines.get(i);
    const bOut = b?.status === 'Completed' ? b.outputs : undefined;
    const cOut = c?.status === 'Completed' ? c.outputs : undefined;
    const bText = textOf(bOut, cfg.outputs);
    const cText = textOf(cOut, cfg.outputs);
    const agree = bOut !== undefined && cOut !== undefined && cfg.outputs.every((k) => same(bOut[k], cOut[k]));
    const line: ParityLine = { line: i, inputs: b?.inputs ?? c?.inputs ?? {}, agree, scores: {}, disagreement: 0 };
    if (bOut) line.baseline = pick(bOut, cfg.outputs);
    if (cOut) line.candidate = pick(cOut, cfg.outputs);
    if (!bOut || !cOut)
      line.error = {
        ...(bOut ? {} : { baseline: b?.error?.message ?? 'no record' }),
        ...(cOut ? {} : { candidate: c?.error?.message ?? 'no record' }),
      };
    if (cfg.embeddings && bOut && cOut) {
      const r = await o.service.call(
        'embedding',
        connection(cfg.embeddings),
        { model: cfg.embeddings.deployment, input: [bText, cText] },
        usage,
        o.signal,
      );
      const [x, y] = (r.response as { data: { embedding: number[] }[] }).data.map((d) => d.embedding);
      line.similarity = Math.max(0, Math.min(1, cosineSimilarity(x, y)));
    }
    if (cfg.judge && bOut && cOut)
      line.judge = await judgeLine(
        o.service,
        connection(cfg.judge),
        cfg.judge,
        line.inputs,
        bText,
        cText,
        usage,
        o.signal,
      );
    for (const f of evaluatorScores)
      line.scores[f.key] = {
        baseline: bOut ? (f.baseline.get(i) ?? null) : null,
        candidate: cOut ? (f.candidate.get(i) ?? null) : null,
      };
    line.disagreement = Math.max(
      agree ? 0 : 1 - (line.similarity ?? 0) * 0.001, // any disagreement outranks agreement; closer texts rank lower
      line.judge !== undefined ? 1 - line.judge : 0,
      ...Object.values(line.scores).map((s) =>
        s.baseline === null || s.candidate === null ? 1 : Math.min(1, Math.abs(s.candidate - s.baseline)),
      ),
    );
    rows.push(line);
  }

  const n = rows.length;
  const disagreements = rows.filter((r) => !r.agree).length;
  const clusterOf = cfg.dataset.clusterBy;
  const clusterIdOf = (line: number) => String(rowsData[line][clusterOf!] ?? `line ${line}`);
  const bound = disagreementUpperBound(
    rows.map((r) => !r.agree),
    cfg.alpha,
    clusterOf ? rows.map((r) => clusterIdOf(r.line)) : undefined,
  );
  const upper = bound.upper;
  const agreement = {
    rate: n ? 1 - disagreements / n : NaN,
    disagreements,
    disagreementUpper: upper,
    withinMargin: upper < cfg.margin,
    ...(bound.clusters !== undefined ? { clusters: bound.clusters } : {}),
  };
  // Similarity and judged equivalence get the evaluate step's interval: clustered by cluster_by when lines share one.
  const measure = (of: (r: ParityLine) => number | undefined): ParityMeasure | undefined => {
    const measured = rows.filter((r) => of(r) !== undefined);
    if (measured.length === 0) return undefined;
    const t = summarize(
      measured.map((r) => of(r)!),
      'continuous',
      {
        level: 1 - 2 * cfg.alpha,
        clusterIds: clusterOf ? measured.map((r) => clusterIdOf(r.line)) : undefined,
      },
    );
    return { mean: t.mean, ciLow: t.lower, ciHigh: t.upper };
  };
  const evaluators: ParityEvaluatorResult[] = [];
  const reasons: string[] = [];
  const pct = `${Math.round((1 - cfg.alpha) * 100)}%`;
  reasons.push(
    `agreement: ${disagreements} of ${n} lines disagree; the ${pct} upper bound of the disagreement rate${bound.clusters !== undefined ? ` (clustered by ${clusterOf}, ${bound.clusters} clusters)` : ''} is ${round(upper)}, ${agreement.withinMargin ? 'below' : 'not below'} the margin ${cfg.margin}`,
  );
  for (const why of cfg.skipped) reasons.push(`not compared: ${why}`);
  for (const e of cfg.evaluators)
    if (!evaluatorScores.some((f) => f.evaluator === e.name))
      reasons.push(`not compared: "${e.name}" gave no numeric score on every line (a score per line to pair)`);
  const scored = evaluatorScores.map((f) => ({ key: f.key, name: f.evaluator, metric: f.metric }));
  for (const e of scored) {
    const paired = rows.filter((r) => r.scores[e.key].baseline !== null && r.scores[e.key].candidate !== null);
    const bs = paired.map((r) => r.scores[e.key].baseline!);
    const cs = paired.map((r) => r.scores[e.key].candidate!);
    const delta = marginFor(cfg, e.key, e.name);
    const test = equivalenceTest(cs, bs, delta.margin, {
      alpha: cfg.alpha,
      clusterIds: clusterOf ? paired.map((r) => clusterIdOf(r.line)) : undefined,
    });
    evaluators.push({
      name: e.name,
      metric: e.metric,
      baseline: mean(bs),
      candidate: mean(cs),
      test,
      marginFrom: delta.from,
    });
    reasons.push(
      `${e.name} (${e.metric}, δ = ${delta.margin} from ${delta.from}): ${test.equivalent ? 'equivalent' : 'not equivalent'}: ${test.reason}`,
    );
  }
  const failedLines = baseline.failed + candidate.failed;
  if (failedLines) reasons.push(`${failedLines} line(s) failed on one side; they count as disagreements`);
  const equivalent = agreement.withinMargin && evaluators.every((e) => e.test.equivalent);
  rows.sort((a, b) => b.disagreement - a.disagreement || a.line - b.line);
  return {
    useCase: useCase.name,
    dataset: cfg.dataset.name,
    lines: n,
    margin: cfg.margin,
    alpha: cfg.alpha,
    outputs: cfg.outputs,
    baseline,
    candidate,
    agreement,
    similarity: measure((r) => r.similarity),
    judge: measure((r) => r.judge),
    evaluators,
    equivalent,
    reasons,
    rows,
  };
}

/** What the judge is asked: the request and both answers; it answers JSON with a 1–5 score. */
export function judgePrompt(inputs: Record<string, unknown>, a: string, b: string): string {
  return [
    'Compare two answers to the same request. Are they equivalent: the same meaning, the same facts, the same decision?',
    `Request: ${JSON.stringify(inputs)}`,
    `Answer A: ${a}`,
    `Answer B: ${b}`,
    'Reply with JSON only: {"score": <1 to 5>, "reason": "<one sentence>"}, where 5 means equivalent and 1 means different.',
  ].join('\n');
}

async function judgeLine(
  service: LlmService,
  connection: Connection,
  model: ParityModel,
  inputs: Record<string, unknown>,
  a: string,
  b: string,
  usage: Usage[],
  signal?: AbortSignal,
): Promise<number | undefined> {
  const r = await service.call(
    'chat',
    connection,
    {
      model: model.deployment,
      temperature: 0,
      messages: [{ role: 'user', content: judgePrompt(inputs, a, b) }],
      response_format: { type: 'json_object' },
    },
    usage,
    signal,
  );
  const content =
    (r.response as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message?.content ?? '';
  let score: unknown;
  try {
    score = (JSON.parse(content) as { score?: unknown }).score;
  } catch {
    score = /\b([1-5])\b/.exec(content)?.[1];
  }
  const s = Number(score);
  return s >= 1 && s <= 5 ? (s - 1) / 4 : undefined;
}

/** One score of an evaluator: each side's score by line. */
interface EvaluatorScore {
  /** The line's scores key: the evaluator's name, `<evaluator>.<output>` when a flow has several numeric outputs. */
  key: string;
  evaluator: string;
  /** The metric reported: a built-in's metric, a flow's output name. */
  metric: string;
  baseline: Map<number, number>;
  candidate: Map<number, number>;
}

/**
 * Runs each evaluator on both sides' runs into the store, as the evaluate step does: an evaluation flow through
 * the batch runner, a built-in (line scorer, LLM judge, safety evaluator) through its own runner, so every
 * evaluator the experiment declares scores both sides the same way. A built-in's score is its metric's output (a
 * judge's `score`); an evaluation flow's scores are its outputs whose every value is a number or a boolean (0/1)
 * (text outputs, such as a grade word, are left out: they have no paired difference).
 */
async function scoreWithEvaluators(
  useCase: UseCase,
  cfg: ParityConfig,
  o: ParityRunOptions,
  runs: { baseline: string; candidate: string },
): Promise<EvaluatorScore[]> {
  const store = new RunStore(o.storeRoot);
  const out: EvaluatorScore[] = [];
  for (const e of cfg.evaluators) {
    const sides: Record<string, Map<number, Record<string, unknown>>> = {};
    for (const side of ['baseline', 'candidate'] as const) {
      o.log?.(`parity: evaluating the ${side} with ${e.name}`);
      const common = {
        storeRoot: o.storeRoot,
        concurrency: useCase.execution.concurrency,
        connections: useCase.connections,
        llm: o.service,
      };
      const summary = e.flow
        ? await runBatch({
            ...common,
            flow: e.flow.model,
            data: e.dataset.localPath!,
            columnMapping: e.mappings,
            referencedRun: runs[side],
            lineTimeoutMs: useCase.execution.lineTimeoutSec * 1000,
            python: useCase.execution.python,
            init: e.flow.init,
            onSecret: o.onSecret,
            signal: o.signal,
            variantId: `${side}-${e.name}`,
          })
        : await runBuiltinEvaluator({
            ...common,
            evaluator: e.evaluator,
            dataset: e.dataset,
            standardRunId: runs[side],
            runId: evaluationRunId(runs[side], e.name),
          });
      const lines = new Map<number, Record<string, unknown>>();
      for (const [i, r] of await byLine(store, summary.runId))
        if (r.status === 'Completed' && r.outputs) lines.set(i, r.outputs);
      sides[side] = lines;
    }
    const all = [...sides.baseline.values(), ...sides.candidate.values()];
    const isScore = (k: string) =>
      all.length > 0 && all.every((v) => typeof v[k] === 'boolean' || Number.isFinite(v[k]));
    let numeric: { output: string; metric: string }[];
    if (e.builtin) {
      const metric = scorers[e.builtin]?.metric ?? e.builtin;
      // A judged built-in (an LLM judge, content_safety without a Content Safety resource) records `score`.
      const output = all.some((v) => metric in v) ? metric : 'score';
      // A line the scorer could not score (null) is left out of the pairs, not the evaluator out of the comparison.
      numeric = all.some((v) => Number.isFinite(v[output]) || typeof v[output] === 'boolean')
        ? [{ output, metric }]
        : [];
    } else
      numeric = Object.keys(e.flow!.model.outputs)
        .filter(isScore)
        .map((k) => ({ output: k, metric: k }));
    for (const { output, metric } of numeric) {
      const scores = (lines: Map<number, Record<string, unknown>>) =>
        new Map(
          [...lines].flatMap(([i, v]): [number, number][] =>
            typeof v[output] === 'boolean' || Number.isFinite(v[output]) ? [[i, Number(v[output])]] : [],
          ),
        );
      out.push({
        key: numeric.length > 1 ? `${e.name}.${output}` : e.name,
        evaluator: e.name,
        metric,
        baseline: scores(sides.baseline),
        candidate: scores(sides.candidate),
      });
    }
  }
  return out;
}

async function byLine(store: RunStore, runId: string): Promise<Map<number, LineRecord>> {
  const out = new Map<number, LineRecord>();
  for await (const r of store.lines(runId)) out.set(r.line_number, r);
  return out;
}

function describeTarget(ref: FlowRef): string {
  return ref.model.kind === 'http' ? `http ${ref.model.target.url}` : `${ref.kind} ${ref.model.displayFile}`;
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

function textOf(o: Record<string, unknown> | undefined, keys: string[]): string {
  if (!o) return '';
  if (keys.length === 1) return typeof o[keys[0]] === 'string' ? (o[keys[0]] as string) : JSON.stringify(o[keys[0]]);
  return keys.map((k) => `${k}: ${typeof o[k] === 'string' ? o[k] : JSON.stringify(o[k])}`).join('\n');
}

/** Equal values; texts compared after trimming (a trailing newline is not a disagreement). */
function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.trim() === b.trim();
  return JSON.stringify(a) === JSON.stringify(b);
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN;
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
