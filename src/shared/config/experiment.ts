/**
 * The semantic rules of experiment.yaml beyond its JSON Schema (seed template §2.3–2.4 plus
 * our keys): unique names, existing files, evaluator datasets linked to standard datasets by
 * name, mapping syntax, gates that can be evaluated.
 */
import { ALL_PII_KINDS, type PiiKind } from '../safety/pii-kinds.js';
import { EARLY_STOP_SCORERS } from '../eval/builtin/bounded.js';
import { parseLineScore } from '../eval/early-stop-score.js';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAssetSource } from '../azure/asset-ref.js';
import { findRepositoryRoot } from './environment.js';
import { realOrSelf, realPathOutside } from '../files.js';
import { ConfigError, type Problem } from '../errors.js';
import { isCodeEvaluatorFolder, loadCodeEvaluator, type CodeEvaluatorRef } from '../flow/code-evaluator.js';
import { locate, type PathSegment, type SourceFile } from '../source.js';
import { closest } from './schema-check.js';
import type { Dataset, Evaluator, EvaluatorDataset, Execution, FlowRef, Gate, Mappings, UseCase } from './types.js';

type Raw = Record<string, unknown>;

/** The parts of a UseCase that come from experiment.yaml alone. */
export interface UseCaseParts {
  flowPath: string;
  /** Paths in experiment.yaml are relative to the use case folder. */
  resolvePath: (p: string) => string;
  useCase: Pick<
    UseCase,
    | 'name'
    | 'datasets'
    | 'evaluators'
    | 'runtime'
    | 'execution'
    | 'variants'
    | 'gates'
    | 'baselineFile'
    | 'reports'
    | 'azure'
    | 'redaction'
  >;
}

/**
 * The options each built-in evaluator reads: a misspelt one would be ignored without a word (a Content Safety
 * endpoint silently not used, PII kinds silently all).
 */
const judged = ['connection', 'deployment'];
const contentSafety = ['content_safety_endpoint', 'content_safety_key_env'];
const builtinOptionKeys: Record<string, string[]> = {
  exact_match: ['case_insensitive'],
  token_f1: [],
  bleu: [],
  rouge_l: [],
  embedding_similarity: judged,
  json_schema: ['schema'],
  regex: ['pattern', 'full_match'],
  latency: [],
  cost: [],
  groundedness: judged,
  relevance: judged,
  coherence: judged,
  fluency: judged,
  similarity: judged,
  pii: ['kinds'],
  attack_success: ['kinds'],
  prompt_injection: contentSafety,
  jailbreak: contentSafety,
  content_safety: [...contentSafety, ...judged],
};

export function toUseCaseParts(raw: Raw, ctx: { baseDir: string; resolvePath: (p: string) => string }): UseCaseParts {
  const name = String(raw.name);
  const datasets: Dataset[] = ((raw.datasets as Raw[]) ?? []).map((d) => toDataset(d, ctx.resolvePath, raw.repeat));
  const evaluators: Evaluator[] = ((raw.evaluators as Raw[] | null) ?? []).map((e) => ({
    name: String(e.name),
    builtin: e.builtin as string | undefined,
    options: (e.options as Record<string, unknown>) ?? {},
    // filled in by checkExperiment once the folder is known to hold a flow
    flow: undefined as FlowRef | undefined,
    datasets: (e.datasets as Raw[]).map((d): EvaluatorDataset => {
      const standard = datasets.find((s) => s.name === d.name);
      if (standard && d.source === undefined)
        return { ...standard, mappings: (d.mappings as Mappings) ?? {}, reference: standard.name };
      return { ...toDataset(d, ctx.resolvePath), reference: String(d.reference ?? '') };
    }),
  }));
  const exec = (raw.execution as Raw | null) ?? {};
  const variants = (raw.variants as Raw | null) ?? {};
  const reports = (raw.reports as Raw | null) ?? {};
  return {
    flowPath: ctx.resolvePath(String(raw.flow ?? name)),
    resolvePath: ctx.resolvePath,
    useCase: {
      name,
      datasets,
      evaluators,
      runtime: (raw.runtime as string | null) ?? undefined,
      execution: toExecution(exec, ctx.baseDir),
      variants: {
        plan: (variants.plan as UseCase['variants']['plan']) ?? 'one_at_a_time',
        list: (variants.list as UseCase['variants']['list']) ?? [],
      },
      gates: ((raw.gates as Raw[] | null) ?? []).map(toGate),
      baselineFile: raw.baseline ? ctx.resolvePath(String(raw.baseline)) : undefined,
      reports: {
        dir: reportsDir(reports.dir, ctx.baseDir),
        formats: (reports.formats as string[]) ?? ['json', 'csv', 'html', 'markdown', 'junit'],
      },
      azure: (raw.azure as Record<string, string> | null) ?? undefined,
      redaction: toRedaction(raw.redaction as Raw | null | undefined),
    },
  };
}

