/**
 * The verdict of an `early_stop` gate from the run store: the gate's per-line scores of each early-stop run (its
 * evaluation run's records), fed to the anytime-valid confidence sequence in the run's seeded order — the same
 * sequence bulk-run stopped on. A run that stopped early is judged by that sequence only: a fixed-n interval
 * computed after a data-dependent stop does not hold its level.
 * @module
 */
import type { Gate } from '../config/types.js';
import type { StandardRun } from '../results/handoff.js';
import type { EvaluationResult, GateEarlyStop, GateResult } from '../results/model.js';
import type { LineRecord, RunRecord } from '../runs/store.js';
import { gateName, lineScoreOf, lineScorePath, sequentialVerdict } from './early-stop-run.js';

/** The early-stop runs of a gate (by index) and variant; undefined when it has none. */
export type SequentialVerdicts = (gateIndex: number, variantId: string) => GateEarlyStop[] | undefined;

/** Collects the scores of early_stop gates while the results read the evaluation runs. */
export class SequentialScores {
  private readonly runs = new Map<string, { variantId: string; seed: number; record: RunRecord }>();
  private readonly scores = new Map<string, Array<[number, number]>>();

  constructor(private readonly gates: Gate[]) {}

  addRun(run: StandardRun, record: RunRecord): void {
    if (record.order && record.early_stop && this.gates.some((g) => g.earlyStop))
      this.runs.set(run.runId, { variantId: run.variantId, seed: record.order.seed, record });
  }

  /** Takes an evaluation run's line outputs when an early_stop gate reads them; undefined when none does. */
  scoresOf(e: EvaluationResult): ((line: number, outputs: Record<string, unknown>) => void) | undefined {
    if (!this.runs.has(e.standardRunId)) return undefined;
    const wanted = this.gates.flatMap((g, i) => (g.earlyStop && g.evaluator === e.evaluator ? [i] : []));
    if (wanted.length === 0) return undefined;
    const lists = wanted.map((i) => {
      const key = `${i}\u0000${e.standardRunId}`;
      if (!this.scores.has(key)) this.scores.set(key, []);
      // The per-line output bulk-run stopped on: a built-in's score, or an evaluation flow's line_score output.
      return { path: lineScorePath(this.gates[i]), list: this.scores.get(key)! };
    });
    return (line, outputs) => {
      for (const { path, list } of lists) {
        const v = lineScoreOf(outputs, path).score;
        if (v !== undefined) list.push([line, v]);
      }
    };
  }

  /** The mean of a gate's scores over an evaluation run's lines (undefined: none scored). */
  meanOf(gateIndex: number, standardRunId: string): number | undefined {
    const scores = this.scores.get(`${gateIndex}\u0000${standardRunId}`);
    return scores?.length ? scores.reduce((sum, [, v]) => sum + v, 0) / scores.length : undefined;
  }

  verdicts(): SequentialVerdicts {
    return (gateIndex, variantId) => {
      const gate = this.gates[gateIndex];
      if (!gate?.earlyStop) return undefined;
      const out: GateEarlyStop[] = [];
      for (const [runId, run] of this.runs) {
        if (run.variantId !== variantId) continue;
        const scores = this.scores.get(`${gateIndex}\u0000${runId}`);
        if (!scores) continue;
        const s = sequentialVerdict(gate, scores, run.seed);
        const e = run.record.early_stop!;
        out.push({
          runId,
          stopped: e.stopped,
          lines: e.lines,
          total: e.total,
          alpha: e.alpha,
          decision: s.decision,
          n: s.n,
          lower: s.lower,
          upper: s.upper,
        });
      }
      return out.length ? out : undefined;
    };
  }
}

type GateBase = Pick<GateResult, 'name' | 'metric' | 'evaluator' | 'variantId' | 'threshold'>;

/**
 * The gate's result over its early-stop runs. A run that stopped early: the sequence's decision (pass, fail, or
 * failed as undecided should the recorded lines not decide it). Runs that all went to the end: the gate's own
 * check (`full`), with the note that the full run was needed.
 */
export function earlyStopGateResult(gate: Gate, base: GateBase, runs: GateEarlyStop[], full: GateResult): GateResult {
  const worst =
    runs.find((r) => r.stopped && r.decision === 'fail') ??
    runs.find((r) => r.stopped && r.decision === 'open') ??
    runs.find((r) => r.stopped) ??
    runs[0];
  if (!runs.some((r) => r.stopped))
    return {
      ...full,
      earlyStop: worst,
      message: `${full.message}; early stopping: the full run was needed (${worst.total} lines), ${sequenceText(gate, worst)}`,
    };
  // Several datasets of one variant, some run in full: a passing stopped run leaves the verdict to the gate's own
  // check over them all.
  const fullRuns = runs.filter((r) => !r.stopped).length;
  const status: GateResult['status'] =
    worst.decision !== 'pass' ? 'failed' : fullRuns > 0 && full.status !== 'passed' ? full.status : 'passed';
  const decided = earlyStopText(gate, worst);
  return {
    ...base,
    status,
    // The bound that decided it: the lower one passes a minimum, the upper one fails it (and the reverse for a maximum).
    observed: (gate.min !== undefined) === (worst.decision === 'pass') ? worst.lower : worst.upper,
    message: `${decided}; read from the confidence sequence over the ${worst.n} scored lines, not the fixed-n interval, which is not valid after stopping early${fullRuns > 0 && worst.decision === 'pass' ? `; ${fullRuns} other run(s) of this variant ran in full: ${full.message}` : ''}`,
    earlyStop: worst,
  };
}

