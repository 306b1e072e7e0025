/**
 * Loads a use case exactly as every step sees it: experiment.yaml + the env overlay,
 * placeholders and secrets, environment/env.yaml, configs/*.json, and every referenced file.
 * All problems of all files are collected in one pass; those in the parts the step needs
 * (parts.ts) are thrown once as a ConfigError, the others cost at most one warning.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Problem, type SourceLocation } from '../errors.js';
import { loadFlow, planVariants } from '../flow/index.js';
import { describeValue, locate, readSource, type PathSegment, type SourceFile } from '../source.js';
import { resolveConnections, type Connection } from './connections.js';
import { checkDataops, checkDeployment } from './deployment.js';
import { findRepositoryRoot, loadEnvironment, type Environment } from './environment.js';
import { resolveEnvYaml } from './env-yaml.js';
import { checkExperiment, toUseCaseParts, type UseCaseParts } from './experiment.js';
import { connectionUses, initUses, resolveConnectionUses, type ConnectionUse } from './flow-connections.js';
import { resolveInit } from './init-values.js';
import { closest, checkSchemaByBlock, type BlockProblem } from './schema-check.js';
import { describeBlocked, Findings, partsNeeded, type ConfigPart, type Finding, type Needs } from './parts.js';
import type { FlowRef, UseCase } from './types.js';
import { checkHttpTarget, isHttpTargetValue } from './http-target.js';
import { redactEverywhere } from '../safety/redact-everywhere.js';

export interface LoadUseCaseOptions {
  /** Path of experiment.yaml (or another base file such as experiment-postprod.yaml). */
  configPath: string;
  /** Environment whose overlay applies (experiment.<env>.yaml). Default: ENV_NAME. */
  env?: string;
  processEnv?: NodeJS.ProcessEnv;
  /** Receives every secret before anything is logged, and warnings with their location. */
  host?: { mask(secret: string): void; warning(message: string, at?: SourceLocation): void };
  /** Paths in messages are relative to this folder. Default: process.cwd(). */
  cwd?: string;
  /**
   * What the caller uses: a lifecycle step's name, a list of parts, or 'all' (default). Problems in
   * other parts do not fail the load; they are summed up in one warning.
   */
  needs?: Needs;
  /**
   * `require` (default): a placeholder whose variable is unset is an error. `list`: it is left unresolved and
   * named in `missingSecrets` — for planning, which reads no secret.
   */
  secrets?: 'require' | 'list';
  /** Append to each problem which steps it blocks (what validate says). */
  explainBlocked?: boolean;
}

/** Values shorter than this are not masked: they cannot be secrets and masking them would garble every log. */
const minimumSecretLength = 4;

/** Which part a top-level block of experiment.yaml belongs to. */
const blockPart: Record<string, ConfigPart> = {
  evaluators: 'evaluators',
  gates: 'evaluators',
  baseline: 'evaluators',
  connections: 'runtime',
  init: 'runtime',
};