/**
 * The report folder, resolved when the config is read so it does not depend on the folder the command runs from:
 * relative to the repository root (the template's pipelines run from there and upload `./reports`), which is the
 * use case's folder when it is in no git repository. Default: `<repository root>/reports`.
 */
function reportsDir(dir: unknown, baseDir: string): string {
  return path.resolve(findRepositoryRoot(baseDir), dir === undefined || dir === null ? 'reports' : String(dir));
}

/** The redaction block (already checked against the schema): kinds default to every kind. */
function toRedaction(r: Raw | null | undefined): UseCase['redaction'] {
  if (!r) return undefined;
  return {
    kinds: (r.kinds as PiiKind[] | undefined) ?? ALL_PII_KINDS,
    runStore: r.run_store === true,
  };
}

type FlowChecker = (
  abs: string,
  at: PathSegment[],
  sourceFor: (p: PathSegment[]) => SourceFile,
  problems: Problem[],
) => FlowRef | undefined;

/** Where checkExperiment puts its problems: the experiment proper, the evaluation blocks, the evaluation flows. */
export interface ExperimentProblems {
  experiment: Problem[];
  evaluators: Problem[];
  evaluatorFlows: Problem[];
}

export function checkExperiment(
  raw: Raw,
  parts: UseCaseParts,
  sourceFor: (p: PathSegment[]) => SourceFile,
  sinks: ExperimentProblems,
  warnings: Problem[],
  display: (p: string) => string,
  checkFlow: FlowChecker,
): void {
  const at = (p: PathSegment[], part: 'key' | 'value' = 'value') => locate(sourceFor(p), p, part);
  let problems = sinks.experiment;
  const { datasets, evaluators, gates } = parts.useCase;
  const repository = parts.useCase.execution.dataOutsideRepository
    ? undefined
    : findRepositoryRoot(parts.resolvePath('.'));

  checkUnique(
    datasets.map((d) => d.name),
    (i, first) =>
      problems.push({
        ...at(['datasets', i, 'name']),
        message: `datasets[${i}].name: "${datasets[i].name}" is already the name of datasets[${first}], expected unique dataset names`,
      }),
  );
  datasets.forEach((d, i) => {
    checkSource(d, ['datasets', i], at, problems, display, repository);
    checkMappings(d.mappings, ['datasets', i, 'mappings'], false, at, problems);
  });

  problems = sinks.evaluators;
  checkUnique(
    evaluators.map((e) => e.name),
    (i, first) =>
      problems.push({
        ...at(['evaluators', i, 'name']),
        message: `evaluators[${i}].name: "${evaluators[i].name}" is already the name of evaluators[${first}], expected unique evaluator names`,
      }),
  );
  evaluators.forEach((e, i) => {
    const known = e.builtin !== undefined ? builtinOptionKeys[e.builtin] : undefined;
    if (!known) return;
    for (const key of Object.keys(e.options)) {
      if (known.includes(key)) continue;
      const p: PathSegment[] = ['evaluators', i, 'options', key];
      const guess = closest(key, known);
      problems.push({
        ...at(p, 'key'),
        message: `evaluators[${i}].options.${key}: unknown option of ${e.builtin}, expected ${
          guess ? `"${guess}"` : known.length ? `one of: ${known.join(', ')}` : 'no options'
        }`,
      });
    }
  });
  const rawEvaluators = (raw.evaluators as Raw[] | null) ?? [];
  evaluators.forEach((ev, i) => {
    const re = rawEvaluators[i];
    if (re.builtin !== undefined && re.flow !== undefined) {
      problems.push({
        ...at(['evaluators', i, 'builtin'], 'key'),
        message: `evaluators[${i}]: found both flow and builtin, expected one of them`,
      });
    } else if (re.builtin !== undefined && re.init !== undefined && re.init !== null) {
      problems.push({
        ...at(['evaluators', i, 'init'], 'key'),
        message: `evaluators[${i}].init: a built-in evaluator takes no init arguments, expected its settings under options`,
      });
    } else if (re.builtin === undefined) {
      const flowAbs = parts.resolvePath(String(re.flow ?? ev.name));
      const flowAt: PathSegment[] = re.flow !== undefined ? ['evaluators', i, 'flow'] : ['evaluators', i, 'name'];
      if (isCodeEvaluatorFolder(flowAbs))
        ev.code = checkCodeEvaluator(flowAbs, parts.useCase.execution.python, display, sinks.evaluatorFlows);
      else ev.flow = checkFlow(flowAbs, flowAt, sourceFor, sinks.evaluatorFlows);
    }
    const names = new Set<string>();
    ((re.datasets as Raw[]) ?? []).forEach((rd, j) => {
      const path: PathSegment[] = ['evaluators', i, 'datasets', j];
      const standard = datasets.some((d) => d.name === rd.name);
      if (names.has(String(rd.name)))
        problems.push({
          ...at([...path, 'name']),
          message: `evaluators[${i}].datasets[${j}].name: "${rd.name}" appears twice in this evaluator, expected each dataset once`,
        });
      names.add(String(rd.name));
      if (standard && (rd.source !== undefined || rd.reference !== undefined)) {
        const key = rd.source !== undefined ? 'source' : 'reference';
        problems.push({
          ...at([...path, key], 'key'),
          message: `evaluators[${i}].datasets[${j}]: "${rd.name}" is a standard dataset, so it must not carry ${key} (remove it, or give this evaluation dataset its own name)`,
        });
      } else if (!standard) {
        if (rd.source === undefined || rd.reference === undefined) {
          const missing = rd.source === undefined ? 'source' : 'reference';
          problems.push({
            ...at(path),
            message: `evaluators[${i}].datasets[${j}]: "${rd.name}" is not a standard dataset, so it needs ${missing} (expected source: <file> and reference: <standard dataset name>; standard datasets: ${datasets.map((d) => d.name).join(', ')})`,
          });
        } else {
          if (!datasets.some((d) => d.name === rd.reference)) {
            problems.push({
              ...at([...path, 'reference']),
              message: `evaluators[${i}].datasets[${j}].reference: "${rd.reference}" is not a dataset of this experiment, expected one of: ${datasets.map((d) => d.name).join(', ')}`,
            });
          }
          checkSource(ev.datasets[j], path, at, problems, display, repository);
        }
      }
      checkMappings((rd.mappings as Mappings) ?? {}, [...path, 'mappings'], true, at, problems);
    });
  });

  problems = sinks.experiment;
  const variants = (raw.variants as Raw | null) ?? {};
  if (variants.plan === 'list' && !Array.isArray(variants.list))
    problems.push({
      ...at(['variants', 'plan']),
      message:
        'variants.plan: "list" needs variants.list, expected a list of "${node.variant_id}" or node: variant mappings',
    });
  if (variants.list !== undefined && variants.plan !== 'list')
    warnings.push({
      ...at(['variants', 'list'], 'key'),
      message: 'variants.list: ignored unless variants.plan is "list"',
    });
  (Array.isArray(variants.list) ? variants.list : []).forEach((item, k) => {
    if (typeof item === 'string' && !/^\$\{[^.{}]+\.[^{}]+\}$/.test(item))
      problems.push({
        ...at(['variants', 'list', k]),
        message: `variants.list[${k}]: found ${JSON.stringify(item)}, expected "\${node.variant_id}"`,
      });
  });

  problems = sinks.evaluators;
  gates.forEach((g, i) => {
    const p: PathSegment[] = ['gates', i];
    const checksDifference = g.minDifference !== undefined || g.maxDifference !== undefined;
    if (
      g.min === undefined &&
      g.max === undefined &&
      g.maxDrop === undefined &&
      g.maxRelativeDrop === undefined &&
      !checksDifference &&
      g.compareTo === undefined
    ) {
      problems.push({
        ...at(p),
        message: `gates[${i}]: gate on "${g.metric}" checks nothing, expected min, max, max_drop, max_relative_drop, or compare_to with min_difference/max_difference`,
      });
    }
    problems.push(...differenceGateProblems(g, i, at));
    // early_stop changes how bulk-run runs the lines: its problems block bulk-run too, not only the evaluation steps.
    if (g.earlyStop) sinks.experiment.push(...earlyStopProblems(g, i, parts.useCase, at));
    else if (g.lineScore !== undefined)
      problems.push({
        ...at([...p, 'line_score'], 'key'),
        message: `gates[${i}].line_score: found line_score without early_stop, expected early_stop: true beside it (line_score says which per-line output an early-stopped run is scored by)`,
      });
    if (g.min !== undefined && g.max !== undefined && g.min > g.max)
      problems.push({
        ...at([...p, 'max']),
        message: `gates[${i}].max: found ${g.max}, expected a value >= min (${g.min})`,
      });
    if (g.evaluator !== undefined && !evaluators.some((e) => e.name === g.evaluator)) {
      problems.push({
        ...at([...p, 'evaluator']),
        message: `gates[${i}].evaluator: "${g.evaluator}" is not an evaluator of this experiment, expected one of: ${evaluators.map((e) => e.name).join(', ') || '(none configured)'}`,
      });
    }
    if ((g.maxDrop !== undefined || g.maxRelativeDrop !== undefined) && !parts.useCase.baselineFile) {
      warnings.push({
        ...at(p),
        message: `gates[${i}]: regression limits on "${g.metric}" need a baseline (set baseline: or pass --baseline); without one they are skipped`,
      });
    }
  });
  const baseline = parts.useCase.baselineFile;
  if (baseline && !existsSync(baseline))
    warnings.push({
      ...at(['baseline']),
      message: `baseline: ${display(baseline)} does not exist yet; regression gates will be skipped until it does`,
    });
}

