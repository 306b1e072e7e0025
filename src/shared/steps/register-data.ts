/**
 * `register-data`: check every dataset of the use case (standard and evaluation datasets) and
 * version it by content: in the local data registry, or, with `azure:` settings, as Azure ML data
 * assets (azure/data-assets.ts). Output: dataset name → version and hash.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DatastoreContainer } from '../azure/blob.js';
import { planAsset, registerAsset, type AssetToRegister } from '../azure/data-assets.js';
import { azureSettings, hasAzureWorkspace } from '../azure/settings.js';
import type { Dataset, FlowRef, UseCase } from '../config/types.js';
import type { Host } from '../host/host.js';
import { loadUseCase } from '../config/use-case.js';
import { checkDataset, clusterColumn, mappedColumns } from '../data/check.js';
import { LocalDataRegistry } from '../data/registry.js';
import { ConfigError, type Problem } from '../errors.js';
import type { LoadedFlow } from '../flow/model.js';
import { useCaseInputs } from './common-inputs.js';
import type { StepDefinition } from './declare.js';

export interface RegisterDataInputs {
  config: string;
  env?: string;
  store: string;
  outputFile?: string;
  dryRun?: boolean;
}

export interface RegisteredDataset {
  version: string;
  hash: string;
  rows: number;
  created: boolean;
  /** Azure ML: `azureml:<name>:<version>`, the source other experiments can read. */
  asset?: string;
}

export interface RegisterDataOutputs {
  datasets: Record<string, RegisteredDataset>;
}

export const registerDataStep: StepDefinition<RegisterDataInputs, RegisterDataOutputs> = {
  name: 'register-data',
  description:
    'Check every dataset of a use case (readable, mapped columns present in every row) and version it by content hash: in the local data registry, or, with azure settings, as Azure ML data assets uploaded to the workspace datastore.',
  inputs: [
    ...useCaseInputs,
    {
      name: 'store',
      type: 'path',
      default: '.llmops',
      description: 'Run store folder (runs, data registry, LLM cache).',
    },
    { name: 'output-file', type: 'path', description: 'Also write the datasets output (JSON) to this file.' },
    {
      name: 'dry-run',
      type: 'boolean',
      default: 'false',
      description:
        'Check the datasets and show what would be registered (and, with azure settings, uploaded), without changing anything.',
    },
  ],
  outputs: [{ name: 'datasets', description: 'JSON: dataset name → {version, hash, rows, created}.' }],
  async run(inputs, host) {
    const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'register-data' });
    const targets = datasetsToRegister(useCase.datasets, useCase.evaluators, useCase.flow);
    const problems: Problem[] = [];
    const datasets: Record<string, RegisteredDataset> = {};
    const checked = [];
    // Check everything first, register after: a bad dataset leaves the registry untouched.
    for (const t of targets) {
      if (!t.dataset.localPath) {
        host.info(
          `${t.dataset.name}: ${t.dataset.source} is an Azure ML data asset; it is checked when the azure target reads it`,
        );
        continue;
      }
      const display = path.relative(process.cwd(), t.dataset.localPath);
      try {
        checked.push({ t, check: await checkDataset(t.dataset.localPath, display, t.required) });
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        problems.push(...e.problems);
      }
    }
    if (problems.length) throw new ConfigError(problems);
    const entries = checked.map(({ t, check }) => ({
      name: t.dataset.name,
      localPath: t.dataset.localPath!,
      hash: check.hash,
      rows: check.rows,
      source: t.dataset.source,
      description: t.dataset.description,
    }));
    if (hasAzureWorkspace(useCase)) {
      Object.assign(datasets, await registerInAzure(entries, useCase, host, inputs.dryRun ?? false));
    } else {
      const registry = new LocalDataRegistry(inputs.store);
      for (const e of entries) {
        const { localPath: _, ...entry } = e;
        if (inputs.dryRun) {
          const last = await registry.withHash(e.name, e.hash);
          const same = last !== undefined;
          host.info(
            `${e.name}: ${e.rows} rows, sha256:${e.hash.slice(0, 12)}: ${same ? `unchanged (version ${last!.version})` : 'would be registered as a new version'} (dry run)`,
          );
          datasets[e.name] = { version: same ? last!.version : '', hash: e.hash, rows: e.rows, created: !same };
          continue;
        }
        const v = await registry.register(entry);
        datasets[e.name] = { version: v.version, hash: v.hash, rows: v.rows, created: v.created };
        host.info(
          `${e.name}: ${e.rows} rows, version ${v.version}${v.created ? ' (new)' : ' (unchanged)'} sha256:${e.hash.slice(0, 12)}`,
        );
      }
    }
    const json = JSON.stringify(datasets);
    host.setOutput('datasets', json);
    if (inputs.outputFile) await writeFile(inputs.outputFile, JSON.stringify(datasets, null, 2) + '\n');
    return { datasets };
  },
};

