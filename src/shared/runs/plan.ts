/**
 * The experiment plan as data: which standard runs a bulk-run makes (flow, variant, dataset, data file, line
 * count, run id), which evaluation jobs score which of them, and an estimate of model calls, tokens and cost.
 * It is computed before anything runs, so `--dry-run` can show it and the steps execute the same list.
 * Planning reads the data files (hash, line count, a few sample lines) and the prompt templates; it calls no
 * model and writes nothing.
 * @module
 */
import { createHash } from 'node:crypto';
import { freeRunId as freeId, readableRunId, runStamp as stamp } from './run-id.js';

/** The one run-id scheme lives beside the plan. */
export { readableRunId };
import { createReadStream, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Connection } from '../config/connections.js';
import type { Evaluator, EvaluatorDataset, UseCase, VariantPlanName } from '../config/types.js';
import { buildChatMessages, compileTemplate, type CompiledTemplate } from '../engine/template/index.js';
import { assetPath } from '../assets.js';
import { ConfigError } from '../errors.js';
import {
  applyVariant,
  loadPrompty,
  planVariants,
  type DagFlow,
  type FlowNode,
  type InputAssignment,
  type LoadedFlow,
  type PromptyFlow,
  type VariantPlan,
  type VariantSelection,
} from '../flow/index.js';
import {
  countChatTokens,
  countTextTokens,
  DEFAULT_PRICES,
  estimateCost,
  loadTokenizers,
  type PriceTable,
} from '../llm/index.js';
import { llmJudges } from '../eval/builtin/run-builtin.js';
import { readData, dataFiles, scanData, type DataRow } from './data.js';
import { CompiledMapping, effectiveMapping, type ColumnMapping } from './mapping.js';

/** What a plan's numbers are: per-run totals (calls, tokens, cost) for its lines. Undefined: not known. */
export interface Estimate {
  calls?: number;
  promptTokens?: number;
  /** An upper bound: the call's max_tokens where the prompt sets it, else not counted. */
  completionTokens?: number;
  costUsd?: number;
  /** Models (or deployments) the calls go to. */
  models: string[];
  /** What the estimate leaves out or bounds (activate conditions, flex code, unknown prices...). */
  notes: string[];
}

export interface PlannedRun {
  runId: string;
  /** The flow file, relative to the working directory. */
  flow: string;
  variantId: string;
  selection: VariantSelection;
  isDefault: boolean;
  dataset: string;
  /** The dataset's source as written (`data/x.jsonl` or `azureml:name:version`). */
  source: string;
  /** Absolute path of a local data file or folder. */
  dataFile?: string;
  /** `sha256:<hex>` of the data file(s), in order. */
  dataHash?: string;
  dataBytes?: number;
  lines?: number;
  /** The lines this run covers: [start, end) line numbers. */
  lineRange?: { start: number; end: number };
  estimate: Estimate;
}

export interface PlannedEvaluation {
  runId: string;
  evaluator: string;
  kind: 'flow' | 'builtin' | 'code';
  builtin?: string;
  dataset: string;
  /** The standard dataset whose runs it scores. */
  reference: string;
  dataFile?: string;
  /** The standard run it scores. */
  standardRunId: string;
  variantId: string;
  lines?: number;
  estimate: Estimate;
}

export interface ExperimentPlan {
  version: 1;
  experiment: string;
  env?: string;
  build?: string;
  variantPlan: string;
  runs: PlannedRun[];
  evaluations: PlannedEvaluation[];
  estimate: {
    /** How prompt tokens were counted. */
    method: string;
    sampleLines: number;
    runs: Estimate;
    evaluations: Estimate;
    total: Estimate;
  };
  /** Gates with early_stop: the runs they judge may stop before their last line (the estimate is the most). */
  earlyStop?: { seed: number; alpha: number; minLines: number; gates: string[] };
}