/** A code-only evaluator folder (no flow file, eval_*.py files): its problems are at file:line of the Python files. */
function checkCodeEvaluator(
  dir: string,
  python: string | undefined,
  display: (p: string) => string,
  problems: Problem[],
): CodeEvaluatorRef | undefined {
  try {
    return loadCodeEvaluator(dir, { python, display });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
    return undefined;
  }
}

/**
 * `repository`: the folder datasets must lie in, after symlinks (undefined: anywhere, when experiment.yaml opts out
 * with `execution.data_outside_repository: true`) — a pull request's experiment must not read the runner's files.
 */
function checkSource(
  d: Dataset,
  path: PathSegment[],
  at: (p: PathSegment[]) => ReturnType<typeof locate>,
  problems: Problem[],
  display: (p: string) => string,
  repository?: string,
): void {
  if (d.source.startsWith('azureml:')) {
    if (!parseAssetSource(d.source))
      problems.push({
        ...at([...path, 'source']),
        message: `${fmt(path)}.source: found ${JSON.stringify(d.source)}, expected azureml:<asset>:<version> or azureml:<asset>:latest`,
      });
    return;
  }
  if (!d.localPath)
    problems.push({
      ...at([...path, 'source']),
      message: `${fmt(path)}.source: file not found: ${d.source} (looked in the use case folder and in its data/ folder)`,
    });
  else if (repository && realPathOutside(d.localPath, [repository]))
    problems.push({
      ...at([...path, 'source']),
      message: `${fmt(path)}.source: ${JSON.stringify(d.source)} resolves to ${realOrSelf(d.localPath)}, outside the repository ${display(repository)}; expected a dataset inside it (or set execution.data_outside_repository: true)`,
    });
  else if (!/\.(jsonl|json|csv|tsv)$/i.test(d.localPath) && !isFolder(d.localPath))
    problems.push({
      ...at([...path, 'source']),
      message: `${fmt(path)}.source: ${display(d.localPath)} has an unsupported format, expected a .jsonl, .json, .csv or .tsv file (or a folder of them)`,
    });
}

