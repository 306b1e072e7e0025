/**
 * Every reference-free evaluator of a use case run on a sample of served requests, for drift against the last
 * evaluation: built-in LLM judges, safety evaluators, the user's flow and code evaluators, and the deterministic
 * scorers. The sample is replayed as a standard run (its logged inputs as the data, its logged outputs as the
 * run's) in a scratch store, and each evaluator runs on it through the same runners `evaluate` uses, so its
 * scores compare with the evaluation's line for line. An evaluator whose mappings name a column a served request
 * does not have (a ground-truth answer) needs a reference and is skipped, with the column named.
 * @module
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Evaluator, EvaluatorDataset, UseCase } from '../config/types.js';
import { emptyUsage, type LineResult, type LlmService } from '../engine/index.js';
import { runBuiltinEvaluator } from '../eval/builtin/run-builtin.js';
import { checkCodeEvaluators } from '../eval/code-evaluators/index.js';
import { scoreValue } from '../eval/line-scores.js';
import { runBatch, RunStore, type BatchExecutor } from '../runs/index.js';
import type { RequestRecord } from './records.js';

/** One score column of an evaluator, over the sampled requests it scored. */
export interface EvaluatedSample {
  evaluator: string;
  /** `<evaluator>.<output>`: the key results.json's lines hold the evaluation's scores under. */
  scoreKey: string;
  scores: number[];
  /** Sampled requests the evaluator failed on (model error, exception in the user's code). */
  failed: number;
}

export interface SampleEvaluation {
  evaluated: EvaluatedSample[];
  skipped: { figure: string; reason: string }[];
}

/** Built-ins that score the standard run's own record: the served figures (latency, tokens) cover them. */
const SERVED_FIGURES: Record<string, string> = {
  latency: 'latency is compared from the request log itself (latency_ms)',
  cost: 'cost is compared from the request log itself (tokens_per_request)',
};

/** What a `${...}` mapping reads: a data column or a run output; other values are constants. */
function mappingColumn(value: unknown): { side: 'inputs' | 'outputs'; name: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const data = /^\$\{data\.([^}]+)\}$/.exec(value.trim());
  if (data) return { side: 'inputs', name: data[1] };
  const out = /^\$\{run\.(outputs|inputs)\.([^}]+)\}$/.exec(value.trim());
  if (out) return { side: out[1] as 'inputs' | 'outputs', name: out[2] };
  return undefined;
}

/** The columns a served request lacks for this evaluator's mappings ([] when it has them all). */
function missingColumns(mappings: Record<string, unknown>, requests: readonly RequestRecord[]): string[] {
  const missing: string[] = [];
  for (const value of Object.values(mappings)) {
    const column = mappingColumn(value);
    if (!column) continue;
    const held = requests.filter((r) => r[column.side] && column.name in r[column.side]!).length;
    if (held < 2) missing.push(String(value).trim());
  }
  return missing;
}

/** The sampled requests as a finished standard run: each line's inputs and outputs as logged. */
function replayExecutor(requests: readonly RequestRecord[]): BatchExecutor {
  const names = [...new Set(requests.flatMap((r) => Object.keys(r.inputs ?? {})))];
  return {
    describes: { path: 'request-log', kind: 'dag', name: 'served requests' },
    inputs: Object.fromEntries(
      names.map((name) => [name, { name, hasDefault: true, isChatInput: false, at: { file: 'request log' } }]),
    ),
    hasAggregation: false,
    async runLine(inputs, options): Promise<LineResult> {
      const lineNumber = options?.lineNumber ?? 0;
      const logged = requests[lineNumber];
      return {
        lineNumber,
        status: 'Completed',
        inputs,
        outputs: logged?.outputs ?? {},
        latencyMs: logged?.latencyMs ?? 0,
        usage: emptyUsage(),
      };
    },
    aggregate: async () => ({ metrics: {}, usage: emptyUsage() }),
    close: async () => {},
  };
}

