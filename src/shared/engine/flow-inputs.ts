/**
 * Flow inputs of a line (promptflow-formats.md §1.2): defaults for absent keys, then Python-style coercion by
 * declared type. Extra keys are kept. Failures fail the line, with Prompt Flow's error codes.
 * @module
 */
import type { FlowInputDef } from '../flow/index.js';
import { pyRepr } from './template/index.js';
import { LineFailure } from './line-error.js';
import { parseValue, ValueParseError } from './values.js';

export function coerceLineInputs(defs: Record<string, FlowInputDef>, raw: Record<string, unknown>, lineNumber: number, baseDir?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const name in defs) {
    const def = defs[name];
    let v = out[name];
    if (v === undefined) {
      if (!def.hasDefault) {
        throw new LineFailure(`The value for flow input '${name}' is not provided in line ${lineNumber} of input data. Please review your input data or remove this input in your flow if it's no longer needed.`, ['ValidationError', 'InputNotFound']);
      }
      v = def.default;
    }
    try {
      out[name] = parseValue(def.type, v, baseDir);
    } catch (e) {
      if (!(e instanceof ValueParseError)) throw e;
      const code = def.type === 'list' && typeof v === 'string' ? 'InputParseError' : 'InputTypeError';
      throw new LineFailure(`The input for flow is incorrect. The value for flow input '${name}' in line ${lineNumber} of input data does not match the expected type '${def.type}'. Got value ${pyRepr(v)}.`, ['ValidationError', code]);
    }
  }
  return out;
}