export interface PlanOptions {
  /** Variant plan (default: the experiment's). */
  variants?: VariantPlanName;
  /** Dataset names to run (default: all). */
  datasets?: string[];
  /** CI build id: part of the run ids (default: the current minute). */
  build?: string;
  /** The time a plan without a build id is stamped with. */
  now?: Date;
  /** Lines of each dataset whose prompts are rendered and counted (default 5). */
  sampleLines?: number;
  /**
   * Count tokens and cost (default true). A run that shows no plan skips it: the tokenizers it loads hold about
   * 90 MB for the rest of the process.
   */
  estimate?: boolean;
  prices?: Readonly<PriceTable>;
  /** Runs to plan the evaluations against (evaluate's runs file) instead of the planned standard runs. */
  standardRuns?: LinkableRun[];
  /** True for a run id already used (in the run store): the plan picks the next free one. */
  taken?: (runId: string) => boolean;
}

/** What linking needs of a standard run. */
export interface LinkableRun {
  runId: string;
  dataset: string;
  variantId: string;
  isDefault: boolean;
  lines?: number;
}

/** One evaluation: an evaluator on one of its datasets against one standard run. */
export interface EvaluationLink<R extends LinkableRun> {
  evaluator: Evaluator;
  evaluatorIndex: number;
  dataset: EvaluatorDataset;
  datasetIndex: number;
  run: R;
}

const METHOD =
  "prompt templates rendered with the mapped inputs of the first sample lines and counted with the model's tokenizer; " +
  'values produced by other nodes (or by the run being scored) are not known before running and count as empty; ' +
  "completion tokens are the prompts' max_tokens (an upper bound); " +
  'model calls made by Python code (python nodes, flex flows, code-only evaluators) are not counted';

const NOT_ESTIMATED: LineEstimate = {
  promptTokens: 0,
  completionTokens: 0,
  models: [],
  notes: ['not estimated: --dry-run or --plan-file estimates calls, tokens and cost'],
};

export async function planExperiment(useCase: UseCase, options: PlanOptions = {}): Promise<ExperimentPlan> {
  const estimating = options.estimate !== false;
  if (estimating) await loadTokenizers();
  const sampleLines = estimating ? (options.sampleLines ?? 5) : 0;
  const prices = options.prices ?? DEFAULT_PRICES;
  const variantPlan = resolveVariantPlan(useCase, options.variants);
  const combos = planVariants(useCase.flow.model, variantPlan, useCase.locationOf(['variants']));
  const datasets = options.datasets
    ? useCase.datasets.filter((d) => options.datasets!.includes(d.name))
    : useCase.datasets;
  const when = options.build ?? stamp(options.now ?? new Date());
  const used = new Set<string>();
  const facts = new Map<string, Promise<DataFacts>>();
  const factsOf = (file: string) => {
    if (!facts.has(file)) facts.set(file, dataFacts(file, sampleLines));
    return facts.get(file)!;
  };

  const runs: PlannedRun[] = [];
  for (const dataset of datasets) {
    const data = dataset.localPath ? await factsOf(dataset.localPath) : undefined;
    for (const combo of combos) {
      const flow =
        useCase.flow.model.kind === 'dag' ? applyVariant(useCase.flow.model, combo.selection) : useCase.flow.model;
      const base = readableRunId(useCase.name, combo.id, dataset.name, when, [
        useCase.envName ?? '',
        JSON.stringify(combo.selection),
        data?.hash ?? dataset.source,
      ]);
      const runId = freeId(base, used, options.taken);
      const perLine = estimating
        ? estimateFlowLine(
            flow,
            effectiveMapping(flow.inputs, dataset.mappings),
            data?.sample ?? [],
            {},
            useCase.connections,
            prices,
          )
        : NOT_ESTIMATED;
      runs.push({
        runId,
        flow: path.relative(process.cwd(), useCase.flow.file),
        variantId: combo.id,
        selection: combo.selection,
        isDefault: combo.id === 'default',
        dataset: dataset.name,
        source: dataset.source,
        dataFile: dataset.localPath,
        dataHash: data?.hash,
        dataBytes: data?.bytes,
        lines: data?.lines,
        lineRange: data ? { start: 0, end: data.lines } : undefined,
        // `repeat: K` runs every data line K times.
        estimate: scale(perLine, data ? data.lines * (dataset.repeat ?? 1) : undefined),
      });
    }
  }

  const linkable: LinkableRun[] = options.standardRuns ?? runs;
  const evaluations: PlannedEvaluation[] = [];
  for (const link of linkEvaluations(useCase, linkable)) {
    const { evaluator, dataset, run } = link;
    const data = dataset.localPath ? await factsOf(dataset.localPath) : undefined;
    const lines = run.lines ?? data?.lines;
    const kind = evaluator.flow ? 'flow' : evaluator.code ? 'code' : 'builtin';
    const perLine = estimating
      ? estimateEvaluatorLine(evaluator, dataset, data?.sample ?? [], useCase.connections, prices)
      : NOT_ESTIMATED;
    evaluations.push({
      runId: evaluationRunId(run.runId, evaluator.name),
      evaluator: evaluator.name,
      kind,
      builtin: evaluator.builtin,
      dataset: dataset.name,
      reference: dataset.reference,
      dataFile: dataset.localPath,
      standardRunId: run.runId,
      variantId: run.variantId,
      lines,
      estimate: scale(
        perLine,
        lines === undefined ? undefined : lines * (useCase.datasets.find((d) => d.name === run.dataset)?.repeat ?? 1),
      ),
    });
  }

  const runTotal = sum(runs.map((r) => r.estimate));
  const evalTotal = sum(evaluations.map((e) => e.estimate));
  return {
    version: 1,
    experiment: useCase.name,
    env: useCase.envName,
    build: options.build,
    variantPlan: typeof variantPlan === 'string' ? variantPlan : 'list',
    runs,
    evaluations,
    estimate: {
      method: METHOD,
      sampleLines,
      runs: runTotal,
      evaluations: evalTotal,
      total: sum([runTotal, evalTotal]),
    },
  };
}