/** Register (or, dry run, plan) every checked dataset as an Azure ML data asset. */
async function registerInAzure(
  entries: AssetToRegister[],
  useCase: UseCase,
  host: Host,
  dryRun: boolean,
): Promise<Record<string, RegisteredDataset>> {
  const settings = azureSettings(useCase, 'register-data registers the datasets in it');
  // Loaded only with azure settings: the local registry never loads the Azure HTTP pipeline.
  const { openWorkspace } = await import('../azure/workspace.js');
  const ws = await openWorkspace(settings, host.azureAuth?.() ?? {}, {
    log: (m) => host.info(m),
    mask: (secret) => host.mask(secret),
  });
  host.info(
    `register-data: Azure ML workspace ${settings.workspace}${dryRun ? ' (dry run: nothing is uploaded or created)' : ''}`,
  );
  const out: Record<string, RegisteredDataset> = {};
  let store: DatastoreContainer | undefined;
  for (const e of entries) {
    const r = dryRun ? { ...(await planAsset(ws, e, store)), created: false } : await registerAsset(ws, e, store);
    store ??= r.store;
    const asset = `azureml:${r.name}:${r.version}`;
    const uploads = r.uploads.length
      ? `${r.uploads.length} file(s) to ${r.dataUri}`
      : 'nothing (already in the datastore)';
    host.info(
      r.exists
        ? `${e.name}: ${e.rows} rows, ${asset} unchanged (already registered; nothing uploaded)`
        : dryRun
          ? `${e.name}: ${e.rows} rows, would upload ${uploads} and create ${asset} (${r.dataType})`
          : `${e.name}: ${e.rows} rows, ${asset} created (${r.dataType}); uploaded ${uploads}`,
    );
    out[e.name] = { version: r.version, hash: e.hash, rows: e.rows, created: r.created, asset };
  }
  return out;
}

interface Target {
  dataset: Dataset;
  required: { input: string; column: string }[];
}

/** Standard datasets need the standard flow's columns; new evaluation datasets their evaluator's. */
function datasetsToRegister(
  datasets: Dataset[],
  evaluators: { flow?: FlowRef; datasets: (Dataset & { reference: string })[] }[],
  flow: FlowRef,
): Target[] {
  // Keyed by name and file: two evaluators may give one dataset name to different files (the
  // template's class_flows does), and each file must only have the columns its own mappings read.
  const key = (d: Dataset) => `${d.name}\0${d.localPath ?? d.source}`;
  const targets = new Map<string, Target>();
  for (const d of datasets)
    targets.set(key(d), { dataset: d, required: [...requiredColumns(d.mappings, flow.model), ...clusterColumn(d)] });
  for (const ev of evaluators) {
    for (const d of ev.datasets) {
      const required = requiredColumns(d.mappings, ev.flow?.model);
      const existing = targets.get(key(d));
      if (existing)
        existing.required.push(...required.filter((r) => !existing.required.some((e) => e.column === r.column)));
      else targets.set(key(d), { dataset: d, required });
    }
  }
  return [...targets.values()];
}

/**
 * Columns read from each row: `${data.x}` mappings, plus same-name columns for flow inputs
 * without a default and without a mapping (promptflow-formats.md §6.4). Evaluation flows take
 * unmapped inputs the same way.
 */
function requiredColumns(
  mappings: Dataset['mappings'],
  flow: LoadedFlow | undefined,
): { input: string; column: string }[] {
  const out = mappedColumns(mappings);
  for (const [name, def] of Object.entries(flow?.inputs ?? {})) {
    if (!def.hasDefault && !(name in mappings)) out.push({ input: name, column: name });
  }
  return out;
}
