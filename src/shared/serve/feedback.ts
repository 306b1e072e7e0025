/**
 * `POST /feedback`: a caller's rating or label of an answer, keyed by the request id the answer carried in its
 * `x-request-id` header. Validated here; stored by the request log in its events file.
 * @module
 */
import type { PfError } from '../engine/index.js';
import { RequestError } from './runner.js';

export interface Feedback {
  request_id: string;
  /** A number on the caller's scale (e.g. 1–5, or 1 / 0 for thumbs up / down). */
  rating?: number;
  /** A short category, e.g. "helpful", "wrong", "unsafe". */
  label?: string;
  comment?: string;
}

const EXPECTED =
  'expected {"request_id": "<the x-request-id of the answer>", "rating": <number>, "label": "<text>", "comment": "<text>"} with a rating or a label';
const MAX_LABEL = 100;
const MAX_COMMENT = 4000;

/** The feedback in a request body (RequestError 400 saying what was expected when it is not one). */
export function parseFeedback(body: string): Feedback {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    throw new RequestError(`The feedback is not JSON (${(e as Error).message}); ${EXPECTED}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new RequestError(`The feedback is ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}; ${EXPECTED}`);
  const o = value as Record<string, unknown>;
  const unknownKeys = Object.keys(o).filter((k) => !['request_id', 'rating', 'label', 'comment'].includes(k));
  if (unknownKeys.length)
    throw new RequestError(`The feedback has unknown field(s) ${unknownKeys.join(', ')}; ${EXPECTED}`);
  const id = o.request_id;
  if (typeof id !== 'string' || !/^[\w.:-]{1,128}$/.test(id))
    throw new RequestError(
      `request_id is ${JSON.stringify(id) ?? 'missing'}; expected the x-request-id header of the answer (letters, digits, _ . : -, at most 128)`,
    );
  const out: Feedback = { request_id: id };
  if (o.rating !== undefined) {
    if (typeof o.rating !== 'number' || !Number.isFinite(o.rating))
      throw new RequestError(`rating is ${JSON.stringify(o.rating)}; expected a number`);
    out.rating = o.rating;
  }
  if (o.label !== undefined) {
    if (typeof o.label !== 'string' || o.label.trim() === '' || o.label.length > MAX_LABEL)
      throw new RequestError(
        `label is ${JSON.stringify(o.label)}; expected non-empty text of at most ${MAX_LABEL} characters`,
      );
    out.label = o.label.trim();
  }
  if (o.comment !== undefined) {
    if (typeof o.comment !== 'string' || o.comment.length > MAX_COMMENT)
      throw new RequestError(`comment is not text of at most ${MAX_COMMENT} characters; expected text`);
    out.comment = o.comment;
  }
  if (out.rating === undefined && out.label === undefined)
    throw new RequestError(`The feedback has neither a rating nor a label; ${EXPECTED}`);
  return out;
}

/** The kind of a line's failure for monitoring: its innermost error code (e.g. RateLimitError), else its code. */
export function failureKind(error: PfError | undefined): string {
  if (!error) return 'SystemError';
  let kind: string = error.code;
  for (let inner = error.innerError; inner; inner = inner.innerError) kind = inner.code;
  return kind;
}
