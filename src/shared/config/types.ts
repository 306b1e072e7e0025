/** The typed, resolved configuration every step works from (`loadUseCase`'s result). */
import type { SourceLocation } from '../errors.js';
import type { PathSegment } from '../source.js';
import type { LoadedFlow } from '../flow/model.js';
import type { CodeEvaluatorRef } from '../flow/code-evaluator.js';
import type { Connection } from './connections.js';
import type { PiiKind } from '../safety/pii-kinds.js';

export type FlowKind = 'dag' | 'flex' | 'prompty' | 'http';
export type CacheMode = 'read' | 'write' | 'readwrite' | 'off' | 'replay';
export type VariantPlanName = 'defaults' | 'one_at_a_time' | 'cartesian' | 'list';
export type Mappings = Record<string, string | number | boolean | null>;

export interface FlowRef {
  /** Absolute path of the flow folder or .prompty file as written in the config. */
  path: string;
  /** The flow file itself (flow.dag.yaml, flow.flex.yaml or x.prompty). */
  file: string;
  kind: FlowKind;
  /** The loaded, validated flow (default variants applied). */
  model: LoadedFlow;
  /**
   * `init:` given for this flow in experiment.yaml (a flex class flow's constructor arguments), with its
   * `${...}` placeholders resolved; undefined when experiment.yaml gives none.
   */
  init?: Record<string, unknown>;
}

export interface Dataset {
  name: string;
  /** As written: a relative path or azureml:<asset>:<version>. */
  source: string;
  /** Absolute path of a local source; undefined for azureml: sources. */
  localPath?: string;
  description?: string;
  mappings: Mappings;
  /**
   * The column whose value groups lines that are not independent (the turns of one conversation): intervals and
   * paired comparisons of this dataset's per-line scores are clustered by it.
   */
  clusterBy?: string;
  /** `repeat: K` (the dataset's, else the experiment's): every line runs K times. Absent: once. */
  repeat?: number;
}

export interface EvaluatorDataset extends Dataset {
  /** The standard dataset whose runs this one scores (itself when it is a standard dataset). */
  reference: string;
}

export interface Evaluator {
  name: string;
  flow?: FlowRef;
  /** A code-only evaluator folder (`eval_*.py` files with `eval_*` functions, no flow file). */
  code?: CodeEvaluatorRef;
  builtin?: string;
  options: Record<string, unknown>;
  datasets: EvaluatorDataset[];
}

export interface Gate {
  name?: string;
  metric: string;
  evaluator?: string;
  variants: 'all' | 'default' | 'best';
  min?: number;
  max?: number;
  bound: 'value' | 'confidence';
  maxDrop?: number;
  maxRelativeDrop?: number;
  higherIsBetter: boolean;
  requireSignificance: boolean;
  minLines: number;
  /** Gate on the paired difference against this: a variant id of the same run, "default", or "baseline". */
  compareTo?: string;
  /** The lower confidence bound of (variant − reference) must be at least this. */
  minDifference?: number;
  /** The upper confidence bound of (variant − reference) must be at most this. */
  maxDifference?: number;
  /** Stop bulk-run once this gate is decided by an anytime-valid confidence sequence (eval/early-stop-run.ts). */
  earlyStop?: boolean;
  /**
   * An early-stop gate on an evaluation flow's metric: the per-line output (`output` or `output.key`) whose mean
   * the metric is (line_score); default: the flow's output named like the metric.
   */
  lineScore?: string;
}

export interface Execution {
  target: 'local' | 'azure';
  concurrency: number;
  maxFailedLines: { count: number } | { percent: number };
  cache: CacheMode;
  lineTimeoutSec: number;
  /** Interpreter of flows' Python code (execution.python); undefined: LLMOPS_PYTHON, else python3. */
  python?: string;
  /** `check` (default): the modules a flow's Python imports must be installed before any line runs;
   *  `install`: its requirements.txt is installed into a virtual environment under the store first; `off`. */
  pythonRequirements: 'check' | 'install' | 'off';
  /** Datasets may lie outside the repository (default false: they must be inside it, after symlinks). */
  dataOutsideRepository: boolean;
  /** The model deployment's quota, kept by pacing each endpoint; on azure, shared among the shards' jobs. */
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  /** Seed of the random line order of runs with an early_stop gate (execution.early_stop_seed). */
  earlyStopSeed?: number;
}

export interface UseCase {
  name: string;
  /** Absolute path of experiment.yaml and its folder (the use case base path). */
  configFile: string;
  baseDir: string;
  repositoryRoot: string;
  envName?: string;
  /** The overlay that was applied, if one exists for the env. */
  overlayFile?: string;
  flow: FlowRef;
  connections: Connection[];
  datasets: Dataset[];
  evaluators: Evaluator[];
  runtime?: string;
  execution: Execution;
  variants: { plan: VariantPlanName; list: (string | Record<string, string>)[] };
  gates: Gate[];
  baselineFile?: string;
  reports: { dir: string; formats: string[] };
  azure?: Record<string, string>;
  /** PII redaction (safety/redactor.ts): kinds, and whether the run store's records are redacted too. */
  redaction?: { kinds: PiiKind[]; runStore: boolean };
  /** environment/env.yaml, resolved. */
  environmentVariables: Record<string, string>;
  deployment?: Record<string, unknown[]>;
  deploymentFile?: string;
  dataops?: Record<string, unknown>;
  /** Every secret value resolved while loading (already registered with the host for masking). */
  secrets: string[];
  /** Variables of placeholders left unresolved (loaded with `secrets: 'list'`, for planning): none otherwise. */
  missingSecrets?: string[];
  /** Where a key of the experiment configuration is written (base or overlay), for annotations. */
  locationOf(path: PathSegment[]): SourceLocation;
  /**
   * A variable the way every step reads one (CI's environment first, then .env at the repository root);
   * undefined when unset or empty.
   */
  variable(name: string): string | undefined;
}
