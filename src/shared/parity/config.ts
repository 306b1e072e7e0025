/**
 * experiment.yaml's `parity:` block: two targets (a flow folder or an http target each; the baseline defaults to
 * the experiment's flow), the dataset they both run, the equivalence margins (one default δ, and one per evaluator
 * on its own scale: a 1–5 judge score, latency in ms), and what compares them. Every problem at file:line:column,
 * all in one ConfigError.
 * @module
 */
import path from 'node:path';
import { findRepositoryRoot, loadEnvironment } from '../config/environment.js';
import { checkHttpTarget, isHttpTargetValue } from '../config/http-target.js';
import type { Dataset, Evaluator, EvaluatorDataset, FlowRef, UseCase } from '../config/types.js';
import { ConfigError, type Problem, type SourceLocation } from '../errors.js';
import { loadFlow } from '../flow/index.js';
import { describeValue, locate, readSource, type PathSegment } from '../source.js';

export interface ParityModel {
  connection: string;
  deployment: string;
}

export interface ParityEvaluator {
  name: string;
  /** A built-in evaluator (line scorer, LLM judge or safety evaluator), or else */
  builtin?: string;
  /** an evaluation flow of the use case, run on each side's run (its numeric outputs are the line's scores). */
  flow?: FlowRef;
  options: Record<string, unknown>;
  /** The evaluator's mappings for the parity dataset (`${run.outputs.x}`, `${data.y}`). */
  mappings: Record<string, unknown>;
  /** The evaluator as the experiment declares it, and its datasets entry scoring the parity dataset's runs. */
  evaluator: Evaluator;
  dataset: EvaluatorDataset;
}

export interface ParityConfig {
  baseline: FlowRef;
  candidate: FlowRef;
  dataset: Dataset;
  /** The default equivalence margin δ: on the disagreement rate, and on every evaluator not in `margins`. */
  margin: number;
  /**
   * δ per evaluator, on its own scale (`parity.margins`): keyed by evaluator name, or `<evaluator>.<output>` for one
   * numeric output of an evaluation flow.
   */
  margins: Record<string, number>;
  alpha: number;
  /** Outputs compared (default: those both targets declare). */
  outputs: string[];
  embeddings?: ParityModel;
  judge?: ParityModel;
  evaluators: ParityEvaluator[];
  /** Evaluators of the experiment left out (not named in parity.evaluators), each with why. */
  skipped: string[];
  /** Fail (exit 1) when not equivalent within the margin (default true). */
  gate: boolean;
  at: SourceLocation;
}

const KEYS = [
  'baseline',
  'candidate',
  'dataset',
  'margin',
  'margins',
  'alpha',
  'outputs',
  'embeddings',
  'judge',
  'evaluators',
  'gate',
];

/**
 * The parity block of the use case's experiment.yaml (overlays do not change it). `secrets` receives every
 * header value an http target reads from the environment (to mask). `margin` from the command line wins.
 */
