/**
 * `gates[].early_stop: true` in a run. bulk-run scores each finished line with the gate's built-in scorer (the
 * same function, mapping and data the evaluate step uses later, so the scores are the same), feeds the scores to
 * one anytime-valid confidence sequence per gate in the seed's line order, and stops starting lines once every
 * gate is decided (`EarlyStop`). The report recomputes the same sequence from the evaluation run's scores
 * (`sequentialVerdict`), so its verdict on a stopped run uses that bound, never the fixed-n interval, which is not
 * valid after optional stopping.
 * @module
 */
import { dirname, resolve } from 'node:path';
import type { Evaluator, Gate, UseCase } from '../config/types.js';
import { createExecutor, type ExecutorOptions, type FlowExecutor } from '../engine/index.js';
import { ConfigError, type SourceLocation } from '../errors.js';
import {
  bySeededOrder,
  CompiledMapping,
  effectiveMapping,
  inSeededOrder,
  pythonForRequirements,
  readDataBatches,
  RunStore,
  type DataRow,
  type EarlyStopRecord,
  type LineRecord,
  type LineStopper,
  type PendingLine,
} from '../runs/index.js';
import type { ExperimentPlan } from '../runs/plan.js';
import { EARLY_STOP_SCORERS } from './builtin/bounded.js';
import { thresholdText } from './gates.js';
import { scorers, type ScoredLine } from './builtin/scorers.js';
import { DEFAULT_SEED } from './stats/random.js';
import { lineScoreOf, lineScorePath, parseLineScore } from './early-stop-score.js';
import { EarlyStop, type RuleStatus, type StopRule } from './stats/early-stop.js';

/** The error rate of every early-stop confidence sequence: the 95% level of the report's other intervals. */
export const EARLY_STOP_ALPHA = 0.05;
const METHOD = 'betting' as const;
/** EarlyStop's guard against a lucky first few lines. */
const EARLY_STOP_MIN_LINES = 20;

/** An early-stop gate as it applies to one run: the gate and the evaluator that scores the run's lines. */
export interface EarlyStopGate {
  gate: Gate;
  name: string;
  evaluator: Evaluator;
  mapping: CompiledMapping;
  /** The evaluator dataset's file, when it is not the run's own (an evaluation flow's `${data.*}` by line number). */
  dataFile?: string;
  /** Where the gate says what scores a line (line_score, else early_stop): a bad per-line value is reported there. */
  where?: SourceLocation;
}

/** What an evaluation flow's executor gets when its per-line part scores the lines of an early-stop run. */
export type EvaluationFlowOptions = Omit<ExecutorOptions, 'init' | 'runId' | 'telemetry' | 'images'> & {
  /** `install`: the flow's Python runs in the virtual environment of its requirements.txt, as in evaluate. */
  pythonRequirements?: 'check' | 'install' | 'off';
  storeRoot?: string;
  log?: (message: string) => void;
};

/** The early-stop gates that judge a run of this dataset and variant (none: the run is an ordinary one). */
export function earlyStopGates(useCase: UseCase, run: { dataset: string; isDefault: boolean }): EarlyStopGate[] {
  const out: EarlyStopGate[] = [];
  for (const gate of useCase.gates) {
    if (!gate.earlyStop || (gate.variants === 'default' && !run.isDefault)) continue;
    const evaluator = useCase.evaluators.find((e) => e.name === gate.evaluator);
    const dataset = evaluator?.datasets.find((d) => d.reference === run.dataset);
    if (!evaluator || !dataset) continue;
    const index = useCase.gates.indexOf(gate);
    out.push({
      gate,
      name: gateName(gate),
      evaluator,
      mapping: new CompiledMapping(dataset.mappings),
      ...(evaluator.flow && dataset.name !== dataset.reference && dataset.localPath
        ? { dataFile: dataset.localPath }
        : {}),
      where: useCase.locationOf(['gates', index, gate.lineScore !== undefined ? 'line_score' : 'early_stop']),
    });
  }
  return out;
}