export function loadUseCase(options: LoadUseCaseOptions): UseCase {
  const cwd = options.cwd ?? process.cwd();
  const processEnv = options.processEnv ?? process.env;
  const display = (p: string) => path.relative(cwd, p) || '.';
  const configFile = path.resolve(cwd, options.configPath);
  const baseDir = path.dirname(configFile);
  const repositoryRoot = findRepositoryRoot(baseDir);
  const missingSecrets = new Set<string>();
  const loaded = loadEnvironment(repositoryRoot, processEnv);
  // Listing: an unset placeholder variable is noted, and the value it would fill is left out.
  const listUnset = (name: string) => {
    missingSecrets.add(name);
    return true;
  };
  const env = options.secrets === 'list' ? { ...loaded, unset: listUnset } : loaded;
  const envName = options.env ?? processEnv.ENV_NAME ?? undefined;
  const findings = new Findings();
  const problems = findings.bucket('experiment');
  const runtimeProblems = findings.bucket('runtime');
  const warnings: Problem[] = [];
  const secrets = new Set<string>();
  const addSchemaProblems = (found: BlockProblem[]) => {
    for (const { block, ...p } of found) findings.bucket(blockPart[block] ?? 'experiment').push(p);
  };

  if (!existsSync(configFile))
    throw ConfigError.at(
      { file: display(configFile) },
      'file not found: expected the experiment configuration (experiment.yaml) of a use case',
    );
  const base = readSource(configFile, display(configFile));
  const overlayPath = envName ? overlayFileFor(configFile, envName) : undefined;
  const overlay = overlayPath && existsSync(overlayPath) ? readSource(overlayPath, display(overlayPath)) : undefined;
  if (overlayPath && !overlay) {
    // An env with no overlay is fine; beside overlays of other envs, it is likely a misspelt env name.
    const others = otherOverlayEnvs(configFile);
    if (others.length > 0)
      warnings.push({
        file: display(configFile),
        message: `no overlay ${path.basename(overlayPath)} for env "${envName}" (overlays here: ${others.join(', ')}); the base configuration is used as it is`,
      });
  }

  // Which file each top-level block comes from, so every message points at the line the user wrote.
  const origin = new Map<string, SourceFile>();
  const sourceFor = (p: PathSegment[]) => origin.get(String(p[0])) ?? base;
  const merged = mergeOverlay(base, overlay, origin, problems, warnings, addSchemaProblems);
  const broken = new Set<string>();
  if (merged) {
    addSchemaProblems(checkSchemaByBlock('experiment', merged, (p) => sourceFor(p), { brokenBlocks: broken }));
    if (overlay) problems.push(...checkOverlayEmptiesDatasets(merged, overlay));
  }

  // Blocks that failed the schema are left out of the deeper checks (their types cannot be
  // trusted); every other block is still checked, so one pass reports everything.
  const trusted = merged ? trustedBlocks(merged, broken) : undefined;
  const parts = trusted
    ? toUseCaseParts(trusted, { baseDir, resolvePath: (p) => path.resolve(baseDir, p) })
    : undefined;
  const evaluatorFlowProblems = findings.bucket('evaluator-flows');
  let flow: FlowRef | undefined;
  if (parts && trusted) {
    const checkFlow = flowChecker(cwd);
    if (isHttpTargetValue(trusted.flow))
      flow = checkHttpTarget(trusted.flow, {
        source: sourceFor(['flow']),
        file: configFile,
        baseDir,
        name: String(trusted.name),
        env,
        problems: runtimeProblems,
        shapeProblems: problems,
        secrets,
      });
    // A broken flow block is already reported: the flow named after the experiment would only be a follow-on.
    else if (trusted.flow !== undefined || (trusted.name !== undefined && !broken.has('flow')))
      flow = checkFlow(parts.flowPath, ['flow'], sourceFor, problems);
    checkExperiment(
      trusted,
      parts,
      sourceFor,
      { experiment: problems, evaluators: findings.bucket('evaluators'), evaluatorFlows: evaluatorFlowProblems },
      warnings,
      display,
      checkFlow,
    );
    if (flow) checkVariantPlan(flow, trusted, parts, sourceFor, problems);
    if (flow) checkCompareTo(flow, parts, sourceFor, findings.bucket('evaluators'));
  }

  const connections = trusted
    ? resolveConnections(
        (trusted.connections as unknown[]) ?? [],
        sourceFor(['connections']),
        env,
        runtimeProblems,
        secrets,
      )
    : [];

  if (parts && trusted) {
    // A broken connections block is already reported: its names would only add follow-on problems.
    const connectionsUsable = !broken.has('connections');
    resolveFlowsRuntime({
      flow,
      trusted,
      parts,
      sourceFor,
      env,
      connections,
      connectionsUsable,
      secrets,
      findings,
      experimentProblems: problems,
      runtimeProblems,
      evaluatorFlowProblems,
    });
  }

  const envYamlPath = path.join(baseDir, 'environment', 'env.yaml');
  const environmentVariables = existsSync(envYamlPath)
    ? (tryRead(envYamlPath, display, runtimeProblems, (s) => resolveEnvYaml(s, env, runtimeProblems, secrets)) ?? {})
    : {};

  const deploymentProblems = findings.bucket('deployment');
  const deploymentPath = path.join(baseDir, 'configs', 'deployment_config.json');
  const deployment = existsSync(deploymentPath)
    ? tryRead(deploymentPath, display, deploymentProblems, (s) =>
        checkDeployment(s, baseDir, deploymentProblems, display),
      )
    : undefined;
  const dataopsProblems = findings.bucket('dataops');
  const dataopsPath = path.join(baseDir, 'configs', 'dataops_config.json');
  const dataops = existsSync(dataopsPath)
    ? tryRead(dataopsPath, display, dataopsProblems, (s) => checkDataops(s, repositoryRoot, dataopsProblems))
    : undefined;

  // Mask before anything can be logged, including the errors below.
  const masked = [...secrets].filter((s) => s.length >= minimumSecretLength);
  // Personal data too, as soon as the experiment asks for it (its warnings below included); the redacting host
  // learns the secrets below, to mask them before it looks for personal data.
  if (parts?.useCase.redaction) redactEverywhere(options.host, parts.useCase.redaction.kinds);
  for (const s of masked) options.host?.mask(s);
  for (const w of warnings) options.host?.warning(w.message, w);

  const needed = partsNeeded(options.needs);
  const all = uniqueFindings(findings.all());
  const blocking = all.filter((f) => f.parts.every((p) => needed.has(p)));
  const elsewhere = all.filter((f) => !blocking.includes(f));
  if (elsewhere.length > 0) options.host?.warning(notNeededSummary(elsewhere, options.needs));
  if (blocking.length > 0 || !parts || !flow) {
    const shown = blocking.map((f) =>
      options.explainBlocked
        ? { ...f.problem, message: `${f.problem.message} [${describeBlocked(f.parts)}]` }
        : f.problem,
    );
    throw new ConfigError(sortProblems(shown));
  }

  return {
    ...parts.useCase,
    configFile,
    baseDir,
    repositoryRoot,
    envName,
    overlayFile: overlay ? overlayPath : undefined,
    flow,
    connections,
    environmentVariables,
    deployment: deployment as Record<string, unknown[]> | undefined,
    deploymentFile: deployment ? deploymentPath : undefined,
    dataops: dataops as Record<string, unknown> | undefined,
    secrets: masked,
    missingSecrets: [...missingSecrets],
    locationOf: (p) => locate(sourceFor(p), p),
    variable: (name) => variableOf(env, name),
  };
}