/** How an early-stop run of the gate went, in words: decided after N of M lines and by which bound, or not. */
export function earlyStopText(gate: Gate, r: GateEarlyStop): string {
  const name = gateName(gate);
  if (!r.stopped) return `${name}: the full run was needed (${r.total} lines), ${sequenceText(gate, r)}`;
  if (r.decision === 'open')
    return `stopped after ${r.lines} of ${r.total} lines but the recorded lines leave ${name} undecided: ${sequenceText(gate, r)}; run again without early_stop`;
  // A gate on an evaluation flow says what each line was scored by.
  const perLine = gate.lineScore !== undefined ? `, each line scored by ${gate.lineScore}` : '';
  return `decided after ${r.lines} of ${r.total} lines: ${name} ${boundsText(gate, r)} (anytime-valid, α = ${r.alpha}${perLine})`;
}

/**
 * The evaluate step's word on each early-stop gate: its confidence sequence over the evaluation runs' scores,
 * the bound the verdict on a stopped run is read from.
 */
export async function earlyStopVerdicts(
  gates: Gate[],
  store: { record(runId: string): RunRecord; lines(runId: string): AsyncIterable<LineRecord> },
  runs: StandardRun[],
  evaluations: EvaluationResult[],
): Promise<string[]> {
  if (!gates.some((g) => g.earlyStop)) return [];
  const scores = new SequentialScores(gates);
  for (const run of runs) scores.addRun(run, store.record(run.runId));
  for (const e of evaluations) {
    const take = scores.scoresOf(e);
    if (!take) continue;
    for await (const rec of store.lines(e.runId))
      if (rec.status === 'Completed' && rec.outputs) take(rec.line_number, rec.outputs);
  }
  const verdicts = scores.verdicts();
  const variants = [...new Set(runs.map((r) => r.variantId))];
  return [
    ...gates.flatMap((gate, i) =>
      variants.flatMap((v) =>
        (verdicts(i, v) ?? []).map((r) => `gate ${gateName(gate)} [${v}]: ${earlyStopText(gate, r)}`),
      ),
    ),
    ...evaluations.flatMap((e) =>
      gates.flatMap((gate, i) => metricMismatch(gate, e, scores.meanOf(i, e.standardRunId))),
    ),
  ];
}

/**
 * An early-stop gate on an evaluation flow decides the mean of its per-line output; when the metric the flow
 * logged is not that mean (to the 2 decimals flows round to), the verdict is on another number than the gate
 * names: said as a warning.
 */
function metricMismatch(gate: Gate, e: EvaluationResult, mean: number | undefined): string[] {
  const logged = e.metrics[gate.metric];
  if (!gate.earlyStop || gate.evaluator !== e.evaluator || mean === undefined || typeof logged !== 'number') return [];
  if (Math.abs(mean - logged) <= 0.005 + 1e-9) return [];
  return [
    `warning: gate ${gateName(gate)} [${e.variantId}]: its early stop is decided on the mean of ${lineScorePath(gate)} over the lines (${f2(mean)}), but evaluator ${e.evaluator} logged ${gate.metric} = ${logged}; set line_score to the per-line output whose mean is ${gate.metric}`,
  ];
}

/** "lower bound 0.87 ≥ 0.8", "upper bound 0.62 < 0.8", ... for the bounds that decided the gate. */
function boundsText(gate: Gate, r: GateEarlyStop): string {
  const parts: string[] = [];
  if (gate.min !== undefined)
    parts.push(
      r.decision === 'fail' && r.upper < gate.min
        ? `upper bound ${f2(r.upper)} < ${gate.min}`
        : `lower bound ${f2(r.lower)} ≥ ${gate.min}`,
    );
  if (gate.max !== undefined && !(r.decision === 'fail' && gate.min !== undefined && r.upper < gate.min))
    parts.push(
      r.decision === 'fail' && r.lower > gate.max
        ? `lower bound ${f2(r.lower)} > ${gate.max}`
        : `upper bound ${f2(r.upper)} ≤ ${gate.max}`,
    );
  return parts.join(' and ');
}

function sequenceText(gate: Gate, r: GateEarlyStop): string {
  return `${Math.round((1 - r.alpha) * 100)}% confidence sequence [${f2(r.lower)}, ${f2(r.upper)}] over ${r.n} scored lines`;
}

function f2(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : String(x);
}