export function loadParityConfig(
  useCase: UseCase,
  o: {
    cwd?: string;
    margin?: number;
    secrets?: Set<string>;
    processEnv?: NodeJS.ProcessEnv;
    /** A plan reads no secret: unset header variables are left unresolved instead of failing. */
    listUnset?: boolean;
  } = {},
): ParityConfig {
  const cwd = o.cwd ?? process.cwd();
  const display = (p: string) => path.relative(cwd, p) || '.';
  const source = readSource(useCase.configFile, display(useCase.configFile));
  const top = source.value as Record<string, unknown>;
  const raw = top?.parity;
  const problems: Problem[] = [];
  const at = (p: PathSegment[], part: 'key' | 'value' = 'value') => locate(source, ['parity', ...p], part);
  const add = (p: PathSegment[], message: string, part: 'key' | 'value' = 'value') =>
    problems.push({ ...at(p, part), message: `${['parity', ...p].join('.')}: ${message}` });
  if (raw === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw ConfigError.at(
      raw === undefined ? { file: source.file } : at([]),
      `found ${raw === undefined ? 'no parity block' : describeValue(raw)}, expected parity: {candidate: <flow folder or http target>, margin: <δ>, ...}`,
    );
  const block = raw as Record<string, unknown>;
  for (const key of Object.keys(block))
    if (!KEYS.includes(key)) add([key], `unknown key, expected one of: ${KEYS.join(', ')}`, 'key');

  const loaded = loadEnvironment(findRepositoryRoot(useCase.baseDir), o.processEnv);
  const env = o.listUnset ? { ...loaded, unset: () => true } : loaded;
  const secrets = o.secrets ?? new Set<string>();
  const target = (key: 'baseline' | 'candidate'): FlowRef | undefined => {
    const value = block[key];
    if (value === undefined) {
      if (key === 'baseline') return useCase.flow;
      add([], `has no candidate, expected candidate: <flow folder> or {target: http, url, ...}`, 'key');
      return undefined;
    }
    if (isHttpTargetValue(value))
      return checkHttpTarget(value, {
        source,
        at: ['parity', key],
        file: useCase.configFile,
        baseDir: useCase.baseDir,
        name: `${useCase.name}-${key}`,
        env,
        problems,
        shapeProblems: problems,
        secrets,
      });
    if (typeof value !== 'string' || value === '') {
      add([key], `found ${describeValue(value)}, expected a flow folder or an http target ({target: http, ...})`);
      return undefined;
    }
    try {
      const abs = path.resolve(useCase.baseDir, value);
      const model = loadFlow(abs, { displayBase: cwd });
      return { path: abs, file: model.file, kind: model.kind, model };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const p of e.problems)
        problems.push(p.line === undefined ? { ...at([key]), message: `parity.${key}: ${p.file}: ${p.message}` } : p);
      return undefined;
    }
  };
  const baseline = target('baseline');
  const candidate = target('candidate');

  const datasetName = block.dataset ?? useCase.datasets[0]?.name;
  const dataset = useCase.datasets.find((d) => d.name === datasetName);
  if (!dataset)
    add(
      ['dataset'],
      `found ${describeValue(datasetName)}, expected a dataset of this experiment: ${useCase.datasets.map((d) => d.name).join(', ')}`,
    );
  else if (!dataset.localPath)
    add(['dataset'], `${dataset.name} is an azureml: asset; parity runs on a local dataset file`);

  const margin = o.margin ?? block.margin;
  if (typeof margin !== 'number' || !(margin > 0))
    add(['margin'], `found ${describeValue(margin)}, expected the equivalence margin δ > 0 (e.g. 0.05)`);
  const alpha = block.alpha ?? 0.05;
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 0.5))
    add(['alpha'], `found ${describeValue(alpha)}, expected a level between 0 and 0.5 (default 0.05)`);

  const model = (key: 'embeddings' | 'judge'): ParityModel | undefined => {
    const v = block[key] as Record<string, unknown> | undefined;
    if (v === undefined) return undefined;
    if (!v || typeof v !== 'object' || typeof v.connection !== 'string' || typeof v.deployment !== 'string') {
      add([key], `found ${describeValue(v)}, expected {connection: <name>, deployment: <model>}`);
      return undefined;
    }
    if (!useCase.connections.some((c) => c.name === v.connection))
      add(
        [key, 'connection'],
        `"${v.connection}" is not a connection of this experiment, expected one of: ${useCase.connections.map((c) => c.name).join(', ') || '(none)'}`,
      );
    return { connection: v.connection, deployment: v.deployment };
  };
  const embeddings = model('embeddings');
  const judge = model('judge');

  const evaluators: ParityEvaluator[] = [];
  const skipped: string[] = [];
  const wanted = block.evaluators;
  if (wanted !== undefined && (!Array.isArray(wanted) || wanted.some((w) => typeof w !== 'string')))
    add(['evaluators'], `found ${describeValue(wanted)}, expected a list of evaluator names of this experiment`);
  const names = Array.isArray(wanted) ? (wanted as string[]) : undefined;
  for (const [i, name] of (names ?? useCase.evaluators.map((e) => e.name)).entries()) {
    const ev = useCase.evaluators.find((e) => e.name === name);
    const where: PathSegment[] = ['evaluators', i];
    if (!ev) {
      add(
        where,
        `"${name}" is not an evaluator of this experiment, expected one of: ${useCase.evaluators.map((e) => e.name).join(', ')}`,
      );
      continue;
    }
    // A code-only evaluator (eval_*.py) runs its own target over its data: it has no score for a given run's lines.
    if (ev.code || (!ev.flow && !ev.builtin)) {
      const why = `"${name}" is a code-only evaluator (eval_*.py), which scores a whole run; parity needs a score per line: expected an evaluation flow or a built-in evaluator`;
      if (names) add(where, why);
      else skipped.push(why);
      continue;
    }
    const ds = dataset && ev.datasets.find((d) => d.name === dataset.name || d.reference === dataset.name);
    if (!ds) {
      if (names)
        add(where, `"${name}" scores no lines of ${dataset?.name ?? 'the dataset'}; expected a datasets entry for it`);
      else skipped.push(`"${name}" scores no lines of ${dataset?.name ?? 'the dataset'} (no datasets entry for it)`);
      continue;
    }
    evaluators.push({
      name: ev.name,
      ...(ev.flow ? { flow: ev.flow } : { builtin: ev.builtin }),
      options: ev.options,
      mappings: ds.mappings,
      evaluator: ev,
      dataset: ds,
    });
  }

  const declared = (f?: FlowRef) => Object.keys(f?.model.outputs ?? {});
  let outputs = declared(baseline).filter((n) => declared(candidate).includes(n));
  if (block.outputs !== undefined) {
    if (!Array.isArray(block.outputs) || block.outputs.some((x) => typeof x !== 'string'))
      add(['outputs'], `found ${describeValue(block.outputs)}, expected a list of output names`);
    else {
      outputs = block.outputs as string[];
      for (const [i, n] of outputs.entries())
        for (const [side, f] of [
          ['baseline', baseline],
          ['candidate', candidate],
        ] as const)
          if (f && !declared(f).includes(n))
            add(['outputs', i], `${side} has no output "${n}", expected one of: ${declared(f).join(', ')}`);
    }
  } else if (baseline && candidate && outputs.length === 0)
    add(
      [],
      `the targets share no output name (baseline: ${declared(baseline).join(', ')}; candidate: ${declared(candidate).join(', ')}), expected outputs: [...] naming what to compare`,
      'key',
    );

  const margins = checkMargins(block.margins, evaluators, skipped, useCase, add);

  const gate = block.gate ?? true;
  if (typeof gate !== 'boolean') add(['gate'], `found ${describeValue(gate)}, expected true or false`);

  if (problems.length > 0 || !baseline || !candidate || !dataset) throw new ConfigError(problems);
  return {
    baseline,
    candidate,
    dataset,
    margin: margin as number,
    margins,
    alpha: alpha as number,
    outputs,
    embeddings,
    judge,
    evaluators,
    skipped,
    gate: gate as boolean,
    at: at([]),
  };
}

