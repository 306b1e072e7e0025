/**
 * Requests and responses checked against the vendored Azure AI Content Safety specification
 * (specs/azure-rest-api-specs/.../ContentSafety/stable/2024-09-01/contentsafety.json). oav's live validator
 * finds operations by ARM resource paths and does not match this data-plane spec's `{endpoint}/contentsafety`
 * host template, so the operation is looked up here by path and method and its body schemas (Swagger 2.0's
 * JSON Schema subset, local `#/definitions` refs) are compiled with Ajv.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export const CONTENT_SAFETY_SPEC = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../specs/azure-rest-api-specs/specification/cognitiveservices/data-plane/ContentSafety/stable/2024-09-01/contentsafety.json',
);

interface SwaggerParameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: object;
  $ref?: string;
}
interface SwaggerOperation {
  operationId: string;
  parameters: SwaggerParameter[];
  responses: Record<string, { schema?: object }>;
}
interface Swagger {
  info: { version: string };
  paths: Record<string, Record<string, SwaggerOperation>>;
  definitions: Record<string, object>;
  parameters: Record<string, SwaggerParameter>;
}

export class ContentSafetySpec {
  private readonly spec: Swagger;
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(file = CONTENT_SAFETY_SPEC) {
    this.spec = JSON.parse(readFileSync(file, 'utf8')) as Swagger;
    // Swagger 2.0's formats: JSON Schema's (uri, ...) plus its integer widths.
    addFormats(this.ajv);
    this.ajv.addFormat('int32', {
      type: 'number',
      validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31,
    });
    this.ajv.addFormat('byte', /^[A-Za-z0-9+/]*={0,2}$/);
    // Every definition under one id, so `#/definitions/X` refs resolve as written in the spec.
    this.ajv.addSchema({ $id: 'spec', definitions: this.spec.definitions }, 'spec');
  }

  get apiVersion(): string {
    return this.spec.info.version;
  }

  /** The operation at a path under `/contentsafety` (e.g. `/text:analyze`), or undefined. */
  operation(opPath: string, method: string): SwaggerOperation | undefined {
    return this.spec.paths[opPath]?.[method.toLowerCase()];
  }

  /** Problems with a request: the operation exists, required query parameters are there, the body fits. */
  checkRequest(opPath: string, method: string, query: URLSearchParams, body: unknown): string[] {
    const op = this.operation(opPath, method);
    if (!op) return [`no operation ${method} ${opPath} in the specification`];
    const problems: string[] = [];
    for (const p of op.parameters.map((p) => this.parameter(p))) {
      if (p.in === 'query' && p.required && !query.has(p.name)) problems.push(`missing query parameter ${p.name}`);
      if (p.in === 'body') problems.push(...this.validate(p.schema!, body, 'request body'));
    }
    if (query.has('api-version') && query.get('api-version') !== this.apiVersion)
      problems.push(`api-version ${query.get('api-version')} is not the vendored ${this.apiVersion}`);
    return problems;
  }

  checkResponse(opPath: string, method: string, status: number, body: unknown): string[] {
    const op = this.operation(opPath, method);
    if (!op) return [`no operation ${method} ${opPath} in the specification`];
    const response = op.responses[String(status)] ?? op.responses.default;
    return response?.schema ? this.validate(response.schema, body, `response ${status}`) : [];
  }

  private parameter(p: SwaggerParameter): SwaggerParameter {
    return p.$ref ? this.spec.parameters[p.$ref.replace('#/parameters/', '')] : p;
  }

  private validate(schema: object, value: unknown, what: string): string[] {
    const key = JSON.stringify(schema);
    let check = this.compiled.get(key);
    if (!check) {
      // Refs point into the spec document: compile against it.
      const rooted = JSON.parse(key.replaceAll('"#/definitions/', '"spec#/definitions/')) as object;
      check = this.ajv.compile(rooted);
      this.compiled.set(key, check);
    }
    return check(value) ? [] : (check.errors ?? []).map((e) => `${what}${e.instancePath} ${e.message}`);
  }
}
