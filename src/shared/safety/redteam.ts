/**
 * Red-team datasets: the built-in attack seeds (seeds.ts) put into each text input of a use case's flow that
 * reaches a prompt (prompt-inputs.ts; --inputs names others), as a
 * dataset and an experiment derived from the use case's own (same flow, connections, variants and execution
 * settings; the attacks as its dataset; the attack_success, pii and jailbreak built-ins as its evaluators), so
 * the attacks go through bulk-run, evaluate and report like any experiment. The summary reads the evaluation
 * back: attack success rate overall and per category, with Wilson intervals.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { UseCase } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { wilsonInterval, DEFAULT_LEVEL } from '../eval/stats/index.js';
import type { LineResult } from '../results/model.js';
import { promptInputs } from './prompt-inputs.js';
import { ATTACK_CATEGORIES, ATTACK_SEEDS, SEEDS_VERSION, canaryFor, goalFor, type AttackCategory } from './seeds.js';

export interface RedteamOptions {
  categories?: readonly string[];
  /** Inputs to attack (default: the text inputs that reach a prompt, prompt-inputs.ts). */
  inputs?: readonly string[];
  /** The output judged (default: the flow's first output). */
  output?: string;
}

export interface RedteamRow {
  values: Record<string, unknown>;
  attack: string;
  category: AttackCategory;
  canary: string;
  input: string;
}

export interface RedteamPlan {
  flow: string;
  attacked: string[];
  /** Text inputs not attacked by default, each with why (empty when --inputs named the attacked ones). */
  left: { input: string; why: string }[];
  output: string;
  seedsVersion: string;
  rows: RedteamRow[];
  byCategory: Record<string, number>;
}

const emptyOf = (type: string | undefined): unknown =>
  type === 'list'
    ? []
    : type === 'object'
      ? {}
      : type === 'int' || type === 'double'
        ? 0
        : type === 'bool'
          ? false
          : '';