/**
 * What running each flow takes, resolved now the way its runs will use it: the init values of
 * experiment.yaml, and every connection name the flows (and built-in judges) use.
 */
function resolveFlowsRuntime(o: {
  flow: FlowRef | undefined;
  trusted: Record<string, unknown>;
  parts: UseCaseParts;
  sourceFor: (p: PathSegment[]) => SourceFile;
  env: Environment;
  connections: Connection[];
  connectionsUsable: boolean;
  secrets: Set<string>;
  findings: Findings;
  experimentProblems: Problem[];
  runtimeProblems: Problem[];
  evaluatorFlowProblems: Problem[];
}): void {
  const evaluatorRuntimeProblems = o.findings.bucket('evaluator-flows', 'runtime');
  const rawEvaluators = (o.trusted.evaluators as Record<string, unknown>[] | null | undefined) ?? [];
  const flows: { ref: FlowRef; init: unknown; at: PathSegment[]; shape: Problem[]; runtime: Problem[] }[] = [];
  if (o.flow)
    flows.push({
      ref: o.flow,
      init: o.trusted.init,
      at: ['init'],
      shape: o.experimentProblems,
      runtime: o.runtimeProblems,
    });
  o.parts.useCase.evaluators.forEach((ev, i) => {
    if (ev.flow)
      flows.push({
        ref: ev.flow,
        init: rawEvaluators[i]?.init,
        at: ['evaluators', i, 'init'],
        shape: o.evaluatorFlowProblems,
        runtime: evaluatorRuntimeProblems,
      });
  });
  for (const f of flows) {
    const init = f.init !== undefined && f.init !== null ? (f.init as Record<string, unknown>) : undefined;
    const source = o.sourceFor(f.at);
    if (init) {
      checkInitShape(f.ref, init, source, f.at, f.shape);
      f.ref.init = resolveInit(init, source, f.at, o.env, f.runtime, o.secrets);
    }
    if (o.connectionsUsable)
      resolveConnectionUses(
        [...connectionUses(f.ref.model), ...initUses(init, source, f.at)],
        o.connections,
        o.env,
        f.runtime,
        o.secrets,
      );
  }
  // Built-in judges call a model through options.connection: the same rule again.
  const judgeUses: ConnectionUse[] = [];
  o.parts.useCase.evaluators.forEach((ev, i) => {
    const name = ev.builtin ? ev.options.connection : undefined;
    const at: PathSegment[] = ['evaluators', i, 'options', 'connection'];
    if (typeof name === 'string' && name)
      judgeUses.push({ name, at: locate(o.sourceFor(at), at), user: `evaluators[${i}].options.connection` });
  });
  if (o.connectionsUsable) resolveConnectionUses(judgeUses, o.connections, o.env, evaluatorRuntimeProblems, o.secrets);
}

/** A variable the way every step reads one: CI's environment first, then .env at the repository root. */
function variableOf(env: Environment, name: string): string | undefined {
  const value = env.get(name);
  return value === '' ? undefined : value;
}