export async function evaluateSample(o: {
  useCase: UseCase;
  requests: readonly RequestRecord[];
  llm: LlmService;
  concurrency?: number;
  python?: string;
}): Promise<SampleEvaluation> {
  const skipped: SampleEvaluation['skipped'] = [];
  const runnable: { evaluator: Evaluator; dataset: EvaluatorDataset }[] = [];
  for (const evaluator of o.useCase.evaluators) {
    const dataset = evaluator.datasets[0];
    const served = evaluator.builtin ? SERVED_FIGURES[evaluator.builtin] : undefined;
    if (served) {
      skipped.push({ figure: evaluator.name, reason: served });
      continue;
    }
    if (!dataset) {
      skipped.push({ figure: evaluator.name, reason: 'it has no dataset, so no mappings to read a request with' });
      continue;
    }
    const missing = missingColumns(dataset.mappings, o.requests);
    if (missing.length) {
      skipped.push({
        figure: evaluator.name,
        reason: `needs a reference: its mappings read ${missing.join(', ')}, which the served requests do not hold (they log the flow's inputs.* and outputs.*)`,
      });
      continue;
    }
    const target = Object.values(dataset.mappings).find((v) => typeof v === 'string' && /\$\{target\./.test(v));
    if (target) {
      skipped.push({
        figure: evaluator.name,
        reason: `its mappings read ${String(target).trim()}: it runs the flow itself instead of scoring the served answers`,
      });
      continue;
    }
    runnable.push({ evaluator, dataset });
  }
  if (runnable.length === 0 || o.requests.length < 2) {
    if (runnable.length && o.requests.length < 2)
      for (const r of runnable)
        skipped.push({ figure: r.evaluator.name, reason: 'fewer than 2 answered requests in the window' });
    return { evaluated: [], skipped };
  }

  const scratch = mkdtempSync(path.join(tmpdir(), 'llmops-monitor-'));
  try {
    const store = new RunStore(scratch);
    const data = path.join(scratch, 'requests.jsonl');
    writeFileSync(data, o.requests.map((r) => JSON.stringify(r.inputs ?? {})).join('\n') + '\n');
    const standardRunId = 'served';
    const concurrency = o.concurrency ?? 4;
    await runBatch({ executor: replayExecutor(o.requests), data, runId: standardRunId, storeRoot: scratch });
    const code = runnable.some((r) => r.evaluator.code)
      ? await checkCodeEvaluators(
          runnable.filter((r) => r.evaluator.code).map((r) => r.evaluator),
          o.useCase,
          { llm: o.llm, concurrency, python: o.python },
        )
      : undefined;
    const evaluated: EvaluatedSample[] = [];
    for (const { evaluator, dataset } of runnable) {
      const runId = `served-${evaluator.name}`;
      const common = { runId, storeRoot: scratch, concurrency, connections: o.useCase.connections, llm: o.llm };
      const local = { ...dataset, localPath: data };
      try {
        if (evaluator.flow)
          await runBatch({
            ...common,
            flow: evaluator.flow.model,
            data,
            columnMapping: dataset.mappings,
            referencedRun: standardRunId,
            init: evaluator.flow.init,
            python: o.python,
          });
        else if (evaluator.code)
          await code!.run(evaluator, { ...common, data, mappings: dataset.mappings, referencedRun: standardRunId });
        else await runBuiltinEvaluator({ ...common, evaluator, dataset: local, standardRunId });
      } catch (e) {
        skipped.push({
          figure: evaluator.name,
          reason: `it could not run on the served requests: ${(e as Error).message}`,
        });
        continue;
      }
      const columns = new Map<string, number[]>();
      let failed = 0;
      for await (const line of store.lines(runId)) {
        if (line.status !== 'Completed') {
          failed++;
          continue;
        }
        for (const [key, value] of Object.entries(line.outputs ?? {})) {
          const score = scoreValue(value);
          if (score === undefined) continue;
          const list = columns.get(key) ?? [];
          list.push(score);
          columns.set(key, list);
        }
      }
      if (columns.size === 0)
        skipped.push({
          figure: evaluator.name,
          reason: `no numeric or true/false score on any of ${o.requests.length} sampled request(s)${failed ? ` (${failed} failed)` : ''}`,
        });
      for (const [key, scores] of columns)
        evaluated.push({ evaluator: evaluator.name, scoreKey: `${evaluator.name}.${key}`, scores, failed });
    }
    return { evaluated, skipped };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