export function resolveVariantPlan(useCase: UseCase, override?: VariantPlanName): VariantPlan {
  const name = override ?? useCase.variants.plan;
  return name === 'list' ? { list: useCase.variants.list } : name;
}

/**
 * Evaluator datasets reference standard datasets by name; standard runs carry their dataset's name. A code-only
 * evaluator runs the flow object its own code builds, not a variant: it is joined to the default run only.
 */
export function linkEvaluations<R extends LinkableRun>(useCase: UseCase, runs: readonly R[]): EvaluationLink<R>[] {
  const links: EvaluationLink<R>[] = [];
  useCase.evaluators.forEach((evaluator, evaluatorIndex) => {
    evaluator.datasets.forEach((dataset, datasetIndex) => {
      let matching = runs.filter((r) => r.dataset === dataset.reference);
      if (evaluator.code) matching = matching.filter((r) => r === (matching.find((m) => m.isDefault) ?? matching[0]));
      for (const run of matching) links.push({ evaluator, evaluatorIndex, dataset, datasetIndex, run });
    });
  });
  return links;
}

/** The id of the evaluation run of `evaluator` over a standard run. */
export function evaluationRunId(standardRunId: string, evaluator: string): string {
  return `${standardRunId}.eval.${evaluator}`.slice(0, 200);
}

interface DataFacts {
  hash: string;
  bytes: number;
  lines: number;
  sample: DataRow[];
}

async function dataFacts(file: string, sampleLines: number): Promise<DataFacts> {
  const hash = createHash('sha256');
  let bytes = 0;
  for (const f of dataFiles(file)) {
    bytes += statSync(f).size;
    for await (const chunk of createReadStream(f)) hash.update(chunk as Buffer);
  }
  const { rows } = await scanData(file);
  const sample: DataRow[] = [];
  if (sampleLines > 0) {
    for await (const row of readData(file)) {
      sample.push(row);
      if (sample.length >= sampleLines) break;
    }
  }
  return { hash: `sha256:${hash.digest('hex')}`, bytes, lines: rows, sample };
}

/** The estimate of one line: calls, mean prompt tokens over the sample, completion bound, cost. */
interface LineEstimate {
  calls?: number;
  promptTokens: number;
  completionTokens: number;
  costUsd?: number;
  models: string[];
  notes: string[];
}