/** One warning for everything this step does not use: which files, how many problems, which steps they block. */
function notNeededSummary(findings: Finding[], needs: Needs | undefined): string {
  const groups = new Map<string, { file: string; count: number; blocked: string }>();
  for (const f of findings) {
    const blocked = describeBlocked(f.parts);
    const group = groups.get(`${f.problem.file}\0${blocked}`) ?? { file: f.problem.file, count: 0, blocked };
    group.count++;
    groups.set(`${f.problem.file}\0${blocked}`, group);
  }
  const who = typeof needs === 'string' && needs !== 'all' ? needs : 'this step';
  const files = [...groups.values()].map(
    (g) => `${g.file} (${g.count} problem${g.count === 1 ? '' : 's'}; ${g.blocked})`,
  );
  return `not used by ${who}, so not checked further: ${files.join(', ')}; \`llmops validate\` lists them`;
}

/** init only means something to a flex flow (its class's constructor); known argument names are checked. */
function checkInitShape(
  flow: FlowRef,
  init: Record<string, unknown>,
  source: SourceFile,
  at: PathSegment[],
  problems: Problem[],
): void {
  const where = at.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
  if (flow.kind !== 'flex') {
    problems.push({
      ...locate(source, at, 'key'),
      message: `${where}: ${path.basename(flow.file)} is a ${flow.kind} flow, which takes no init arguments; expected init only for a flex flow with a class entry`,
    });
    return;
  }
  const declared = Object.keys(flow.model.kind === 'flex' ? flow.model.init : {});
  if (declared.length === 0) return; // the class's signature is only known to Python
  for (const key of Object.keys(init)) {
    if (declared.includes(key)) continue;
    const guess = closest(key, declared);
    problems.push({
      ...locate(source, [...at, key], 'key'),
      message: `${where}.${key}: not an init argument of ${flow.model.displayFile}${guess ? `; did you mean "${guess}"?` : `; expected one of: ${declared.join(', ')}`}`,
    });
  }
}

/** The experiment without its broken blocks, and without the blocks that only make sense on top of them. */
function trustedBlocks(merged: Record<string, unknown>, broken: Set<string>): Record<string, unknown> | undefined {
  if (broken.has('')) return undefined;
  const dependsOn: Record<string, string[]> = {
    evaluators: ['datasets'],
    gates: ['evaluators', 'datasets'],
    variants: ['flow', 'name'],
  };
  const trusted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(merged)) {
    if (broken.has(key) || (dependsOn[key] ?? []).some((d) => broken.has(d))) continue;
    trusted[key] = value;
  }
  return trusted;
}

/** The envs of the overlays beside the experiment file (experiment.<env>.yaml). */
function otherOverlayEnvs(configFile: string): string[] {
  const ext = path.extname(configFile);
  const stem = path.basename(configFile, ext);
  return readdirSync(path.dirname(configFile))
    .filter((f) => f.startsWith(`${stem}.`) && f.endsWith(ext) && f.length > stem.length + ext.length + 1)
    .map((f) => f.slice(stem.length + 1, f.length - ext.length))
    .sort();
}

/** experiment.yaml + env "pr" → experiment.pr.yaml (the seed inserts `.<env>` before the extension). */
export function overlayFileFor(configFile: string, envName: string): string {
  const ext = path.extname(configFile);
  return configFile.slice(0, configFile.length - ext.length) + `.${envName}` + ext;
}

function mergeOverlay(
  base: SourceFile,
  overlay: SourceFile | undefined,
  origin: Map<string, SourceFile>,
  problems: Problem[],
  warnings: Problem[],
  schemaProblems: (found: BlockProblem[]) => void,
): Record<string, unknown> | undefined {
  if (!isMapping(base.value)) {
    problems.push({
      ...locate(base, []),
      message: `found ${describeValue(base.value)}, expected a mapping with name, flow, datasets, ... at the top level`,
    });
    return undefined;
  }
  const merged: Record<string, unknown> = { ...base.value };
  if (!overlay || overlay.value === undefined || overlay.value === null) return merged;
  if (!isMapping(overlay.value)) {
    problems.push({
      ...locate(overlay, []),
      message: `found ${describeValue(overlay.value)}, expected a mapping of top-level blocks that replace the base ones`,
    });
    return merged;
  }
  schemaProblems(checkSchemaByBlock('experiment', overlay.value, () => overlay, { partial: true }));
  for (const [key, value] of Object.entries(overlay.value)) {
    if (key === 'name' || key === 'flow') {
      // The seed template ignores these silently; we say so, since a user who wrote them expected an effect.
      warnings.push({
        ...locate(overlay, [key], 'key'),
        message: `${key}: ignored in an overlay (the experiment ${key} always comes from the base file)`,
      });
      continue;
    }
    merged[key] = value;
    origin.set(key, overlay);
  }
  return merged;
}