const mappingReference = /^\$\{(data|run\.outputs|run\.inputs|target)\.([^{}]+)\}$/;

function checkMappings(
  mappings: Mappings,
  path: PathSegment[],
  evaluation: boolean,
  at: (p: PathSegment[]) => ReturnType<typeof locate>,
  problems: Problem[],
): void {
  for (const [input, value] of Object.entries(mappings ?? {})) {
    if (typeof value !== 'string' || !value.trim().startsWith('${')) continue;
    const m = mappingReference.exec(value.trim());
    const where = `${fmt(path)}.${input}`;
    if (!m) {
      problems.push({
        ...at([...path, input]),
        message: `${where}: found ${JSON.stringify(value)}, expected "\${data.<column>}"${evaluation ? ', "${run.outputs.<output>}", "${run.inputs.<input>}", "${target.<output>}"' : ''} or a literal`,
      });
    } else if (!evaluation && m[1] !== 'data') {
      problems.push({
        ...at([...path, input]),
        message: `${where}: found ${JSON.stringify(value)}, but a standard dataset has no run to read from, expected "\${data.<column>}" or a literal`,
      });
    }
  }
}

function checkUnique(names: string[], report: (index: number, firstIndex: number) => void): void {
  const first = new Map<string, number>();
  names.forEach((n, i) => (first.has(n) ? report(i, first.get(n)!) : first.set(n, i)));
}