/** The seed of a run's line order: the one it was started with (resume), else the configured one. */
export function earlyStopSeed(useCase: UseCase, recorded?: { seed: number }): number {
  return recorded?.seed ?? useCase.execution.earlyStopSeed ?? DEFAULT_SEED;
}

/** What the plan (and `--dry-run`) says of early stopping. */
export function earlyStopPlan(useCase: UseCase): NonNullable<ExperimentPlan['earlyStop']> {
  return {
    seed: earlyStopSeed(useCase),
    alpha: EARLY_STOP_ALPHA,
    minLines: EARLY_STOP_MIN_LINES,
    gates: useCase.gates.filter((g) => g.earlyStop).map(gateName),
  };
}

/**
 * The stopper bulk-run hands the batch runner for one run. It holds no data: the runner hands it each line with
 * its data row, and a gate whose evaluation flow has its own data file gets that file's row of each line as the
 * lines are handed out (the file read in the same seeded order, a window at a time). A gate on an evaluation flow
 * gets the flow's executor (made with `flows`), whose per-line part scores each finished line the way the
 * evaluate step's run of the flow will: same mapping, same data. Close it when the run ends.
 */
export async function createRunStopper(
  gates: EarlyStopGate[],
  dataFile: string,
  seed: number,
  flows: EvaluationFlowOptions = {},
): Promise<LineStopper & { close(): Promise<void> }> {
  const scorers: LineScorer[] = [];
  const executors: FlowExecutor[] = [];
  try {
    for (const g of gates) {
      if (!g.evaluator.flow) {
        scorers.push((runRow, record) => scoreLine(g, runRow, record));
        continue;
      }
      const { pythonRequirements, storeRoot, log, ...options } = flows;
      const model = g.evaluator.flow.model;
      const python =
        pythonRequirements === 'install'
          ? await pythonForRequirements(model, new RunStore(storeRoot ?? '.llmops'), options.python, log)
          : options.python;
      const executor = await createExecutor(model, {
        ...options,
        python,
        pythonCheck: pythonRequirements === 'off' ? 'syntax' : 'check',
        init: g.evaluator.flow.init,
        // Relative paths in the evaluation data (images) resolve from its folder, as in the evaluate step's run.
        dataDir: dirname(resolve(g.dataFile ?? dataFile)),
      });
      executors.push(executor);
      scorers.push(flowLineScorer(g, executor, log));
    }
  } catch (e) {
    await Promise.all(executors.map((x) => x.close()));
    throw e;
  }
  const stopper = new RunStopper(gates, scorers, seed);
  return Object.assign(stopper, { close: async () => void (await Promise.all(executors.map((x) => x.close()))) });
}

/** A data file's rows by line number (its line_number column, else its position), in the seed's order. */
class SeededRows {
  private readonly order: (a: number, b: number) => number;
  private readonly source: AsyncIterator<Array<{ lineNumber: number; row: DataRow }>>;
  private batch: Array<{ lineNumber: number; row: DataRow }> = [];
  private next = 0;
  private ended = false;

  constructor(file: string, seed: number) {
    this.order = bySeededOrder(seed);
    this.source = inSeededOrder(async function* (wanted) {
      let position = 0;
      for await (const rows of readDataBatches(file)) {
        const out: Array<{ lineNumber: number; row: DataRow }> = [];
        for (const row of rows) {
          const lineNumber = typeof row.line_number === 'number' ? row.line_number : position;
          position++;
          if (wanted(lineNumber)) out.push({ lineNumber, row });
        }
        yield out;
      }
    }, seed)[Symbol.asyncIterator]();
  }

  /** The row of a line; asked in the seed's order (rows of lines passed over are dropped). */
  async rowOf(lineNumber: number): Promise<DataRow | undefined> {
    for (;;) {
      while (this.next < this.batch.length) {
        const head = this.batch[this.next];
        const c = this.order(head.lineNumber, lineNumber);
        if (c > 0) return undefined;
        this.next++;
        if (c === 0) return head.row;
      }
      if (this.ended) return undefined;
      const r = await this.source.next();
      if (r.done) this.ended = true;
      else {
        this.batch = r.value;
        this.next = 0;
      }
    }
  }
}