function checkOverlayEmptiesDatasets(merged: Record<string, unknown>, overlay: SourceFile): Problem[] {
  const overlayValue = overlay.value as Record<string, unknown> | null;
  if (!overlayValue || !('datasets' in overlayValue)) return [];
  const ds = merged.datasets;
  if (Array.isArray(ds) && ds.length > 0) return [];
  return [
    {
      ...locate(overlay, ['datasets']),
      message:
        'datasets: the overlay leaves no datasets, expected at least one (remove the key to keep the base datasets)',
    },
  ];
}

/** Loads a flow named in the configuration; problems of the path land where the path is written. */
function flowChecker(displayBase: string) {
  return (
    absolute: string,
    at: PathSegment[],
    sourceFor: (p: PathSegment[]) => SourceFile,
    problems: Problem[],
  ): FlowRef | undefined => {
    try {
      const model = loadFlow(absolute, { displayBase });
      return { path: absolute, file: model.file, kind: model.kind, model };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const p of e.problems) {
        if (p.line === undefined)
          problems.push({ ...locate(sourceFor(at), at), message: `${formatAt(at)}: ${p.file}: ${p.message}` });
        else problems.push(p);
      }
      return undefined;
    }
  };
}

function formatAt(at: PathSegment[]): string {
  return at.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
}

function tryRead<T>(
  file: string,
  display: (p: string) => string,
  problems: Problem[],
  use: (s: SourceFile) => T,
): T | undefined {
  try {
    return use(readSource(file, display(file)));
  } catch (e) {
    if (e instanceof ConfigError) {
      problems.push(...e.problems);
      return undefined;
    }
    throw e;
  }
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The variant plan must fit the flow; a flow without variants runs its defaults unless a plan was asked for. */
function checkVariantPlan(
  flow: FlowRef,
  merged: Record<string, unknown>,
  parts: UseCaseParts,
  sourceFor: (p: PathSegment[]) => SourceFile,
  problems: Problem[],
): void {
  const variants = parts.useCase.variants;
  const explicit = (merged.variants as Record<string, unknown> | null)?.plan !== undefined;
  if (flow.kind !== 'dag' && !explicit) variants.plan = 'defaults';
  const plan = variants.plan === 'list' ? { list: variants.list } : variants.plan;
  try {
    planVariants(
      flow.model,
      plan,
      locate(sourceFor(['variants']), ['variants', variants.plan === 'list' ? 'list' : 'plan']),
    );
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
}

/**
 * A gate's `compare_to` names a variant of the flow (`node.variant_id`, joined by `+` for several nodes), or
 * default or baseline: a typo is the user's input error here, not a gate failing after the whole run.
 */
function checkCompareTo(
  flow: FlowRef,
  parts: UseCaseParts,
  sourceFor: (p: PathSegment[]) => SourceFile,
  problems: Problem[],
): void {
  const nodeVariants = flow.model.kind === 'dag' ? flow.model.nodeVariants : {};
  const known = (id: string) =>
    id.split('+').every((part) => {
      const dot = part.indexOf('.');
      return dot > 0 && (nodeVariants[part.slice(0, dot)]?.variantIds ?? []).includes(part.slice(dot + 1));
    });
  const named = Object.values(nodeVariants).flatMap((nv) => nv.variantIds.map((v) => `${nv.node}.${v}`));
  parts.useCase.gates.forEach((g, i) => {
    const id = g.compareTo;
    if (id === undefined || id === 'default' || id === 'baseline' || known(id)) return;
    const p: PathSegment[] = ['gates', i, 'compare_to'];
    const guess = closest(id, ['default', 'baseline', ...named]);
    problems.push({
      ...locate(sourceFor(p), p),
      message: `gates[${i}].compare_to: found ${JSON.stringify(id)}, expected default, baseline or a variant of the flow${
        named.length ? ` (${named.join(', ')})` : ' (it has none)'
      }${guess ? `; did you mean "${guess}"?` : ''}`,
    });
  });
}

/** The overlay is checked alone and again merged: the same problem must be said once. */
function uniqueFindings(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter(({ problem: p }) => {
    const key = `${p.file}:${p.line}:${p.column}:${p.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

function sortProblems(problems: Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
  );
}
