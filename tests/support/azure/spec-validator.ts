/**
 * Microsoft's own OpenAPI live validator (oav) over the vendored Azure ML spec: every request the
 * emulator receives and every response it sends is checked against
 * `specs/azure-rest-api-specs/.../Microsoft.MachineLearningServices/stable/2025-12-01/mfe.json`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export const ML_SPEC =
  'machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2025-12-01/mfe.json';

/** The vendored specs' `specification/` folder: LLMOPS_AZURE_SPECS, else the repository's `specs/`. */
export function specificationDir(): string {
  const fromEnv = process.env.LLMOPS_AZURE_SPECS;
  if (fromEnv) return path.join(fromEnv, 'specification');
  const vendored = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    '../../../specs/azure-rest-api-specs/specification',
  );
  if (existsSync(path.join(vendored, ML_SPEC))) return vendored;
  throw new Error(
    `vendored Azure specs not found at ${vendored}: set LLMOPS_AZURE_SPECS to an azure-rest-api-specs folder`,
  );
}

export interface SpecIssue {
  code: string;
  message: string;
  paths: string[];
}

export interface SpecCheck {
  operationId?: string;
  issues: SpecIssue[];
}

interface OavIssue {
  code: string;
  message: string;
  pathsInPayload?: string[];
}
interface OavResult {
  isSuccessful?: boolean;
  errors: OavIssue[];
  runtimeException?: { code: string; message: string };
  operationInfo?: { operationId?: string };
}
interface OavLiveValidator {
  initialize(): Promise<void>;
  validateLiveRequest(r: unknown): Promise<OavResult>;
  validateLiveResponse(r: unknown, op: { url: string; method: string }): Promise<OavResult>;
}

export class SpecValidator {
  private constructor(private readonly live: OavLiveValidator) {}

  /** `specs`: spec files under the specification folder (default: the Azure ML one). */
  static async load(specs: string[] = [ML_SPEC]): Promise<SpecValidator> {
    const oav = require('oav') as { LiveValidator: new (o: unknown, log?: unknown) => OavLiveValidator };
    const live = new oav.LiveValidator(
      {
        directory: specificationDir(),
        swaggerPathsPattern: specs,
        git: { shouldClone: false },
        isPathCaseSensitive: false,
        loadValidatorInBackground: false,
        loadValidatorInInitialize: true,
      },
      () => undefined,
    );
    await live.initialize();
    return new SpecValidator(live);
  }

  async request(r: {
    url: string;
    method: string;
    headers: Record<string, string>;
    body?: unknown;
  }): Promise<SpecCheck> {
    const result = await this.live.validateLiveRequest({ ...r, body: r.body as Record<string, unknown> });
    return toCheck(result);
  }

  async response(
    request: { url: string; method: string },
    r: { statusCode: string; headers: Record<string, string>; body?: unknown },
  ): Promise<SpecCheck> {
    const result = await this.live.validateLiveResponse({ ...r, body: r.body as Record<string, unknown> }, request);
    return toCheck(result);
  }
}

function toCheck(result: OavResult): SpecCheck {
  const issues: SpecIssue[] = result.errors.map((e) => ({
    code: e.code,
    message: e.message,
    paths: e.pathsInPayload ?? [],
  }));
  if (result.runtimeException)
    issues.push({ code: result.runtimeException.code, message: result.runtimeException.message, paths: [] });
  return { operationId: result.operationInfo?.operationId, issues };
}