/** One model call site of a flow: its template and how its inputs are found. */
interface CallSite {
  name: string;
  template?: CompiledTemplate;
  chat: boolean;
  model?: string;
  maxTokens?: number;
  /** The template variables for one line's flow inputs. */
  variables: (flowInputs: Record<string, unknown>) => Record<string, unknown>;
}

function estimateFlowLine(
  flow: LoadedFlow,
  mapping: ColumnMapping,
  sample: DataRow[],
  runOutputs: Record<string, unknown>,
  connections: readonly Connection[],
  prices: Readonly<PriceTable>,
): LineEstimate {
  if (flow.kind === 'flex') {
    return {
      promptTokens: 0,
      completionTokens: 0,
      models: [],
      notes: [`${flow.displayFile}: a flex flow's model calls are made by its Python code and are not estimated`],
    };
  }
  if (flow.kind === 'http')
    // One request per line; its tokens are whatever the endpoint reports, unknown before it answers.
    return { calls: 1, promptTokens: 0, completionTokens: 0, costUsd: undefined, models: [], notes: [] };
  const notes: string[] = [];
  const sites = flow.kind === 'prompty' ? [promptySite(flow, connections)] : dagSites(flow, notes);
  const compiled = new CompiledMapping(mapping);
  const lines = sample.length ? sample : [{}];
  const inputsOf = (row: DataRow) => {
    const mapped = compiled.apply({ data: row, 'run.outputs': runOutputs, 'run.inputs': row });
    for (const [name, def] of Object.entries(flow.inputs))
      if ((mapped[name] === undefined || mapped[name] === null) && def.hasDefault) mapped[name] = def.default;
    return mapped;
  };
  return combineSites(sites, lines.map(inputsOf), prices, notes);
}

function combineSites(
  sites: CallSite[],
  lineInputs: Record<string, unknown>[],
  prices: Readonly<PriceTable>,
  notes: string[],
): LineEstimate {
  let promptTokens = 0;
  let completionTokens = 0;
  let costUsd: number | undefined = 0;
  const models = new Set<string>();
  for (const site of sites) {
    let tokens = 0;
    for (const inputs of lineInputs) tokens += siteTokens(site, inputs, notes);
    const mean = tokens / lineInputs.length;
    const completion = site.maxTokens ?? 0;
    if (site.maxTokens === undefined) notes.push(`${site.name}: no max_tokens, completion tokens not counted`);
    promptTokens += mean;
    completionTokens += completion;
    if (site.model) models.add(site.model);
    const cost = site.model
      ? estimateCost(site.model, { promptTokens: mean, completionTokens: completion }, prices)
      : undefined;
    if (cost === undefined) {
      if (costUsd !== undefined)
        notes.push(`${site.name}: no price for model ${site.model ?? '(not named in the prompt)'}`);
      costUsd = undefined;
    } else if (costUsd !== undefined) costUsd += cost;
  }
  return { calls: sites.length, promptTokens, completionTokens, costUsd, models: [...models], notes };
}

function siteTokens(site: CallSite, flowInputs: Record<string, unknown>, notes: string[]): number {
  if (!site.template) return 0;
  const vars = site.variables(flowInputs);
  try {
    return site.chat
      ? countChatTokens(buildChatMessages(site.template, vars), site.model)
      : countTextTokens(site.template.render(vars), site.model);
  } catch (e) {
    const note = `${site.name}: the sample did not render (${(e as Error).message.split('\n')[0]}); its template text is counted instead`;
    if (!notes.includes(note)) notes.push(note);
    return countTextTokens(site.template.source, site.model);
  }
}

