/**
 * Loads a use case exactly as every step sees it: experiment.yaml + the env overlay,
 * placeholders and secrets, environment/env.yaml, configs/*.json, and every referenced file.
 * All problems of all files are collected and thrown once as a ConfigError.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Problem, type SourceLocation } from '../errors.js';
import { loadFlow, planVariants } from '../flow/index.js';
import { describeValue, locate, readSource, type PathSegment, type SourceFile } from '../source.js';
import { resolveConnections } from './connections.js';
import { checkDataops, checkDeployment } from './deployment.js';
import { findRepositoryRoot, loadEnvironment } from './environment.js';
import { resolveEnvYaml } from './env-yaml.js';
import { checkExperiment, toUseCaseParts, type UseCaseParts } from './experiment.js';
import { checkSchema } from './schema-check.js';
import type { FlowRef, UseCase } from './types.js';

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
}

/** Values shorter than this are not masked: they cannot be secrets and masking them would garble every log. */
const minimumSecretLength = 4;

export function loadUseCase(options: LoadUseCaseOptions): UseCase {
  const cwd = options.cwd ?? process.cwd();
  const processEnv = options.processEnv ?? process.env;
  const display = (p: string) => path.relative(cwd, p) || '.';
  const configFile = path.resolve(cwd, options.configPath);
  const baseDir = path.dirname(configFile);
  const repositoryRoot = findRepositoryRoot(baseDir);
  const env = loadEnvironment(repositoryRoot, processEnv);
  const envName = options.env ?? processEnv.ENV_NAME ?? undefined;
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const secrets = new Set<string>();

  if (!existsSync(configFile)) throw ConfigError.at({ file: display(configFile) }, 'file not found: expected the experiment configuration (experiment.yaml) of a use case');
  const base = readSource(configFile, display(configFile));
  const overlayPath = envName ? overlayFileFor(configFile, envName) : undefined;
  const overlay = overlayPath && existsSync(overlayPath) ? readSource(overlayPath, display(overlayPath)) : undefined;

  // Which file each top-level block comes from, so every message points at the line the user wrote.
  const origin = new Map<string, SourceFile>();
  const sourceFor = (p: PathSegment[]) => origin.get(String(p[0])) ?? base;
  const merged = mergeOverlay(base, overlay, origin, problems, warnings);
  const broken = new Set<string>();
  if (merged) {
    problems.push(...checkSchema('experiment', merged, (p) => sourceFor(p), { brokenBlocks: broken }));
    if (overlay) problems.push(...checkOverlayEmptiesDatasets(merged, overlay));
  }

  // Blocks that failed the schema are left out of the deeper checks (their types cannot be
  // trusted); every other block is still checked, so one pass reports everything.
  const trusted = merged ? trustedBlocks(merged, broken) : undefined;
  const parts = trusted ? toUseCaseParts(trusted, { baseDir, resolvePath: (p) => path.resolve(baseDir, p) }) : undefined;
  let flow: FlowRef | undefined;
  if (parts && trusted) {
    const checkFlow = flowChecker(cwd);
    if (trusted.flow !== undefined || trusted.name !== undefined) flow = checkFlow(parts.flowPath, ['flow'], sourceFor, problems);
    checkExperiment(trusted, parts, sourceFor, problems, warnings, display, checkFlow);
    if (flow) checkVariantPlan(flow, trusted, parts, sourceFor, problems);
  }

  const connections = trusted
    ? resolveConnections((trusted.connections as unknown[]) ?? [], sourceFor(['connections']), env, problems, secrets)
    : [];

  const envYamlPath = path.join(baseDir, 'environment', 'env.yaml');
  const environmentVariables = existsSync(envYamlPath) ? tryRead(envYamlPath, display, problems, (s) => resolveEnvYaml(s, env, problems, secrets)) ?? {} : {};

  const deploymentPath = path.join(baseDir, 'configs', 'deployment_config.json');
  const deployment = existsSync(deploymentPath) ? tryRead(deploymentPath, display, problems, (s) => checkDeployment(s, baseDir, problems, display)) : undefined;
  const dataopsPath = path.join(baseDir, 'configs', 'dataops_config.json');
  const dataops = existsSync(dataopsPath) ? tryRead(dataopsPath, display, problems, (s) => checkDataops(s, repositoryRoot, problems)) : undefined;

  // Mask before anything can be logged, including the errors below.
  const masked = [...secrets].filter((s) => s.length >= minimumSecretLength);
  for (const s of masked) options.host?.mask(s);
  for (const w of warnings) options.host?.warning(w.message, w);
  if (problems.length > 0 || !parts || !flow) throw new ConfigError(sortProblems(unique(problems)));

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
    locationOf: (p) => locate(sourceFor(p), p),
  };
}