/** A finished line's score for one gate (undefined: none, as for a failed line). */
type LineScorer = (
  runRow: Record<string, unknown>,
  record: LineRecord,
  ownRow: DataRow | undefined,
) => number | undefined | Promise<number | undefined>;

/**
 * Runs the evaluation flow's per-line part on a finished line and reads the gate's per-line output. A line the
 * evaluation flow fails on has no score (the evaluate step records its error); a value that is not a score in
 * [0, 1] stops the run: the gate's mean would not be the metric's.
 */
function flowLineScorer(g: EarlyStopGate, executor: FlowExecutor, log?: (message: string) => void): LineScorer {
  let failureSaid = false;
  const mapping = new CompiledMapping(effectiveMapping(executor.inputs, g.mapping.mapping));
  const path = lineScorePath(g.gate);
  return async (runRow, record, ownRow) => {
    const data = g.dataFile ? ownRow : runRow;
    // As in the evaluate step: a line of the run without its evaluation row is not scored.
    if (!data) return undefined;
    let inputs: Record<string, unknown>;
    try {
      inputs = mapping.apply({ data, 'run.outputs': record.outputs, 'run.inputs': runRow });
    } catch {
      return undefined;
    }
    const r = await executor.runLine(inputs, { lineNumber: record.line_number });
    if (r.status !== 'Completed' || !r.outputs) {
      // Said once: an evaluation flow failing on every line would otherwise run the whole data without a word.
      if (!failureSaid && r.status === 'Failed')
        log?.(
          `early stop: evaluation flow "${g.evaluator.name}" failed on line ${record.line_number} (${r.error?.message ?? 'no outputs'}); lines it fails on are not scored (evaluate records their errors)`,
        );
      failureSaid ||= r.status === 'Failed';
      return undefined;
    }
    const v = lineScoreOf(r.outputs, path);
    if (v.bad)
      throw ConfigError.at(
        g.where ?? { file: 'experiment.yaml' },
        `gate ${g.name}: evaluation flow "${g.evaluator.name}" gave line ${record.line_number} the ${path} ${JSON.stringify(v.found)}, expected a number in [0, 1] or a boolean per line to stop early on (its mean is the metric): name the value a correct line has with line_score: ${parseLineScore(path).path} == <value>, or have the per-line node return 1/0 or True/False`,
      );
    return v.score;
  };
}

class RunStopper implements LineStopper {
  private readonly early: EarlyStop;
  /** Scores of lines that finished ahead of an earlier line of the order, by place (null: a failed line). */
  private readonly arrived = new Map<number, (number | undefined)[] | null>();
  private next = 0;

  constructor(
    private readonly gates: EarlyStopGate[],
    private readonly scorers: LineScorer[],
    readonly seed: number,
  ) {
    this.early = new EarlyStop(gates.map(stopRule), {
      alpha: EARLY_STOP_ALPHA,
      method: METHOD,
      minLines: EARLY_STOP_MIN_LINES,
    });
  }

  async *prepare(
    lines: AsyncIterable<PendingLine[]>,
    recorded?: (lineNumber: number) => LineRecord | undefined,
  ): AsyncGenerator<PendingLine[]> {
    const own = this.gates.map((g) => (g.dataFile ? new SeededRows(g.dataFile, this.seed) : undefined));
    const joined = own.some((o) => o !== undefined);
    let place = 0;
    for await (const batch of lines) {
      const toRun: PendingLine[] = [];
      for (const line of batch) {
        line.place = place++;
        // Lines come in the seed's order, so each evaluation file is read alongside them, never held whole.
        if (joined) line.scoring = await Promise.all(own.map((o) => o?.rowOf(line.lineNumber)));
        if (!line.recorded) {
          toRun.push(line);
          continue;
        }
        // Taken in here, before the workers start lines: a resumed run whose recorded lines decide its gates
        // starts none.
        const record = recorded?.(line.lineNumber);
        const seen = record ? this.observe(record, line) : this.take(line.place, null);
        if (seen) await seen;
      }
      if (toRun.length > 0) yield toRun;
    }
  }