/** llm nodes (and custom_llm tools with a prompt) of the flow with its variant applied; one call per line each. */
function dagSites(flow: DagFlow, notes: string[]): CallSite[] {
  const sites: CallSite[] = [];
  for (const node of flow.nodes) {
    if (node.type !== 'llm' && node.type !== 'custom_llm') continue;
    if (node.aggregation) {
      notes.push(`${node.name}: an aggregation node calls once per run, not counted per line`);
      continue;
    }
    if (node.activate) notes.push(`${node.name}: has an activate condition, counted on every line (an upper bound)`);
    const templateFile = node.source?.resolvedPath;
    let template: CompiledTemplate | undefined;
    if (templateFile && /\.(jinja2?|j2|txt|md)$/i.test(templateFile))
      template = compileTemplate(readFileSync(templateFile, 'utf8'));
    else notes.push(`${node.name}: no prompt template file, prompt tokens not counted`);
    const model = literalString(node.inputs.model) ?? literalString(node.inputs.deployment_name);
    sites.push({
      name: node.name,
      template,
      chat: (node.api ?? 'chat') === 'chat',
      model,
      maxTokens: literalNumber(node.inputs.max_tokens),
      variables: (inputs) => nodeVariables(node, inputs),
    });
  }
  return sites;
}

function nodeVariables(node: FlowNode, flowInputs: Record<string, unknown>): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(node.inputs)) {
    if (a.kind === 'literal') vars[name] = a.value;
    else if (a.ref.kind === 'flow_input') vars[name] = flowInputs[a.ref.input];
    else vars[name] = ''; // another node's output: not known before running
  }
  return vars;
}

function promptySite(flow: PromptyFlow, connections: readonly Connection[]): CallSite {
  const config = flow.model.configuration;
  const connection =
    typeof config.connection === 'string' ? connections.find((c) => c.name === config.connection) : undefined;
  const model = [config.model, config.azure_deployment, connection?.value.model].find(
    (v): v is string => typeof v === 'string' && v !== '',
  );
  const maxTokens = typeof flow.model.parameters.max_tokens === 'number' ? flow.model.parameters.max_tokens : undefined;
  return {
    name: flow.displayFile,
    template: compileTemplate(flow.template),
    chat: flow.model.api === 'chat',
    model,
    maxTokens,
    variables: (inputs) => inputs,
  };
}

function estimateEvaluatorLine(
  evaluator: Evaluator,
  dataset: EvaluatorDataset,
  sample: DataRow[],
  connections: readonly Connection[],
  prices: Readonly<PriceTable>,
): LineEstimate {
  const none = (note?: string): LineEstimate => ({
    calls: note ? undefined : 0,
    promptTokens: 0,
    completionTokens: 0,
    costUsd: note ? undefined : 0,
    models: [],
    notes: note ? [note] : [],
  });
  if (evaluator.flow)
    return estimateFlowLine(
      evaluator.flow.model,
      effectiveMapping(evaluator.flow.model.inputs, dataset.mappings),
      sample,
      {},
      connections,
      prices,
    );
  if (evaluator.code)
    return none(
      `${evaluator.name}: a code-only evaluator's model calls are made by its Python code and are not estimated`,
    );
  const builtin = evaluator.builtin ?? '';
  if (builtin === 'embedding_similarity') return none(`${evaluator.name}: embedding calls are not estimated`);
  // content_safety is judged by a model when no Content Safety resource is configured (a service call otherwise).
  const judgedSafety =
    builtin === 'content_safety' &&
    !evaluator.options.content_safety_endpoint &&
    !process.env.AZURE_CONTENT_SAFETY_ENDPOINT;
  if (!(llmJudges as readonly string[]).includes(builtin) && !judgedSafety) return none();
  const { connection, deployment } = evaluator.options;
  if (typeof connection !== 'string' || typeof deployment !== 'string')
    return none(`${evaluator.name}: builtin ${builtin} needs options.connection and options.deployment`);
  const type = connections.find((c) => c.name === connection)?.type === 'OpenAIConnection' ? 'openai' : 'azure_openai';
  const judge = loadPrompty(assetPath(`src/shared/eval/judges/${builtin}.prompty`), {
    overrides: {
      model: { configuration: { type, connection, [type === 'openai' ? 'model' : 'azure_deployment']: deployment } },
    },
  });
  return estimateFlowLine(judge, dataset.mappings, sample, {}, connections, prices);
}

function literalString(a: InputAssignment | undefined): string | undefined {
  return a?.kind === 'literal' && typeof a.value === 'string' && a.value !== '' ? a.value : undefined;
}

function literalNumber(a: InputAssignment | undefined): number | undefined {
  return a?.kind === 'literal' && typeof a.value === 'number' ? a.value : undefined;
}