function toDataset(d: Raw, resolvePath: (p: string) => string, experimentRepeat?: unknown): Dataset {
  const repeat = d.repeat ?? experimentRepeat;
  const source = String(d.source ?? '');
  let localPath: string | undefined;
  if (source && !source.startsWith('azureml:')) {
    const direct = resolvePath(source);
    const fallback = resolvePath(`data/${source}`);
    localPath = existsSync(direct) ? direct : existsSync(fallback) ? fallback : undefined;
  }
  return {
    name: String(d.name),
    source,
    localPath,
    description: (d.description as string | undefined) ?? undefined,
    mappings: (d.mappings as Mappings) ?? {},
    ...(typeof d.cluster_by === 'string' ? { clusterBy: d.cluster_by } : {}),
    ...(typeof repeat === 'number' && repeat > 1 ? { repeat } : {}),
  };
}

function toExecution(e: Raw, baseDir: string): Execution {
  const mfl = e.max_failed_lines ?? 0;
  return {
    target: (e.target as Execution['target']) ?? 'local',
    concurrency: (e.concurrency as number) ?? 8,
    maxFailedLines:
      typeof mfl === 'string' && mfl.endsWith('%') ? { percent: Number(mfl.slice(0, -1)) } : { count: Number(mfl) },
    cache: (e.cache as Execution['cache']) ?? 'readwrite',
    lineTimeoutSec: (e.line_timeout_sec as number) ?? 600,
    // A path (it has a slash) is the use case's, like its flows and data; a bare name is looked up on PATH.
    python:
      typeof e.python === 'string' ? (/[\\/]/.test(e.python) ? path.resolve(baseDir, e.python) : e.python) : undefined,
    pythonRequirements: (e.python_requirements as Execution['pythonRequirements']) ?? 'check',
    dataOutsideRepository: (e.data_outside_repository as boolean | undefined) ?? false,
    requestsPerMinute: (e.requests_per_minute as number | undefined) ?? undefined,
    tokensPerMinute: (e.tokens_per_minute as number | undefined) ?? undefined,
    earlyStopSeed: (e.early_stop_seed as number | undefined) ?? undefined,
  };
}

