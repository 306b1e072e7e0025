/**
 * Early stopping of a run: lines run in a seeded random order, and after each line every gate's anytime-valid
 * confidence sequence says whether its outcome is already known. When every gate is decided the run stops. The
 * chance that a decided gate has the wrong outcome (about the true mean the full dataset estimates) is at most
 * the gate's α, however often it is checked.
 * @module
 */
import { ConfidenceSequence, type SequenceMethod, type SequenceState } from './confidence-sequence.js';
import { createRandom } from './random.js';

/** A gate as early stopping sees it: a bound on the mean of a score that lies in [low, high]. */
export interface StopRule {
  name: string;
  /** The mean must be at least this (pass) ... */
  min?: number;
  /** ... and/or at most this. */
  max?: number;
  low: number;
  high: number;
}

export type StopDecision = 'pass' | 'fail' | 'open';

export interface RuleStatus {
  name: string;
  decision: StopDecision;
  n: number;
  mean: number;
  lower: number;
  upper: number;
  /** Why it is decided, or what keeps it open, for the report. */
  reason: string;
}

export interface EarlyStopOptions {
  alpha?: number;
  method?: SequenceMethod;
  /** Never stop before this many lines (a guard against a lucky first few); default 20. */
  minLines?: number;
}

export class EarlyStop {
  private readonly sequences: ConfidenceSequence[];
  private readonly minLines: number;
  private readonly level: number;

  constructor(
    private readonly rules: StopRule[],
    options: EarlyStopOptions = {},
  ) {
    const alpha = options.alpha ?? 0.05;
    this.level = 1 - alpha;
    this.minLines = options.minLines ?? 20;
    this.sequences = rules.map((r) => {
      if (r.min === undefined && r.max === undefined)
        throw new RangeError(`early stop: gate "${r.name}" has no min or max to decide`);
      return new ConfidenceSequence({ alpha, low: r.low, high: r.high, method: options.method });
    });
  }

  /** Records the score line by line for rule `index`. */
  observe(index: number, value: number): void {
    this.sequences[index].push(value);
  }

  status(): RuleStatus[] {
    return this.rules.map((r, i) => describe(r, this.sequences[i], this.level, this.minLines));
  }

  /** True when every gate's outcome is known (checked after every line: no text built here). */
  decided(): boolean {
    return this.rules.every((r, i) => decide(r, this.sequences[i].state(), this.minLines) !== 'open');
  }
}

function decide(r: StopRule, s: SequenceState, minLines: number): StopDecision {
  if (s.n < minLines) return 'open';
  if ((r.min !== undefined && s.upper < r.min) || (r.max !== undefined && s.lower > r.max)) return 'fail';
  if ((r.min === undefined || s.lower >= r.min) && (r.max === undefined || s.upper <= r.max)) return 'pass';
  return 'open';
}

function describe(r: StopRule, cs: ConfidenceSequence, level: number, minLines: number): RuleStatus {
  const s = cs.state();
  const seq = `${Math.round(level * 100)}% confidence sequence [${fmt(s.lower)}, ${fmt(s.upper)}] after ${s.n} lines`;
  const base = { name: r.name, n: s.n, mean: s.mean, lower: s.lower, upper: s.upper };
  const decision = decide(r, s, minLines);
  if (decision === 'fail')
    return {
      ...base,
      decision,
      reason:
        r.min !== undefined && s.upper < r.min
          ? `${seq} lies below the minimum ${r.min}`
          : `${seq} lies above the maximum ${r.max}`,
    };
  if (decision === 'pass') return { ...base, decision, reason: `${seq} lies within ${bounds(r)}` };
  if (s.n < minLines) return { ...base, decision, reason: `${seq}: fewer than ${minLines} lines` };
  return { ...base, decision, reason: `${seq} still straddles ${bounds(r)}` };
}

function bounds(r: StopRule): string {
  return [r.min !== undefined ? `≥ ${r.min}` : '', r.max !== undefined ? `≤ ${r.max}` : ''].filter(Boolean).join(', ');
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(3) : String(x);
}

/** Line numbers 0..n−1 in a random order fixed by the seed (Fisher–Yates), so a resumed run replays it. */
export function seededOrder(n: number, seed: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const random = createRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