/** A line's estimate times the lines (unknown lines: unknown totals). */
function scale(line: LineEstimate, lines: number | undefined): Estimate {
  const times = (v: number | undefined) => (v === undefined || lines === undefined ? undefined : Math.round(v * lines));
  return {
    calls: times(line.calls),
    promptTokens: times(line.promptTokens),
    completionTokens: times(line.completionTokens),
    costUsd: line.costUsd === undefined || lines === undefined ? undefined : line.costUsd * lines,
    models: line.models,
    notes: line.notes,
  };
}

/** Totals of known parts; a part not known makes the total a lower bound, which the notes say. */
function sum(parts: Estimate[]): Estimate {
  const total: Estimate = { calls: 0, promptTokens: 0, completionTokens: 0, costUsd: 0, models: [], notes: [] };
  const models = new Set<string>();
  let unknown = 0;
  for (const p of parts) {
    total.calls! += p.calls ?? 0;
    total.promptTokens! += p.promptTokens ?? 0;
    total.completionTokens! += p.completionTokens ?? 0;
    total.costUsd! += p.costUsd ?? 0;
    if (p.calls === undefined || p.costUsd === undefined) unknown++;
    for (const m of p.models) models.add(m);
  }
  total.models = [...models];
  if (unknown) total.notes.push(`${unknown} part(s) not fully estimated: the totals are a lower bound`);
  return total;
}

/** One shard's piece of a planned run: the run and the lines [start, end) of it this shard executes. */
export interface ShardPiece {
  runId: string;
  start: number;
  end: number;
}

/** Shard `index` (0-based) of `count`: its pieces, in plan order. */
export interface PlanShard {
  index: number;
  count: number;
  /** Lines in all of its pieces. */
  lines: number;
  pieces: ShardPiece[];
}

/**
 * Cuts all the lines of the plan's runs (runs one after the other, each over its line range) into `count`
 * contiguous shards whose sizes differ by at most one line. Pure: the same plan gives the same shards anywhere,
 * which is what lets shards run as separate jobs into one store. A run of unknown length (a data asset not on
 * this machine) cannot be cut: a ConfigError.
 */
export function shardPlan(plan: Pick<ExperimentPlan, 'runs'>, count: number): PlanShard[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`shard count must be a whole number >= 1: ${count}`);
  const ranges = plan.runs.map((r) => {
    if (!r.lineRange)
      throw ConfigError.at(
        { file: 'input "shard"' },
        `run ${r.runId} reads ${r.source ?? 'a dataset'} whose lines are not known on this machine, expected local data files to cut into shards`,
      );
    return { runId: r.runId, ...r.lineRange };
  });
  const total = ranges.reduce((n, r) => n + (r.end - r.start), 0);
  const shards: PlanShard[] = [];
  // Global line g of the plan belongs to shard k when k = floor(g * count / total) — contiguous and balanced.
  const boundary = (k: number) => Math.ceil((k * total) / count);
  let offset = 0;
  let r = 0;
  for (let k = 0; k < count; k++) {
    const from = boundary(k);
    const to = boundary(k + 1);
    const pieces: ShardPiece[] = [];
    while (r < ranges.length && offset + (ranges[r].end - ranges[r].start) <= from) {
      offset += ranges[r].end - ranges[r].start;
      r++;
    }
    let at = offset;
    for (let j = r; j < ranges.length && at < to; j++) {
      const size = ranges[j].end - ranges[j].start;
      const lo = Math.max(from, at);
      const hi = Math.min(to, at + size);
      if (hi > lo)
        pieces.push({ runId: ranges[j].runId, start: ranges[j].start + lo - at, end: ranges[j].start + hi - at });
      at += size;
    }
    shards.push({ index: k, count, lines: to - from, pieces });
  }
  return shards;
}

/** `i/n` (1-based, as users write it) → shard index 0…n-1 and count. */
export function parseShard(text: string, where: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count)
    throw ConfigError.at({ file: where }, `found ${JSON.stringify(text)}, expected i/n with 1 <= i <= n (e.g. 2/4)`);
  return { index: index - 1, count };
}