function toGate(g: Raw): Gate {
  return {
    name: g.name as string | undefined,
    metric: String(g.metric),
    evaluator: g.evaluator as string | undefined,
    variants: (g.variants as Gate['variants']) ?? 'all',
    min: g.min as number | undefined,
    max: g.max as number | undefined,
    bound: (g.bound as Gate['bound']) ?? 'value',
    maxDrop: g.max_drop as number | undefined,
    maxRelativeDrop: g.max_relative_drop as number | undefined,
    higherIsBetter: (g.higher_is_better as boolean) ?? true,
    requireSignificance: (g.require_significance as boolean) ?? true,
    minLines: (g.min_lines as number) ?? 10,
    ...(typeof g.compare_to === 'string' ? { compareTo: g.compare_to } : {}),
    minDifference: g.min_difference as number | undefined,
    maxDifference: g.max_difference as number | undefined,
    ...(g.early_stop === true ? { earlyStop: true } : {}),
    ...(typeof g.line_score === 'string' ? { lineScore: g.line_score } : {}),
  };
}

/** A gate on the paired difference needs both what to compare to and the bound on the difference. */
function differenceGateProblems(
  g: Gate,
  i: number,
  at: (path: PathSegment[], part?: 'key') => Omit<Problem, 'message'>,
): Problem[] {
  const p: PathSegment[] = ['gates', i];
  const out: Problem[] = [];
  const bounded = g.minDifference !== undefined || g.maxDifference !== undefined;
  if (g.compareTo !== undefined && !bounded)
    out.push({
      ...at([...p, 'compare_to']),
      message: `gates[${i}].compare_to: found "${g.compareTo}" without a bound, expected min_difference and/or max_difference beside it`,
    });
  if (g.compareTo === undefined && bounded)
    out.push({
      ...at([...p, g.minDifference !== undefined ? 'min_difference' : 'max_difference'], 'key'),
      message: `gates[${i}]: a bound on the difference needs what to compare to, expected compare_to: <variant id>, default or baseline`,
    });
  const yamlKeys = { min: 'min', max: 'max', maxDrop: 'max_drop', maxRelativeDrop: 'max_relative_drop' } as const;
  const other = (Object.keys(yamlKeys) as (keyof typeof yamlKeys)[]).find((k) => g[k] !== undefined);
  if (g.compareTo !== undefined && other)
    out.push({
      ...at([...p, yamlKeys[other]], 'key'),
      message: `gates[${i}]: a gate with compare_to checks the difference only, expected ${yamlKeys[other]} in a gate of its own`,
    });
  if (g.minDifference !== undefined && g.maxDifference !== undefined && g.minDifference > g.maxDifference)
    out.push({
      ...at([...p, 'max_difference']),
      message: `gates[${i}].max_difference: found ${g.maxDifference}, expected a value >= min_difference (${g.minDifference})`,
    });
  return out;
}

/**
 * `early_stop: true` decides a bound on the mean of a per-line score known to lie in [0, 1], scored in the run as
 * each line finishes: a min/max gate on a deterministic built-in scorer of the standard dataset's own lines.
 */
