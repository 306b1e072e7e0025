/**
 * JSON-schema validity of an output (e.g. a flow that must answer in JSON).
 * @module
 */
import AjvModule from 'ajv';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { AnySchemaObject, ValidateFunction } from 'ajv';

const Ajv = AjvModule.default;
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

type AjvInstance = InstanceType<typeof Ajv> | InstanceType<typeof Ajv2020>;

let draft07: AjvInstance | undefined;
let draft2020: AjvInstance | undefined;
const validators = new WeakMap<object, ValidateFunction>();

/** One Ajv per dialect, created on first use: draft 2020-12 when the schema says so, else draft-07. */
function ajvFor(schema: AnySchemaObject): AjvInstance {
  const make = (ajv: AjvInstance): AjvInstance => {
    addFormats(ajv);
    return ajv;
  };
  if (typeof schema.$schema === 'string' && schema.$schema.includes('2020-12')) {
    return (draft2020 ??= make(new Ajv2020({ strict: false, allErrors: true })));
  }
  return (draft07 ??= make(new Ajv({ strict: false, allErrors: true })));
}

export interface JsonSchemaResult {
  valid: boolean;
  /** Why not: "not JSON: …" or Ajv's messages with the instance path (e.g. "/age must be integer"). */
  errors: string[];
}

/**
 * Validates a value against a JSON Schema (draft-07 by default, draft 2020-12 when the schema's
 * `$schema` says so; formats from ajv-formats). A string value is parsed as JSON first unless
 * `parseStrings` is false. The compiled validator is cached per schema object.
 * @throws Error when the schema itself is invalid.
 */
export function validateJson(
  value: unknown,
  schema: AnySchemaObject,
  options: { parseStrings?: boolean } = {},
): JsonSchemaResult {
  let data = value;
  if (typeof value === 'string' && (options.parseStrings ?? true)) {
    try {
      data = JSON.parse(value);
    } catch (err) {
      return { valid: false, errors: [`not JSON: ${(err as Error).message}`] };
    }
  }
  let validate = validators.get(schema);
  if (!validate) {
    validate = ajvFor(schema).compile(schema);
    validators.set(schema, validate);
  }
  if (validate(data)) return { valid: true, errors: [] };
  return {
    valid: false,
    errors: (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`),
  };
}

/** 1 when the value (a JSON string, or an already parsed value) satisfies the schema, else 0. */
export function jsonSchemaValid(
  value: unknown,
  schema: AnySchemaObject,
  options: { parseStrings?: boolean } = {},
): 0 | 1 {
  return validateJson(value, schema, options).valid ? 1 : 0;
}