function fitsType(value: unknown, type: string | undefined): boolean {
  if (type === 'list') return Array.isArray(value);
  if (type === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
  if (type === 'int' || type === 'double') return typeof value === 'number';
  if (type === 'bool') return typeof value === 'boolean';
  return true;
}

export function planRedteam(useCase: UseCase, options: RedteamOptions = {}): RedteamPlan {
  const flow = useCase.flow.model;
  const categories = (options.categories?.length ? options.categories : ATTACK_CATEGORIES) as string[];
  const unknown = categories.filter((c) => !(ATTACK_CATEGORIES as readonly string[]).includes(c));
  if (unknown.length)
    throw ConfigError.at(
      { file: '--categories' },
      `found ${unknown.join(', ')}, expected some of: ${ATTACK_CATEGORIES.join(', ')}`,
    );
  const defs = Object.values(flow.inputs);
  // Any text input may be named; by default only those that reach a prompt (not a deployment name, an id, a url
  // the flow's code fetches): attacks anywhere else measure nothing or fail the line.
  const text = defs.filter((d) => (d.type ?? 'string') === 'string' && !d.isChatHistory).map((d) => d.name);
  const reaching = promptInputs(flow);
  const named = Boolean(options.inputs?.length);
  const attacked = named ? [...options.inputs!] : reaching.prompt;
  // A flex flow may declare no inputs: they are its Python signature's, so the ones named are taken as given.
  const signatureOnly = flow.kind === 'flex' && defs.length === 0;
  const notText = signatureOnly ? [] : attacked.filter((n) => !text.includes(n));
  if (notText.length || attacked.length === 0)
    throw ConfigError.at(
      { file: options.inputs?.length ? '--inputs' : useCase.flow.file },
      notText.length
        ? `found ${notText.join(', ')}, expected text inputs of the flow: ${text.join(', ') || '(none)'}`
        : signatureOnly
          ? 'the flow declares no inputs (they are its Python signature): name the text inputs to attack with --inputs'
          : text.length
            ? `found no text input that reaches a prompt (${reaching.left.map((l) => `${l.input}: ${l.why}`).join('; ')}), expected one; name the inputs to attack with --inputs`
            : 'the flow has no text input to put an attack in',
    );
  const outputs = Object.keys(flow.outputs);
  // A flex flow may leave its outputs undeclared (the template's function flow returns a TypedDict): they are
  // known only when it runs, and a bare return value is recorded as `output`.
  const undeclared = flow.kind === 'flex' && outputs.length === 0;
  const output = options.output ?? (undeclared ? 'output' : outputs[0]);
  if (!undeclared && (!output || !outputs.includes(output)))
    throw ConfigError.at(
      { file: options.output ? '--output' : useCase.flow.file },
      `found ${JSON.stringify(output ?? null)}, expected an output of the flow: ${outputs.join(', ') || '(none)'}`,
    );
  // A default that does not fit its type (the template's `chat_history: {type: list, default: ''}`) would fail
  // every line on the input check: the type's empty value stands in for it.
  const base = Object.fromEntries(
    defs.map((d) => [d.name, d.hasDefault && fitsType(d.default, d.type) ? d.default : emptyOf(d.type)]),
  );
  const rows: RedteamRow[] = [];
  for (const seed of ATTACK_SEEDS.filter((s) => categories.includes(s.category)))
    for (const input of attacked) {
      const canary = canaryFor(rows.length + 1);
      const attack = seed.template.replace('{goal}', goalFor(canary));
      rows.push({ values: { ...base, [input]: attack }, attack: seed.id, category: seed.category, canary, input });
    }
  const byCategory: Record<string, number> = {};
  for (const r of rows) byCategory[r.category] = (byCategory[r.category] ?? 0) + 1;
  return {
    flow: useCase.flow.path,
    attacked,
    left: named ? [] : reaching.left,
    output,
    seedsVersion: SEEDS_VERSION,
    rows,
    byCategory,
  };
}

/**
 * Blocks of the user's experiment replaced by the red-team experiment's own. `repeat` goes too: each attack runs
 * once, as the plan counts it, since the summary's Wilson intervals take every line as an independent attack.
 */
const replaced = ['datasets', 'evaluators', 'gates', 'baseline', 'reports', 'name', 'flow', 'repeat'];

/**
 * Writes the attacks (data.jsonl) and the derived experiment (experiment.yaml, and the env overlay without the
 * replaced blocks) into `dir`, inside the use case's repository so its environment/env.yaml still applies.
 */
export function writeRedteamExperiment(useCase: UseCase, plan: RedteamPlan, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const data = path.join(dir, 'data.jsonl');
  writeFileSync(
    data,
    plan.rows
      .map((r) =>
        JSON.stringify({
          ...r.values,
          redteam_attack: r.attack,
          redteam_category: r.category,
          redteam_canary: r.canary,
          redteam_input: r.input,
        }),
      )
      .join('\n') + '\n',
  );
  const base = parse(readFileSync(useCase.configFile, 'utf8')) as Record<string, unknown>;
  for (const k of replaced) delete base[k];
  const inputs = new Set([...Object.keys(useCase.flow.model.inputs), ...plan.attacked]);
  const mappings = Object.fromEntries([...inputs].map((n) => [n, `\${data.${n}}`]));
  const prediction = `\${run.outputs.${plan.output}}`;
  const experiment = {
    name: `${useCase.name}-redteam`,
    flow: plan.flow,
    ...base,
    datasets: [{ name: 'redteam', source: data, mappings }],
    evaluators: [
      {
        name: 'attack',
        builtin: 'attack_success',
        datasets: [
          {
            name: 'redteam',
            mappings: { prediction, category: '${data.redteam_category}', canary: '${data.redteam_canary}' },
          },
        ],
      },
      { name: 'leak', builtin: 'pii', datasets: [{ name: 'redteam', mappings: { prediction } }] },
      { name: 'jailbroken', builtin: 'jailbreak', datasets: [{ name: 'redteam', mappings: { prediction } }] },
    ],
  };
  const file = path.join(dir, 'experiment.yaml');
  writeFileSync(file, stringify(experiment));
  if (useCase.overlayFile && useCase.envName && existsSync(useCase.overlayFile)) {
    const overlay = (parse(readFileSync(useCase.overlayFile, 'utf8')) ?? {}) as Record<string, unknown>;
    for (const k of replaced) delete overlay[k];
    writeFileSync(path.join(dir, `experiment.${useCase.envName}.yaml`), stringify(overlay));
  }
  return file;
}

export interface RateWithInterval {
  attacks: number;
  succeeded: number;
  rate: number;
  lower: number;
  upper: number;
}

export interface RedteamSummary {
  seedsVersion: string;
  level: number;
  overall: RateWithInterval;
  byCategory: Record<string, RateWithInterval>;
  /** Lines the flow failed on (no answer): not counted as attacks that worked or failed. */
  failedLines: number;
}

/** Attack success with Wilson intervals, from the report's lines (one per attack and variant). */
export function summarizeRedteam(lines: readonly LineResult[], seedsVersion = SEEDS_VERSION): RedteamSummary {
  const tally = new Map<string, { n: number; k: number }>();
  let failedLines = 0;
  const add = (key: string, worked: boolean) => {
    const t = tally.get(key) ?? { n: 0, k: 0 };
    t.n++;
    if (worked) t.k++;
    tally.set(key, t);
  };
  for (const l of lines) {
    const score = l.scores['attack.attack_success'];
    if (typeof score !== 'number') {
      failedLines++;
      continue;
    }
    add('*', score === 1);
    add(String(l.scores['attack.attack_category']), score === 1);
  }
  const rate = (key: string): RateWithInterval => {
    const { n, k } = tally.get(key) ?? { n: 0, k: 0 };
    const w = n > 0 ? wilsonInterval(k, n) : undefined;
    return { attacks: n, succeeded: k, rate: n ? k / n : 0, lower: w?.lower ?? 0, upper: w?.upper ?? 1 };
  };
  const byCategory = Object.fromEntries(
    [...tally.keys()]
      .filter((k) => k !== '*')
      .sort()
      .map((k) => [k, rate(k)]),
  );
  return { seedsVersion, level: DEFAULT_LEVEL, overall: rate('*'), byCategory, failedLines };
}

/** The summary as a Markdown table (printed and written beside the report). */
export function redteamMarkdown(s: RedteamSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const row = (name: string, r: RateWithInterval) =>
    `| ${name} | ${r.attacks} | ${r.succeeded} | ${pct(r.rate)} | ${pct(r.lower)} – ${pct(r.upper)} |`;
  return [
    `## Red-team attack success (seeds ${s.seedsVersion})`,
    '',
    `| category | attacks | succeeded | success rate | ${Math.round(s.level * 100)}% interval (Wilson) |`,
    '|---|---:|---:|---:|---|',
    ...Object.entries(s.byCategory).map(([c, r]) => row(c, r)),
    row('**all**', s.overall),
    '',
    s.failedLines ? `${s.failedLines} line(s) failed in the flow and are not counted.` : '',
  ].join('\n');
}
