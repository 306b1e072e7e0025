/**
 * A run store on disk with synthetic standard and evaluation runs, their records appended in a scrambled
 * (finishing) order, plus the runs and evaluations hand-off files — for report tests at many lines.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { RunStore, type LineRecord, type RunRecord } from '../../src/shared/runs/store.js';
import type { EvaluationsFile, RunsFile } from '../../src/shared/results/handoff.js';

export interface SyntheticRun {
  runId: string;
  variantId: string;
  dataset: string;
  lines: number;
}

export interface SyntheticOptions {
  runs: SyntheticRun[];
  /** Characters of filler text in each line's inputs (to make lines heavy). */
  textChars?: number;
  /** Every n-th line fails (0: none). */
  failEvery?: number;
  /** Evaluators scoring every run, each with its own evaluation run (default: one, "grader"). */
  evaluators?: string[];
}

/** Line `i` of a run: its evaluation grade and score, fixed by the line number and the run. */
const salt = (runId: string) => [...runId].reduce((n, c) => n + c.charCodeAt(0), 0);
export const gradeOf = (runId: string, i: number) => (i * 7 + salt(runId)) % 5 !== 0;
export const scoreOf = (runId: string, i: number) => ((i * 31 + salt(runId)) % 101) / 100;
export const failedLine = (i: number, every: number) => every > 0 && i % every === every - 1;

/**
 * A permutation of 0..n-1 as a run at concurrency 64 finishes its lines: out of order within a window of 64
 * lines, in order across windows.
 */
function scrambled(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let seed = 12345;
  for (let from = 0; from < n; from += 64) {
    const to = Math.min(n, from + 64);
    for (let i = to - 1; i > from; i--) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const j = from + (seed % (i - from + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  return order;
}

const lineError = {
  message: '',
  messageFormat: '',
  messageParameters: {},
  referenceCode: 'Test',
  code: 'UserError' as const,
  innerError: null,
};

function record(id: string, variant: string, total: number, failed: number): RunRecord {
  return {
    version: 1,
    id,
    status: 'Completed',
    flow: { path: 'flows/std', kind: 'dag', name: 'std' },
    variant: { id: variant, selection: {} },
    data: [],
    column_mapping: {},
    concurrency: 8,
    counts: { total, completed: total - failed, failed },
    timings: { created_at: '2026-01-01T00:00:00.000Z', duration_ms: 1000 },
    tokens: { prompt: total * 10, completion: total * 5, total: total * 15 },
    llm_calls: total,
  };
}

async function writeRun(store: string, rec: RunRecord, lineOf: (i: number) => LineRecord): Promise<void> {
  const writer = new RunStore(store).begin(rec);
  for (const i of scrambled(rec.counts.total)) if (!writer.append(lineOf(i))) await writer.drain();
  await writer.close();
}

/** Writes the runs and returns the hand-off files' paths (in `store`'s parent folder). */
export async function syntheticStore(
  store: string,
  o: SyntheticOptions,
): Promise<{ runsFile: string; evaluationsFile: string; runs: RunsFile; evaluations: EvaluationsFile }> {
  const filler = 'x'.repeat(o.textChars ?? 20);
  const every = o.failEvery ?? 0;
  const runs: RunsFile = { experiment: 'demo', createdAt: '2026-01-01T00:00:00.000Z', runs: [] };
  const evaluations: EvaluationsFile = { experiment: 'demo', createdAt: runs.createdAt, evaluations: [] };
  for (const run of o.runs) {
    const failed = Array.from({ length: run.lines }, (_, i) => failedLine(i, every)).filter(Boolean).length;
    await writeRun(store, record(run.runId, run.variantId, run.lines, failed), (i) => {
      const base = {
        line_number: i,
        inputs: { question: `question ${i}`, text: filler, line_number: i },
        latency_ms: (i % 50) + 1,
        tokens: { prompt: 10, completion: 5, total: 15 },
      };
      return failedLine(i, every)
        ? {
            ...base,
            status: 'Failed',
            error: { ...lineError, message: `line ${i} failed` },
          }
        : { ...base, status: 'Completed', outputs: { answer: `answer ${i}` } };
    });
    runs.runs.push({
      runId: run.runId,
      variantId: run.variantId,
      selection: {},
      isDefault: run.variantId === 'default',
      dataset: run.dataset,
      dataFile: '/dev/null',
      lines: run.lines,
      completed: run.lines - failed,
      failed,
      status: 'Completed',
    });
    for (const evaluator of o.evaluators ?? ['grader']) {
      const evalId = evaluator === 'grader' ? `eval-${run.runId}` : `eval-${evaluator}-${run.runId}`;
      // The evaluation scores the completed lines only, as an evaluation run over a standard run does.
      const scored = Array.from({ length: run.lines }, (_, i) => i).filter((i) => !failedLine(i, every));
      let correct = 0;
      for (const i of scored) if (gradeOf(run.runId, i)) correct += 1;
      await writeRun(store, record(evalId, run.variantId, run.lines, failed), (i) => ({
        line_number: i,
        inputs: {},
        latency_ms: 1,
        tokens: { prompt: 0, completion: 0, total: 0 },
        ...(failedLine(i, every)
          ? { status: 'Failed', error: { ...lineError, message: 'the line it scores failed' } }
          : {
              status: 'Completed',
              outputs: { grade: gradeOf(run.runId, i) ? 'Correct' : 'Incorrect', score: scoreOf(run.runId, i) },
            }),
      }));
      evaluations.evaluations.push({
        runId: evalId,
        evaluator,
        dataset: `${run.dataset}_eval`,
        standardRunId: run.runId,
        variantId: run.variantId,
        lines: run.lines,
        failed: 0,
        metrics: { accuracy: Math.round((correct / scored.length) * 100) / 100 },
      });
    }
  }
  const runsFile = path.join(path.dirname(store), 'runs.json');
  const evaluationsFile = path.join(path.dirname(store), 'evaluations.json');
  writeFileSync(runsFile, JSON.stringify(runs, null, 2));
  writeFileSync(evaluationsFile, JSON.stringify(evaluations, null, 2));
  return { runsFile, evaluationsFile, runs, evaluations };
}
