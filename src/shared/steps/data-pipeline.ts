/**
 * `data-pipeline`: run the use case's DataOps (configs/dataops_config.json): its data preparation code turns the
 * source into the DATA_ASSETS files of the target, and each asset is registered by content hash (a new version
 * only when its content changed). Meant for a scheduled CI job; see examples/pipelines for workflows.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hasAzureWorkspace } from '../azure/settings.js';
import { loadUseCase } from '../config/use-case.js';
import { LocalDataRegistry } from '../data/registry.js';
import { LocalFileSource, LocalFolderTarget, runDataPipeline } from '../dataops/pipeline.js';
import { planDataPipeline } from '../dataops/plan.js';
import { useCaseInputs } from './common-inputs.js';
import type { StepDefinition } from './declare.js';

export interface DataPipelineInputs {
  config: string;
  env?: string;
  store: string;
  outputFile?: string;
}

export interface PipelineAsset {
  version: string;
  hash: string;
  rows: number;
  created: boolean;
}

export interface DataPipelineOutputs {
  assets: Record<string, PipelineAsset>;
}

export const dataPipelineStep: StepDefinition<DataPipelineInputs, DataPipelineOutputs> = {
  name: 'data-pipeline',
  description:
    "Run a use case's DataOps (configs/dataops_config.json): its data preparation code turns the source into the DATA_ASSETS files, each registered by content hash (a new version only when it changed).",
  inputs: [
    ...useCaseInputs,
    {
      name: 'store',
      type: 'path',
      default: '.llmops',
      description: 'Run store folder (runs, data registry, LLM cache).',
    },
    { name: 'output-file', type: 'path', description: 'Also write the assets output (JSON) to this file.' },
  ],
  outputs: [{ name: 'assets', description: 'JSON: data asset name → {version, hash, rows, created}.' }],
  async run(inputs, host) {
    const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: ['dataops'] });
    const display = (p: string) => path.relative(process.cwd(), p) || '.';
    const plan = planDataPipeline(useCase.baseDir, useCase.repositoryRoot, display);
    if (hasAzureWorkspace(useCase))
      host.warning(
        `${display(useCase.configFile)}: data-pipeline does not use the azure: settings yet; the prepared DATA_ASSETS are versioned in the local registry only (register-data registers the experiment's datasets as Azure ML data assets)`,
      );
    const results = await runDataPipeline(plan, {
      source: new LocalFileSource(plan.source),
      target: new LocalFolderTarget(plan.targetDir),
      registry: new LocalDataRegistry(inputs.store),
      python: useCase.execution.python,
      display,
      log: (line) => host.info(line),
    });
    const assets = Object.fromEntries(
      results.map((r) => [r.name, { version: r.version, hash: r.hash, rows: r.rows, created: r.registered }]),
    );
    const created = results.filter((r) => r.registered).length;
    host.info(
      `data-pipeline: ${results.length} asset(s), ${created === 0 ? 'nothing new to register' : `${created} new version(s)`}`,
    );
    host.setOutput('assets', JSON.stringify(assets));
    if (inputs.outputFile) await writeFile(inputs.outputFile, JSON.stringify(assets, null, 2) + '\n');
    return { assets };
  },
};