  observe(record: LineRecord, line: PendingLine): void | Promise<void> {
    const row = line.row;
    const place = line.place!;
    if (record.status !== 'Completed' || !record.outputs || !row) return this.take(place, null);
    const own = line.scoring as (DataRow | undefined)[] | undefined;
    const scores = this.scorers.map((score, i) => score(row, record, own?.[i]));
    // Built-in scorers answer at once; an evaluation flow's line is awaited by the worker that ran the line.
    if (!scores.some((s) => s instanceof Promise)) return this.take(place, scores as (number | undefined)[]);
    return Promise.all(scores).then((s) => this.take(place, s));
  }

  private take(place: number, scores: (number | undefined)[] | null): void {
    this.arrived.set(place, scores);
    // Lines start in the seed's order but finish in any: the sequence takes them in the seed's order, so the
    // report, reading the recorded lines in that order, gets the same bounds.
    while (this.arrived.has(this.next)) {
      const s = this.arrived.get(this.next);
      this.arrived.delete(this.next++);
      s?.forEach((v, i) => {
        if (v !== undefined) this.early.observe(i, v);
      });
    }
  }

  decided(): boolean {
    return this.early.decided();
  }

  summary(stopped: boolean, lines: number, total: number): EarlyStopRecord {
    return {
      stopped,
      lines,
      total,
      alpha: EARLY_STOP_ALPHA,
      method: METHOD,
      gates: this.early.status().map((s, i) => gateState(this.gates[i], s)),
    };
  }
}

/** A line's score by the gate's scorer, as the evaluate step would record it; undefined when it has none. */
function scoreLine(g: EarlyStopGate, row: Record<string, unknown>, record: LineRecord): number | undefined {
  const scorer = scorers[g.evaluator.builtin!];
  try {
    const inputs = g.mapping.apply({ data: row, 'run.outputs': record.outputs, 'run.inputs': row });
    const value = scorer.score({ inputs, record, options: g.evaluator.options }) as number | undefined | ScoredLine;
    const score = typeof value === 'object' && value !== null ? value.score : value;
    return typeof score === 'number' && score >= 0 && score <= 1 ? score : undefined;
  } catch {
    // The evaluate step records the line's scorer error; it has no score here either.
    return undefined;
  }
}

function stopRule(g: EarlyStopGate): StopRule {
  return { name: g.name, min: g.gate.min, max: g.gate.max, low: 0, high: 1 };
}

function gateState(g: EarlyStopGate, s: RuleStatus): EarlyStopRecord['gates'][number] {
  return {
    name: g.name,
    metric: g.gate.metric,
    evaluator: g.evaluator.name,
    decision: s.decision,
    n: s.n,
    mean: s.mean,
    lower: s.lower,
    upper: s.upper,
    ...(g.gate.min !== undefined ? { min: g.gate.min } : {}),
    ...(g.gate.max !== undefined ? { max: g.gate.max } : {}),
    reason: s.reason,
  };
}

/** A gate's name as the report shows it (gates.ts names gates the same way). */
export function gateName(gate: Gate): string {
  return gate.name ?? `${gate.evaluator ? `${gate.evaluator}.` : ''}${gate.metric} ${thresholdText(gate)}`;
}

/**
 * The confidence sequence of a gate over a run's recorded scores, fed in the seed's order: what the gate's
 * verdict on an early-stopped run is read from.
 */
export function sequentialVerdict(gate: Gate, scores: Array<[line: number, score: number]>, seed: number): RuleStatus {
  const order = bySeededOrder(seed);
  const sorted = [...scores].sort((a, b) => order(a[0], b[0]));
  const early = new EarlyStop([{ name: gateName(gate), min: gate.min, max: gate.max, low: 0, high: 1 }], {
    alpha: EARLY_STOP_ALPHA,
    method: METHOD,
    minLines: EARLY_STOP_MIN_LINES,
  });
  for (const [, v] of sorted) if (v >= 0 && v <= 1) early.observe(0, v);
  return early.status()[0];
}

export { EARLY_STOP_SCORERS, lineScoreOf, lineScorePath };
