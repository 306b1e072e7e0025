/**
 * Bounds on one render: a step budget, an output budget and a time limit, so that no template — however
 * hostile its loops or arithmetic — can hold the process. A render is synchronous JavaScript: no timer can
 * interrupt it, so the evaluator itself counts its work (loop iterations and items handled) and stops.
 *
 * Cost: one increment and one comparison per loop iteration; the clock is read only every `CHECK_EVERY` steps.
 * @module
 */
import { ConfigError } from '../../errors.js';
import { TemplateEvalError } from './errors.js';

export interface RenderLimits {
  /** Loop iterations and items handled (list copies, `in`, `join`…) per render. */
  maxSteps: number;
  /** Characters of the rendered text, and of any string a render builds. */
  maxOutputChars: number;
  /** Wall-clock time of one render (the engine sets it to the line timeout). */
  maxMs: number;
}

/** Generous: a real prompt template takes a few thousand steps and a few hundred KB. */
export const DEFAULT_RENDER_LIMITS: Readonly<RenderLimits> = {
  maxSteps: 5_000_000,
  maxOutputChars: 16 * 1024 * 1024,
  maxMs: 600_000,
};

/** Environment variables that override the step and output budgets. */
export const STEPS_ENV = 'LLMOPS_TEMPLATE_MAX_STEPS';
export const OUTPUT_ENV = 'LLMOPS_TEMPLATE_MAX_OUTPUT_CHARS';

let limits: RenderLimits = { ...DEFAULT_RENDER_LIMITS };

/** The limits every render uses from now on (process-wide: the engine sets them when it prepares a flow). */
export function setRenderLimits(partial: Partial<RenderLimits>): void {
  for (const [key, value] of Object.entries(partial) as Array<[keyof RenderLimits, number | undefined]>) {
    if (value === undefined) continue;
    if (!(Number.isFinite(value) && value > 0))
      throw new RangeError(`render limit ${key} must be a positive number, found ${value}`);
    limits[key] = value;
  }
}

export function renderLimits(): Readonly<RenderLimits> {
  return limits;
}

/** Reads `LLMOPS_TEMPLATE_MAX_STEPS` / `LLMOPS_TEMPLATE_MAX_OUTPUT_CHARS`; a value that is not a positive integer is a ConfigError. */
export function renderLimitsFromEnv(env: Record<string, string | undefined>): Partial<RenderLimits> {
  const out: Partial<RenderLimits> = {};
  const read = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text.trim() === '') return undefined;
    if (!/^\d+$/.test(text.trim()) || Number(text) <= 0)
      throw ConfigError.at({ file: name }, `found ${JSON.stringify(text)}, expected a positive whole number`);
    return Number(text);
  };
  out.maxSteps = read(STEPS_ENV);
  out.maxOutputChars = read(OUTPUT_ENV);
  return out;
}

/** Reset to the defaults (tests). */
export function resetRenderLimits(): void {
  limits = { ...DEFAULT_RENDER_LIMITS };
}

const CHECK_EVERY = 1024;

/** The budget of one render in progress. */
export class RenderBudget {
  steps = 0;
  checkAt = CHECK_EVERY;
  /** Set at the first check: most renders never reach one, and never read the clock. */
  private deadline = 0;
  readonly maxSteps: number;
  readonly maxOutputChars: number;
  readonly maxMs: number;
  constructor(
    l: Readonly<RenderLimits>,
    readonly out: { text: string },
  ) {
    this.maxSteps = l.maxSteps;
    this.maxOutputChars = l.maxOutputChars;
    this.maxMs = l.maxMs;
    this.checkAt = Math.min(CHECK_EVERY, l.maxSteps + 1);
  }

  /** Called every CHECK_EVERY steps (and when a charge is large): steps, output size, clock. */
  check(): void {
    if (this.steps > this.maxSteps) {
      throw new TemplateEvalError(
        'TemplateBudgetError',
        `the render took more than ${this.maxSteps} steps (loop iterations and items handled) and was stopped; raise ${STEPS_ENV} if the template really needs more`,
      );
    }
    this.checkOutput(this.out.text.length);
    const now = performance.now();
    // The first CHECK_EVERY steps are cheap (each is bounded by the budgets), so timing starts here.
    if (this.deadline === 0) this.deadline = now + this.maxMs;
    else if (now > this.deadline) {
      throw new TemplateEvalError(
        'TimeoutError',
        `the render ran longer than ${formatMs(this.maxMs)} (the line timeout) and was stopped`,
      );
    }
    this.checkAt = Math.min(this.steps + CHECK_EVERY, this.maxSteps + 1);
  }

  checkOutput(length: number): void {
    if (length > this.maxOutputChars) {
      throw new TemplateEvalError(
        'TemplateBudgetError',
        `the render built text longer than ${this.maxOutputChars} characters and was stopped; raise ${OUTPUT_ENV} if the template really needs more`,
      );
    }
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} seconds` : `${ms} ms`;
}

/** The render in progress (renders are synchronous; a nested render saves and restores it). */
// Outside any render (helpers used at load time) nothing is limited.
let active: RenderBudget = new RenderBudget(
  { maxSteps: Infinity, maxOutputChars: Infinity, maxMs: Infinity },
  { text: '' },
);

/** Starts a budget for a render writing into `out`; returns the one to restore afterwards. */
export function beginRender(out: { text: string }): RenderBudget {
  const previous = active;
  active = new RenderBudget(limits, out);
  return previous;
}

export function endRender(previous: RenderBudget): void {
  active = previous;
}

/** Counts one step (a loop iteration). */
export function step(): void {
  const b = active;
  if (++b.steps >= b.checkAt) b.check();
}

/** Counts `n` steps of work about to be done (items copied, compared or joined). */
export function charge(n: number): void {
  const b = active;
  b.steps += n;
  if (b.steps >= b.checkAt) b.check();
}

/** Refuses a string longer than the output budget before it is built. */
export function checkLength(length: number): void {
  if (length > active.maxOutputChars) active.checkOutput(length);
}