/** The δ that applies to one evaluator score (`key`: the evaluator's name, or `<evaluator>.<output>`). */
export function marginFor(
  cfg: Pick<ParityConfig, 'margin' | 'margins'>,
  key: string,
  evaluator: string,
): { margin: number; from: string } {
  for (const k of [key, evaluator])
    if (cfg.margins[k] !== undefined) return { margin: cfg.margins[k], from: `parity.margins.${k}` };
  return { margin: cfg.margin, from: 'parity.margin' };
}

/**
 * `parity.margins`: evaluator name (or `<evaluator>.<output>` of an evaluation flow) → δ > 0 on that evaluator's
 * scale. A key naming no compared evaluator is refused: a typo would otherwise leave the default δ in place unseen.
 */
function checkMargins(
  raw: unknown,
  evaluators: ParityEvaluator[],
  skipped: string[],
  useCase: UseCase,
  add: (p: PathSegment[], message: string, part?: 'key' | 'value') => void,
): Record<string, number> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    add(
      ['margins'],
      `found ${describeValue(raw)}, expected a mapping of evaluator name to its δ (e.g. margins: {relevance: 0.5, latency: 50})`,
    );
    return {};
  }
  const valid = evaluators.flatMap((e) => [
    e.name,
    ...(e.flow ? Object.keys(e.flow.model.outputs).map((o) => `${e.name}.${o}`) : []),
  ]);
  const margins: Record<string, number> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const evaluatorName = valid.includes(key) ? key : key.split('.')[0];
    if (!valid.includes(key)) {
      const declared = useCase.evaluators.some((e) => e.name === evaluatorName);
      const left = skipped.some((why) => why.startsWith(`"${evaluatorName}" `));
      const why =
        declared && (left || !evaluators.some((e) => e.name === evaluatorName))
          ? `"${evaluatorName}" is not compared by parity (not in parity.evaluators, or left out: see the reasons)`
          : declared
            ? `"${evaluatorName}" has no output "${key.slice(evaluatorName.length + 1)}"`
            : `"${key}" is not an evaluator of this experiment`;
      add(['margins', key], `${why}, expected one of: ${valid.join(', ') || '(no evaluator compared)'}`, 'key');
      continue;
    }
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      add(['margins', key], `found ${describeValue(value)}, expected ${key}'s equivalence margin δ > 0 on its scale`);
      continue;
    }
    margins[key] = value;
  }
  return margins;
}
