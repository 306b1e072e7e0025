/**
 * Validation of a results value against schemas/results.schema.json — used before a stored
 * results.json is trusted as a baseline, and by tests to keep the schema and model.ts in step.
 * @module
 */
import { readFileSync } from 'node:fs';
import AjvModule from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { assetPath } from '../assets.js';
import type { Results } from '../results/model.js';

const Ajv = AjvModule.default;
let validator: ValidateFunction | undefined;
let lineValidator: ValidateFunction | undefined;

function compiled(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
    const schema = JSON.parse(readFileSync(assetPath('schemas/results.schema.json'), 'utf8'));
    validator = ajv.compile(schema);
    // One line of `lines`, for a reader that walks results.json line by line.
    lineValidator = ajv.compile({ definitions: schema.definitions, $ref: '#/definitions/line' });
  }
  return validator;
}

/** Checks one element of `lines` (at `index`); problems are named by their path in the whole file. */
export function validateResultsLine(value: unknown, index: number): string[] {
  compiled();
  if (lineValidator!(value)) return [];
  return [
    ...new Set(
      (lineValidator!.errors ?? []).map((e) => describe({ ...e, instancePath: `/lines/${index}${e.instancePath}` })),
    ),
  ];
}

/**
 * Checks `value` against the results schema. Returns one line per problem, each starting
 * with the JSON path of the offending value (e.g. `/runs/0/tokens: missing required key "total"`);
 * an empty list means the value is valid.
 */
export function validateResults(value: unknown): string[] {
  const validate = compiled();
  if (validate(value)) return [];
  return [...new Set((validate.errors ?? []).map(describe))];
}

/** Narrowing form of validateResults for callers that only need yes or no. */
export function isResults(value: unknown): value is Results {
  return compiled()(value) === true;
}

function describe(err: ErrorObject): string {
  const at = err.instancePath || '/';
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return `${at}: missing required key "${String(params.missingProperty)}"`;
    case 'additionalProperties':
      return `${at}: unknown key "${String(params.additionalProperty)}"`;
    case 'enum':
      return `${at}: expected one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${at}: ${err.message ?? 'is not valid'}`;
  }
}
