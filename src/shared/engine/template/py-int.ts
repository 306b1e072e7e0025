/**
 * Python's unbounded integers for template arithmetic. Integers stay JavaScript numbers while they are safe
 * integers (the common case, no cost); a result beyond 2^53 becomes a `bigint`, so `{{ 2**100 }}` prints the
 * exact digits Python prints. Printing more than 4300 digits fails as CPython does (`sys.int_info`'s default
 * string-conversion limit), and a result over `MAX_INT_BITS` stops the render instead of exhausting memory.
 * @module
 */
import { charge } from './budget.js';
import { TemplateEvalError } from './errors.js';

/** Largest integer a render may build (about 315,000 decimal digits): CPython would compute on for minutes. */
export const MAX_INT_BITS = 1 << 20;
/** CPython's default `sys.get_int_max_str_digits()`. */
export const INT_MAX_STR_DIGITS = 4300;

/** A Python int (bool included) as a bigint. */
export function toBig(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return BigInt(v as number);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A bigint result as the value templates hold: a number when it is a safe integer. */
export function normalizeInt(b: bigint): number | bigint {
  return b <= MAX_SAFE && b >= -MAX_SAFE ? Number(b) : b;
}

function bitLength(b: bigint): number {
  const abs = b < 0n ? -b : b;
  return abs === 0n ? 0 : abs.toString(16).length * 4;
}

function exactBits(b: bigint): number {
  const abs = b < 0n ? -b : b;
  return abs < 1n << 64n ? abs.toString(2).length : bitLength(abs) - 3;
}

function tooLarge(): never {
  throw new TemplateEvalError(
    'OverflowError',
    `integer result too large (more than ${MAX_INT_BITS} bits); the template sandbox stops here`,
  );
}

/** An int operator (`+ - * // % **`) on two Python ints, exact. `**` with a negative exponent gives a float number. */
export function bigIntOp(op: string, x: bigint, y: bigint): unknown {
  switch (op) {
    case '+':
      return normalizeInt(x + y);
    case '-':
      return normalizeInt(x - y);
    case '*':
      if (bitLength(x) + bitLength(y) > MAX_INT_BITS) tooLarge();
      return normalizeInt(x * y);
    case '//': {
      if (y === 0n) throw new TemplateEvalError('ZeroDivisionError', 'integer division or modulo by zero');
      let q = x / y;
      if (x % y !== 0n && x < 0n !== y < 0n) q -= 1n;
      return normalizeInt(q);
    }
    case '%': {
      if (y === 0n) throw new TemplateEvalError('ZeroDivisionError', 'integer modulo by zero');
      let r = x % y;
      if (r !== 0n && r < 0n !== y < 0n) r += y;
      return normalizeInt(r);
    }
    case '**': {
      if (x === 0n || x === 1n || y === 0n) return normalizeInt(y === 0n ? 1n : x);
      if (x === -1n) return y % 2n === 0n ? 1 : -1;
      // Refuse only what certainly exceeds the cap: |x| >= 2^(exactBits - 1).
      const bits = BigInt(exactBits(x) - 1) * y;
      if (bits > BigInt(MAX_INT_BITS)) tooLarge();
      // A power of a few hundred thousand bits takes milliseconds: counted as work (a step per 1,024 bits of the
      // result), so a loop of them meets the step budget and the clock check instead of running 1,024 of them first.
      charge(Number(bits >> 10n));
      return normalizeInt(x ** y);
    }
  }
  throw new TemplateEvalError('TypeError', `unsupported operand for int: ${op}`);
}

/** Python `repr(int)` for a bigint: its digits, or CPython's ValueError beyond 4300 digits. */
export function bigIntRepr(b: bigint): string {
  const text = b.toString();
  if (text.length - (b < 0n ? 1 : 0) > INT_MAX_STR_DIGITS) {
    throw new TemplateEvalError(
      'ValueError',
      `Exceeds the limit (${INT_MAX_STR_DIGITS} digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit`,
    );
  }
  return text;
}

/** A Python int converted to a float, with Python's OverflowError when it does not fit. */
export function intToFloat(b: bigint): number {
  const n = Number(b);
  if (!Number.isFinite(n)) throw new TemplateEvalError('OverflowError', 'int too large to convert to float');
  return n;
}
