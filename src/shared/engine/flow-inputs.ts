/**
 * Flow inputs of a line (promptflow-formats.md §1.2): defaults for absent keys, then Python-style coercion by
 * declared type, then images (§2.6): an `image` input becomes an image, and image dicts inside `list` /
 * `object` inputs (chat history included) become images too. Extra keys are kept. Failures fail the line,
 * with Prompt Flow's error codes.
 * @module
 */
import type { FlowInputDef } from '../flow/index.js';
import { pyRepr } from './template/index.js';
import { LineFailure } from './line-error.js';
import { parseValue, ValueParseError } from './values.js';
import {
  ImageInputError,
  loadImageInput,
  loadNestedImages,
  type ImageLoadOptions,
  type MessageFormat,
} from './images.js';

/** Where image inputs are read from. */
export interface InputImageContext {
  /** Relative paths in defaults resolve against the flow folder. */
  workingDir: string;
  /** Relative paths in given values resolve against the data file's folder (default: the flow folder). */
  dataDir?: string;
  format?: MessageFormat;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
  /** Served flows: only URLs of public hosts are fetched. */
  publicUrlsOnly?: boolean;
  /** Folders image paths may name besides the data folder and the working directory (ImageLoadOptions.roots). */
  roots?: readonly string[];
}

/** The line's inputs; a Promise only when an image has to be fetched from a URL. */
export function coerceLineInputs(
  defs: Record<string, FlowInputDef>,
  raw: Record<string, unknown>,
  lineNumber: number,
  images?: InputImageContext,
): Record<string, unknown> | Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { ...raw };
  let pending: Array<Promise<void>> | undefined;
  for (const name in defs) {
    const def = defs[name];
    let v = out[name];
    let defaulted = false;
    if (v === undefined) {
      if (!def.hasDefault) {
        throw new LineFailure(
          `The value for flow input '${name}' is not provided in line ${lineNumber} of input data. Please review your input data or remove this input in your flow if it's no longer needed.`,
          ['ValidationError', 'InputNotFound'],
        );
      }
      v = def.default;
      defaulted = true;
    }
    const type = def.type;
    if (type !== 'image') {
      try {
        v = parseValue(type, v);
      } catch (e) {
        if (!(e instanceof ValueParseError)) throw e;
        const code = type === 'list' && typeof v === 'string' ? 'InputParseError' : 'InputTypeError';
        throw new LineFailure(
          `The input for flow is incorrect. The value for flow input '${name}' in line ${lineNumber} of input data does not match the expected type '${type}'. Got value ${pyRepr(v)}.`,
          ['ValidationError', code],
        );
      }
      if ((type !== 'list' && type !== 'object') || v === null || typeof v !== 'object') {
        out[name] = v;
        continue;
      }
    }
    const options: ImageLoadOptions = {
      baseDir: (defaulted ? undefined : images?.dataDir) ?? images?.workingDir ?? process.cwd(),
      format: images?.format,
      fetchImpl: images?.fetchImpl,
      timeoutMs: images?.timeoutMs,
      publicUrlsOnly: images?.publicUrlsOnly,
      roots: images?.roots,
    };
    let loaded: unknown;
    try {
      loaded = type === 'image' ? loadImageInput(v, options) : loadNestedImages(v, options);
    } catch (e) {
      throw imageFailure(e, name, defaulted);
    }
    if (loaded instanceof Promise)
      (pending ??= []).push(
        loaded.then(
          (x) => void (out[name] = x),
          (e: unknown) => Promise.reject(imageFailure(e, name, defaulted)),
        ),
      );
    else out[name] = loaded;
  }
  if (!pending) return out;
  return Promise.all(pending).then(() => out);
}

function imageFailure(e: unknown, name: string, defaulted: boolean): unknown {
  if (!(e instanceof ImageInputError)) return e;
  return new LineFailure(
    `Failed to load image for input '${name}'${defaulted ? ' (its default in the flow)' : ''}: ${e.message}`,
    ['LoadMultimediaDataError'],
  );
}
