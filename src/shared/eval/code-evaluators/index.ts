/**
 * Code-only evaluators (`eval_*.py` folders) for the evaluate step: imported up front (so the user's
 * import errors stop the step before any model call), then run job by job, each job in its own
 * worker (a job is one call per eval_* function, so a worker start is small beside it).
 * @module
 */
import path from 'node:path';
import type { Evaluator, UseCase } from '../../config/types.js';
import type { LlmService } from '../../engine/index.js';
import type { ProgressReporter, RunSummary } from '../../runs/index.js';
import {
  openCodeEvaluator,
  templateRunName,
  type CodeEvaluatorJob,
  type CodeEvaluatorSessionOptions,
} from './run-code-evaluator.js';

export {
  openCodeEvaluator,
  templateRunName,
  type CodeEvaluatorSession,
  type CodeEvaluatorJob,
} from './run-code-evaluator.js';
export { codeEvaluatorCallback, type CodeEvalContext, type CodeEvalLineError } from './engine-callback.js';

export interface CodeEvaluatorRunner {
  run(
    evaluator: Evaluator,
    job: {
      runId: string;
      storeRoot: string;
      data: string;
      mappings: Record<string, unknown>;
      referencedRun?: string;
      progress?: ProgressReporter;
      dataAsset?: { asset: string; dataUri: string; hash?: string };
      /** PII redaction of the records the store keeps (redaction.run_store). */
      redactRecord?: CodeEvaluatorJob['redactRecord'];
    },
  ): Promise<RunSummary>;
}

/**
 * Imports every code-only evaluator among `evaluators` (one entry per job) in a worker and closes it
 * again; ConfigError (exit 2) at the user's file:line when one cannot be imported.
 */
export async function checkCodeEvaluators(
  evaluators: Evaluator[],
  useCase: UseCase,
  o: { llm: LlmService; concurrency: number; python?: string },
): Promise<CodeEvaluatorRunner> {
  const sessionOptions = (e: Evaluator): CodeEvaluatorSessionOptions => ({
    name: e.name,
    code: e.code!,
    useCaseDir: useCase.baseDir,
    flowDir: path.dirname(useCase.flow.file),
    python: o.python,
    connections: useCase.connections,
    llm: o.llm,
    env: useCase.environmentVariables,
    concurrency: o.concurrency,
    displayBase: process.cwd(),
  });
  for (const e of new Set(evaluators.filter((x) => x.code))) await (await openCodeEvaluator(sessionOptions(e))).close();

  const runName = templateRunName(useCase.name);
  return {
    async run(evaluator, job) {
      const session = await openCodeEvaluator(sessionOptions(evaluator));
      try {
        return await session.run({ ...job, runName });
      } finally {
        await session.close();
      }
    },
  };
}
