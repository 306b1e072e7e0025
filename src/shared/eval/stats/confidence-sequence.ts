/**
 * Anytime-valid confidence sequences for the mean of a bounded score: intervals C_1, C_2, ... such that, with
 * probability at least 1 − α, every one of them holds the true mean at once. A run may therefore look after
 * every line and stop the moment a gate's outcome is decided, without inflating its error rate (a fixed-n
 * interval checked after every line would be wrong far more often than α).
 *
 * Two constructions from Waudby-Smith & Ramdas (2023), "Estimating means of bounded random variables by
 * betting", JRSS-B 86(1):
 * - `betting` (default): the hedged capital process (their Theorem 3 with predictable plug-in bets), computed
 *   on a grid of candidate means; the tightest of their practical sequences;
 * - `empirical-bernstein`: the predictable plug-in empirical-Bernstein sequence (their Theorem 2), closed form,
 *   O(1) a line; looser but a useful second method.
 * Scores are rescaled from [low, high] to [0, 1]; the sequence reported is the running intersection.
 * @module
 */

export type SequenceMethod = 'betting' | 'empirical-bernstein';

export interface ConfidenceSequenceOptions {
  /** Error rate over the whole sequence; default 0.05. */
  alpha?: number;
  /** Smallest and largest possible score; default 0 and 1. */
  low?: number;
  high?: number;
  /** Default 'betting'. */
  method?: SequenceMethod;
  /** Candidate means on the betting grid; default 1,000 (resolution 0.001 of the range). */
  grid?: number;
}

/** The sequence after n observations: bounds in the score's own units. */
export interface SequenceState {
  n: number;
  mean: number;
  lower: number;
  upper: number;
}

// Bound once: inside a vm context (test runners, sandboxes) every lookup of the global `Math` in the per-line,
// per-grid-point loop goes through the context's interceptors and costs many times the arithmetic.
const { log1p, min } = Math;

/** Largest bet as a share of what the capital could lose: WSR's truncation c = 1/2. */
const BET_CAP = 0.5;

export class ConfidenceSequence {
  private readonly alpha: number;
  private readonly low: number;
  private readonly range: number;
  private readonly method: SequenceMethod;
  private n = 0;
  private sum = 0;
  /** Σ (x_i − μ̂_i)² for the plug-in variance, and the previous step's estimates. */
  private squares = 0;
  private lower01 = 0;
  private upper01 = 1;
  // empirical-Bernstein sums
  private sumLambda = 0;
  private sumLambdaX = 0;
  private sumPenalty = 0;
  // betting: log-capital of betting for (up) and against (down) each grid mean
  private readonly grid: Float64Array;
  private readonly logUp: Float64Array;
  private readonly logDown: Float64Array;
  private activeFrom = 0;
  private activeTo: number;

  constructor(options: ConfidenceSequenceOptions = {}) {
    this.alpha = options.alpha ?? 0.05;
    if (!(this.alpha > 0 && this.alpha < 1))
      throw new RangeError(`confidence sequence: alpha must be in (0, 1), got ${this.alpha}`);
    this.low = options.low ?? 0;
    const high = options.high ?? 1;
    if (!(high > this.low)) throw new RangeError(`confidence sequence: need low < high, got [${this.low}, ${high}]`);
    this.range = high - this.low;
    this.method = options.method ?? 'betting';
    const points = this.method === 'betting' ? (options.grid ?? 1000) : 0;
    // Interior points only: a mean of exactly 0 or 1 cannot be bet against in one direction.
    this.grid = Float64Array.from({ length: points }, (_, k) => (k + 0.5) / points);
    this.logUp = new Float64Array(points);
    this.logDown = new Float64Array(points);
    this.activeTo = points - 1;
  }

  /** Adds one observed score (within [low, high]). */
  push(value: number): void {
    if (!Number.isFinite(value)) throw new RangeError(`confidence sequence: score ${value} is not a finite number`);
    const x = (value - this.low) / this.range;
    if (x < -1e-12 || x > 1 + 1e-12)
      throw new RangeError(
        `confidence sequence: score ${value} is outside [${this.low}, ${this.low + this.range}] the metric was declared in`,
      );
    const clamped = Math.min(1, Math.max(0, x));
    const t = this.n + 1;
    // Plug-in estimates from the lines before this one (predictable: they do not look at x).
    const muPrev = (0.5 + this.sum) / t;
    const varPrev = (0.25 + this.squares) / t;
    const lambda = Math.sqrt((2 * Math.log(2 / this.alpha)) / (varPrev * t * Math.log(1 + t)));
    if (this.method === 'betting') this.bet(clamped, lambda);
    else this.bernstein(clamped, muPrev, Math.min(lambda, BET_CAP));
    this.n = t;
    this.sum += clamped;
    const muNow = (0.5 + this.sum) / (t + 1);
    this.squares += (clamped - muNow) ** 2;
  }

  private bet(x: number, lambda: number): void {
    const threshold = Math.log(2 / this.alpha);
    // Only the means still inside the running intersection need their capital: one rejected stays rejected.
    let first = -1;
    let last = -1;
    for (let k = this.activeFrom; k <= this.activeTo; k++) {
      const m = this.grid[k];
      this.logUp[k] += log1p(min(lambda, BET_CAP / m) * (x - m));
      this.logDown[k] += log1p(-min(lambda, BET_CAP / (1 - m)) * (x - m));
      // Hedged capital max(K⁺, K⁻)/2 stays below 1/α exactly when both stay below 2/α.
      if (this.logUp[k] < threshold && this.logDown[k] < threshold) {
        if (first < 0) first = k;
        last = k;
      }
    }
    const step = 1 / this.grid.length;
    if (first < 0) {
      // Every candidate rejected: only on a (rare, α-bounded) miss. Keep the last interval's midpoint.
      const mid = (this.lower01 + this.upper01) / 2;
      this.narrow(mid, mid);
      this.activeTo = this.activeFrom - 1;
      return;
    }
    this.activeFrom = first;
    this.activeTo = last;
    // Widen to the neighbouring rejected grid points so the grid never makes the sequence narrower than it is.
    this.narrow(this.grid[first] - step, this.grid[last] + step);
  }

  private bernstein(x: number, muPrev: number, lambda: number): void {
    this.sumLambda += lambda;
    this.sumLambdaX += lambda * x;
    this.sumPenalty += 4 * (x - muPrev) ** 2 * ((-Math.log1p(-lambda) - lambda) / 4);
    const centre = this.sumLambdaX / this.sumLambda;
    const half = (Math.log(2 / this.alpha) + this.sumPenalty) / this.sumLambda;
    this.narrow(centre - half, centre + half);
  }

  private narrow(l: number, u: number): void {
    this.lower01 = Math.max(this.lower01, l);
    this.upper01 = Math.min(this.upper01, u);
    // An empty intersection only happens on a (rare, α-bounded) miss; keep a point rather than an inverted pair.
    if (this.lower01 > this.upper01) this.lower01 = this.upper01 = (this.lower01 + this.upper01) / 2;
  }

  state(): SequenceState {
    return {
      n: this.n,
      mean: this.n ? this.low + (this.sum / this.n) * this.range : NaN,
      lower: this.low + Math.max(0, this.lower01) * this.range,
      upper: this.low + Math.min(1, this.upper01) * this.range,
    };
  }
}