function earlyStopProblems(
  g: Gate,
  i: number,
  useCase: UseCaseParts['useCase'],
  at: (path: PathSegment[], part?: 'key') => Omit<Problem, 'message'>,
): Problem[] {
  const where = at(['gates', i, 'early_stop']);
  const supported = Object.entries(EARLY_STOP_SCORERS)
    .map(([b, m]) => `builtin ${b} (metric ${m})`)
    .join(', ');
  const problem = (message: string) => [{ ...where, message: `gates[${i}].early_stop: ${message}` }];
  if (g.compareTo !== undefined || g.maxDrop !== undefined || g.maxRelativeDrop !== undefined)
    return problem(
      'early stopping decides a min/max bound on a metric, found a gate on a difference or a regression, expected min and/or max only',
    );
  if (g.min === undefined && g.max === undefined)
    return problem('found no min or max to decide, expected min and/or max');
  if (g.variants === 'best')
    return problem('variants: best compares variants after every run ended, expected variants all or default');
  const evaluator = useCase.evaluators.find((e) => e.name === g.evaluator);
  const repeated = useCase.datasets.find((d) => (d.repeat ?? 1) > 1);
  if (evaluator?.flow) {
    const lineScore = lineScoreProblem(g, evaluator.name, evaluator.flow);
    if (lineScore)
      return [
        {
          ...at(['gates', i, g.lineScore ? 'line_score' : 'early_stop']),
          message: `gates[${i}].${g.lineScore ? 'line_score' : 'early_stop'}: ${lineScore}`,
        },
      ];
    if (repeated)
      return problem(`dataset ${repeated.name} has repeat ${repeated.repeat}, expected no repeat with early stopping`);
    // bulk-run reads the evaluation rows itself, before evaluate would download an asset.
    const remote = evaluator.datasets.find((d) => d.name !== d.reference && !d.localPath);
    if (remote)
      return problem(
        `evaluator "${evaluator.name}" reads dataset "${remote.name}" from ${remote.source}, expected a local file (bulk-run scores each line as it finishes, before evaluate downloads Azure ML data)`,
      );
    return [];
  }
  if (!evaluator || !evaluator.builtin || EARLY_STOP_SCORERS[evaluator.builtin] !== g.metric)
    return problem(
      `found ${evaluator ? `evaluator "${evaluator.name}" (${evaluator.builtin ? `builtin ${evaluator.builtin}` : evaluator.code ? 'code evaluator' : 'a flow'})` : 'no evaluator named'} with metric "${g.metric}", expected evaluator: <name> of an evaluation flow whose metric is the mean of a per-line output in [0, 1], or of a built-in scorer whose per-line score lies in [0, 1]: ${supported}`,
    );
  if (g.lineScore !== undefined)
    return [
      {
        ...at(['gates', i, 'line_score'], 'key'),
        message: `gates[${i}].line_score: evaluator "${evaluator.name}" is builtin ${evaluator.builtin}, whose score is its metric, expected no line_score (it names an evaluation flow's output)`,
      },
    ];
  const own = evaluator.datasets.find((d) => d.name !== d.reference);
  if (own)
    return problem(
      `evaluator "${evaluator.name}" scores dataset "${own.name}" from its own file, expected it to score the standard dataset by name (its lines are scored as they finish)`,
    );
  if (repeated)
    return problem(`dataset ${repeated.name} has repeat ${repeated.repeat}, expected no repeat with early stopping`);
  return [];
}

/**
 * An early-stop gate on an evaluation flow reads its per-line score from one of the flow's outputs (line_score,
 * else the output named like the metric); what is wrong with that, or undefined. A flow that declares no outputs
 * (a flex function) is taken at its word: its lines say so when they run. Declared types are loose in practice
 * (the template declares string for 1/0/-1), so only a plain read of a string output is refused here.
 */
function lineScoreProblem(g: Gate, evaluator: string, flow: FlowRef): string | undefined {
  const declared = 'outputs' in flow.model ? Object.keys(flow.model.outputs ?? {}) : [];
  if (declared.length === 0)
    return g.lineScore
      ? undefined
      : `evaluation flow "${evaluator}" declares no outputs, expected line_score: <output or output.key> beside early_stop naming the per-line value (a number in [0, 1] or a boolean) whose mean is "${g.metric}"`;
  const { path, equals } = parseLineScore(g.lineScore ?? g.metric);
  if (equals === '' || path === '')
    return `found "${g.lineScore}", expected <output or output.key>, optionally followed by == <the value a correct line has>`;
  const output = declared.includes(path) ? path : path.split('.')[0];
  const type = (flow.model.outputs as Record<string, { type?: string }>)[output]?.type;
  // A text grade ("Correct") has no mean: it needs the grade that counts as 1.
  if (output === path && type === 'string' && equals === undefined)
    return `found output "${output}" of evaluation flow "${evaluator}" declared type string, expected a per-line number in [0, 1] or a boolean whose mean is "${g.metric}", or the value a correct line has: line_score: ${output} == <value> (e.g. ${output} == Correct)`;
  if (declared.includes(output)) return undefined;
  return g.lineScore
    ? `found output "${output}", which evaluation flow "${evaluator}" does not have, expected one of its outputs: ${declared.join(', ')}`
    : `evaluation flow "${evaluator}" has no output "${g.metric}" to score each line by, expected line_score: <output or output.key> beside early_stop naming the per-line value (a number in [0, 1] or a boolean) whose mean is "${g.metric}" (its outputs: ${declared.join(', ')})`;
}

/** A folder of data files (read in name order, registered in Azure ML as uri_folder). */
function isFolder(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

function fmt(path: PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
}
