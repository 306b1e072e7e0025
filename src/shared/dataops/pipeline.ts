/**
 * Runs a data pipeline plan: the use case's transformation (the @tool function of prep_data.py, called through
 * the Python worker as a flow's python node is: same interpreter rules, same promptflow stand-in, errors at the
 * user's file and line) reads the source and writes every asset into a staging folder; then each asset is
 * checked as a dataset, published to the target (a file whose content did not change is left untouched), and
 * registered by content hash, which makes a new version only when the content changed.
 *
 * Where the data lives and where versions are kept are small interfaces, so blob storage and Azure ML data
 * assets plug in beside the local folder and registry.
 * @module
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkDataset } from '../data/check.js';
import type { DataRegistry, DatasetVersion } from '../data/registry.js';
import { asLoadError, PythonWorkerPool, readRequirements } from '../engine/python-worker/index.js';
import { ConfigError } from '../errors.js';
import type { DataPipelinePlan } from './plan.js';

/** Where the pipeline reads its input: a local file to hand the transformation. */
export interface DataSource {
  describe(): string;
  fetch(stagingDir: string): Promise<string>;
}

/** Where prepared assets go; `publish` returns false when the target already held that content. */
export interface DataTarget {
  describe(assetPath: string): string;
  publish(stagedFile: string, assetPath: string, hash: string): Promise<boolean>;
}

export class LocalFileSource implements DataSource {
  constructor(private readonly file: string) {}
  describe(): string {
    return this.file;
  }
  async fetch(): Promise<string> {
    return this.file;
  }
}

export class LocalFolderTarget implements DataTarget {
  constructor(private readonly dir: string) {}
  describe(assetPath: string): string {
    return path.join(this.dir, assetPath);
  }
  async publish(stagedFile: string, assetPath: string, hash: string): Promise<boolean> {
    const dest = path.join(this.dir, assetPath);
    if (sha256Of(dest) === hash) return false;
    // Copied beside the destination, then renamed over it: a reader never sees half a file.
    const tmp = `${dest}.${process.pid}.tmp`;
    copyFileSync(stagedFile, tmp);
    renameSync(tmp, dest);
    return true;
  }
}

/** Where asset versions are kept: given the prepared file too, for a registry that stores a copy (Azure ML). */
export interface AssetRegistry {
  registerFile(
    file: string,
    entry: Omit<DatasetVersion, 'version' | 'registeredAt'>,
  ): Promise<DatasetVersion & { created: boolean; asset?: string }>;
}

/** The run store's registry: versions 1, 2, … by content hash; the file itself stays in the target. */
export class LocalAssetRegistry implements AssetRegistry {
  constructor(private readonly registry: DataRegistry) {}
  registerFile(_file: string, entry: Omit<DatasetVersion, 'version' | 'registeredAt'>) {
    return this.registry.register(entry);
  }
}

export interface AssetResult {
  name: string;
  file: string;
  version: string;
  hash: string;
  rows: number;
  /** The target file changed / a new registry version was made. */
  written: boolean;
  registered: boolean;
  /** How a run refers to it, when the registry has such a name (azureml:<name>:<version>). */
  asset?: string;
}

export interface RunDataPipelineOptions {
  source: DataSource;
  target: DataTarget;
  registry: AssetRegistry;
  /** Interpreter of the transformation (execution.python); undefined: LLMOPS_PYTHON, else python3. */
  python?: string;
  display: (p: string) => string;
  log: (line: string) => void;
}

export async function runDataPipeline(plan: DataPipelinePlan, o: RunDataPipelineOptions): Promise<AssetResult[]> {
  const staging = mkdtempSync(path.join(os.tmpdir(), 'llmops-data-pipeline-'));
  try {
    const sourceFile = await o.source.fetch(staging);
    const outDir = path.join(staging, 'out');
    mkdirSync(outDir);
    for (const a of plan.assets) mkdirSync(path.dirname(path.join(outDir, a.path)), { recursive: true });
    o.log(`data-pipeline: ${o.display(plan.script)} on ${o.display(o.source.describe())}`);
    await transform(plan, sourceFile, outDir, o);

    // Every asset checked before any is published: a bad output leaves the target and the registry as they were.
    const checked = [];
    for (const a of plan.assets) {
      const staged = path.join(outDir, a.path);
      const shown = `${o.display(plan.script)} output ${a.path} (DATA_ASSETS ${a.name})`;
      checked.push({ a, staged, check: await checkOutput(staged, shown) });
    }
    const results: AssetResult[] = [];
    for (const { a, staged, check } of checked) {
      const written = await o.target.publish(staged, a.path, check.hash);
      const v = await o.registry.registerFile(staged, {
        name: a.name,
        hash: check.hash,
        rows: check.rows,
        source: o.display(o.target.describe(a.path)),
        description: a.description,
      });
      results.push({
        name: a.name,
        file: o.target.describe(a.path),
        version: v.version,
        hash: v.hash,
        rows: v.rows,
        written,
        registered: v.created,
        ...(v.asset ? { asset: v.asset } : {}),
      });
      o.log(
        `${a.name}: ${check.rows} rows, ${v.asset ?? `version ${v.version}`}${v.created ? ' (new)' : ' (unchanged)'} sha256:${check.hash.slice(0, 12)} → ${o.display(o.target.describe(a.path))}${written ? '' : ' (same content, not rewritten)'}`,
      );
    }
    return results;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function transform(plan: DataPipelinePlan, sourceFile: string, outDir: string, o: RunDataPipelineOptions) {
  const pool = new PythonWorkerPool({ workingDir: plan.codeDir, python: o.python, callTimeoutMs: 0 });
  const subject = `data pipeline ${o.display(plan.script)}`;
  try {
    const r = await pool.call(
      plan.script,
      { source_path: sourceFile, target_dir: outDir, asset_paths: plan.assets.map((a) => a.path) },
      { node: 'prep_data' },
    );
    if (r.stdout) for (const line of r.stdout.trimEnd().split('\n')) o.log(`  ${line}`);
  } catch (err) {
    throw asLoadError(err, {
      subject,
      fallback: { file: o.display(plan.script) },
      requirements: readRequirements(path.join(plan.codeDir, 'requirements.txt')),
    });
  } finally {
    await pool.close();
  }
}

async function checkOutput(file: string, shown: string) {
  if (!existsSync(file))
    throw ConfigError.at(
      { file: shown },
      'was not written by the data preparation code: expected it to write every DATA_ASSETS PATH into target_dir',
    );
  return checkDataset(file, shown, []);
}

/** sha256 (hex) of a file's bytes, as checkDataset hashes a dataset; undefined when it does not exist. */
function sha256Of(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}