/** The experiment without its broken blocks, and without the blocks that only make sense on top of them. */
function trustedBlocks(merged: Record<string, unknown>, broken: Set<string>): Record<string, unknown> | undefined {
  if (broken.has('')) return undefined;
  const dependsOn: Record<string, string[]> = { evaluators: ['datasets'], gates: ['evaluators', 'datasets'], variants: ['flow', 'name'] };
  const trusted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(merged)) {
    if (broken.has(key) || (dependsOn[key] ?? []).some((d) => broken.has(d))) continue;
    trusted[key] = value;
  }
  return trusted;
}

/** experiment.yaml + env "pr" → experiment.pr.yaml (the seed inserts `.<env>` before the extension). */
export function overlayFileFor(configFile: string, envName: string): string {
  const ext = path.extname(configFile);
  return configFile.slice(0, configFile.length - ext.length) + `.${envName}` + ext;
}

function mergeOverlay(base: SourceFile, overlay: SourceFile | undefined, origin: Map<string, SourceFile>, problems: Problem[], warnings: Problem[]): Record<string, unknown> | undefined {
  if (!isMapping(base.value)) {
    problems.push({ ...locate(base, []), message: `found ${describeValue(base.value)}, expected a mapping with name, flow, datasets, ... at the top level` });
    return undefined;
  }
  const merged: Record<string, unknown> = { ...base.value };
  if (!overlay || overlay.value === undefined || overlay.value === null) return merged;
  if (!isMapping(overlay.value)) {
    problems.push({ ...locate(overlay, []), message: `found ${describeValue(overlay.value)}, expected a mapping of top-level blocks that replace the base ones` });
    return merged;
  }
  problems.push(...checkSchema('experiment', overlay.value, () => overlay, { partial: true }));
  for (const [key, value] of Object.entries(overlay.value)) {
    if (key === 'name' || key === 'flow') {
      // The seed template ignores these silently; we say so, since a user who wrote them expected an effect.
      warnings.push({ ...locate(overlay, [key], 'key'), message: `${key}: ignored in an overlay (the experiment ${key} always comes from the base file)` });
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
  return [{ ...locate(overlay, ['datasets']), message: 'datasets: the overlay leaves no datasets, expected at least one (remove the key to keep the base datasets)' }];
}

/** Loads a flow named in the configuration; problems of the path land where the path is written. */
function flowChecker(displayBase: string) {
  return (absolute: string, at: PathSegment[], sourceFor: (p: PathSegment[]) => SourceFile, problems: Problem[]): FlowRef | undefined => {
    try {
      const model = loadFlow(absolute, { displayBase });
      return { path: absolute, file: model.file, kind: model.kind, model };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const p of e.problems) {
        if (p.line === undefined) problems.push({ ...locate(sourceFor(at), at), message: `${formatAt(at)}: ${p.file}: ${p.message}` });
        else problems.push(p);
      }
      return undefined;
    }
  };
}

function formatAt(at: PathSegment[]): string {
  return at.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
}

function tryRead<T>(file: string, display: (p: string) => string, problems: Problem[], use: (s: SourceFile) => T): T | undefined {
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
function checkVariantPlan(flow: FlowRef, merged: Record<string, unknown>, parts: UseCaseParts, sourceFor: (p: PathSegment[]) => SourceFile, problems: Problem[]): void {
  const variants = parts.useCase.variants;
  const explicit = (merged.variants as Record<string, unknown> | null)?.plan !== undefined;
  if (flow.kind !== 'dag' && !explicit) variants.plan = 'defaults';
  const plan = variants.plan === 'list' ? { list: variants.list } : variants.plan;
  try {
    planVariants(flow.model, plan, locate(sourceFor(['variants']), ['variants', variants.plan === 'list' ? 'list' : 'plan']));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
}

/** The overlay is checked alone and again merged: the same problem must be said once. */
function unique(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.column}:${p.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

function sortProblems(problems: Problem[]): Problem[] {
  return [...problems].sort((a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}
