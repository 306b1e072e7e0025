/**
 * Render-time variable lookup: loop/set frames over the render's inputs over Jinja's globals (`range`, `dict`).
 * @module
 */
import type { PyCallable } from './methods.js';
import { toNumber, Undefined } from './py-value.js';
import { charge } from './budget.js';
import { defined, raise } from './runtime.js';

/** Variables visible while rendering: loop/set frames over the render's inputs over the globals. */
export class RenderContext {
  readonly frames: Array<Map<string, unknown>> = [new Map()];
  constructor(readonly vars: Record<string, unknown>) {}

  lookup(name: string): unknown {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const frame = this.frames[i]!;
      if (frame.has(name)) return frame.get(name);
    }
    if (Object.hasOwn(this.vars, name)) {
      const v = this.vars[name];
      if (v !== undefined) return v;
    }
    if (Object.hasOwn(GLOBALS, name)) return GLOBALS[name];
    return new Undefined(`'${name}' is undefined`);
  }
}

/** Output buffer (string concatenation is what V8 does fastest for many small pieces). */
export interface Output {
  text: string;
}

const MAX_RANGE = 100000;

const GLOBALS: Record<string, PyCallable> = {
  range: (args) => {
    const [a, b, c] = args.map((x) => toNumber(defined(x)));
    const [start, stop, step] = args.length === 1 ? [0, a!, 1] : [a!, b!, c ?? 1];
    if (step === 0) raise('ValueError', 'range() arg 3 must not be zero');
    const out: number[] = [];
    const size = Math.ceil((stop - start) / step);
    if (size > 0) charge(Math.min(size, MAX_RANGE + 1));
    for (let i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.length >= MAX_RANGE)
        raise('OverflowError', `Range too big. The sandbox blocks ranges larger than MAX_RANGE (${MAX_RANGE}).`);
      out.push(i);
    }
    return out;
  },
  dict: (_args, kwargs) => ({ ...kwargs }),
};
