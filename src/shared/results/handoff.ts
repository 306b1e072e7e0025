/**
 * What the lifecycle steps hand each other: the runs file (bulk-run → evaluate, report) and the
 * evaluations file (evaluate → report). Where they live and how they are read: steps/experiment-files.ts.
 * @module
 */
import type { EvaluationResult } from './model.js';

export interface StandardRun {
  runId: string;
  variantId: string;
  /** node → variant id of every varied node. */
  selection: Record<string, string>;
  isDefault: boolean;
  dataset: string;
  /** Absolute path of the data file the run read. */
  dataFile: string;
  /** Lineage of an `azureml:` dataset: the exact asset version the run read (`azureml:<name>:<version>`). */
  dataAsset?: { asset: string; dataUri: string; hash?: string };
  lines: number;
  completed: number;
  failed: number;
  status: string;
  /** Why the run did not finish (status Failed): fix it and run bulk-run --resume. */
  error?: string;
}

export interface RunsFile {
  experiment: string;
  env?: string;
  build?: string;
  createdAt: string;
  runs: StandardRun[];
}

export interface EvaluationsFile {
  experiment: string;
  env?: string;
  build?: string;
  createdAt: string;
  evaluations: EvaluationResult[];
}
