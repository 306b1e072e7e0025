/**
 * The files the lifecycle steps hand each other (types in results/handoff.ts): by default in the run store under
 * the experiment and env (RunStore says where), and how they are read and written.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { UseCase } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { writeJsonAtomic } from '../files.js';
import { RunStore } from '../runs/index.js';
import type { EvaluationsFile, RunsFile } from '../results/handoff.js';

export const experimentDir = (store: string, useCase: Pick<UseCase, 'name' | 'envName'>) =>
  new RunStore(store).experimentDir(useCase);
export const defaultRunsFile = (store: string, useCase: Pick<UseCase, 'name' | 'envName'>) =>
  new RunStore(store).runsFile(useCase);
export const defaultEvaluationsFile = (store: string, useCase: Pick<UseCase, 'name' | 'envName'>) =>
  new RunStore(store).evaluationsFile(useCase);

export function writeHandoff(file: string, value: RunsFile | EvaluationsFile): void {
  writeJsonAtomic(file, value);
}

export function readHandoff<T extends RunsFile | EvaluationsFile>(file: string, producedBy: string): T {
  if (!existsSync(file))
    throw ConfigError.at({ file }, `not found: run \`llmops ${producedBy}\` first (or pass the file it wrote)`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw ConfigError.at(
      { file },
      `not readable as JSON (${(e as Error).message}); expected the file \`llmops ${producedBy}\` writes`,
    );
  }
}

/** The CI build id when there is one: GitHub run id, Azure DevOps build id, Jenkins build number. */
export function ciBuildId(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.GITHUB_RUN_ID ?? env.BUILD_BUILDID ?? env.BUILD_NUMBER ?? undefined;
}

/**
 * Runs of the runs file that did not finish (a load error, a crash, a cancel), as one ConfigError: the steps after
 * bulk-run do not read them as if they had, and say how to finish them. Undefined when every run completed.
 */
export function unfinishedRuns(runsFile: string, runs: RunsFile, step: string): ConfigError | undefined {
  const unfinished = runs.runs.filter((r) => r.status !== 'Completed');
  if (unfinished.length === 0) return undefined;
  return new ConfigError(
    unfinished.map((r) => ({
      file: runsFile,
      message: `run ${r.runId} (${r.dataset}, ${r.variantId}) did not finish: ${r.status}${r.error ? `: ${r.error.split('\n')[0]}` : ''}; fix the cause and run \`llmops bulk-run --resume\` before ${step}`,
    })),
  );
}
