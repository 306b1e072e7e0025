/**
 * `data-pipeline`: run the use case's DataOps (configs/dataops_config.json): its data preparation code turns the
 * source into the DATA_ASSETS files of the target, and each asset is registered by content hash (a new version
 * only when its content changed). Meant for a scheduled CI job; see examples/pipelines for workflows.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { azureSettings, hasAzureWorkspace, type AzureSettings } from '../azure/settings.js';
import type { MlWorkspace } from '../azure/workspace.js';
import type { UseCase } from '../config/types.js';
import { loadUseCase } from '../config/use-case.js';
import { LocalDataRegistry } from '../data/registry.js';
import {
  LocalAssetRegistry,
  LocalFileSource,
  LocalFolderTarget,
  runDataPipeline,
  type AssetRegistry,
  type DataSource,
  type DataTarget,
} from '../dataops/pipeline.js';
import { planDataPipeline, type DataPipelinePlan } from '../dataops/plan.js';
import { ConfigError } from '../errors.js';
import type { Host } from '../host/host.js';
import { locate, readSource } from '../source.js';
import { useCaseInputs } from './common-inputs.js';
import type { StepDefinition } from './declare.js';

export interface DataPipelineInputs {
  config: string;
  env?: string;
  store: string;
  outputFile?: string;
  schedule?: boolean;
  dryRun?: boolean;
}

export interface PipelineAsset {
  version: string;
  hash: string;
  rows: number;
  created: boolean;
  /** azureml:<name>:<version> when registered in Azure ML. */
  asset?: string;
}

export interface DataPipelineOutputs {
  assets: Record<string, PipelineAsset>;
  /** With --schedule: the Azure ML schedule and the component version its pipeline job runs. */
  schedule?: { name: string; component: string };
}

export const dataPipelineStep: StepDefinition<DataPipelineInputs, DataPipelineOutputs> = {
  name: 'data-pipeline',
  description:
    "Run a use case's DataOps (configs/dataops_config.json): its data preparation code turns the source (a folder, or blob storage with EXECUTION_TYPE azure) into the DATA_ASSETS files of the target, each registered by content hash (a new version only when it changed; as Azure ML data assets with azure settings). With --schedule: create the Azure ML pipeline job and its cron schedule (SCHEDULE) instead.",
  inputs: [
    ...useCaseInputs,
    {
      name: 'store',
      type: 'path',
      default: '.llmops',
      description: 'Run store folder (runs, data registry, LLM cache).',
    },
    { name: 'output-file', type: 'path', description: 'Also write the assets output (JSON) to this file.' },
    {
      name: 'schedule',
      type: 'boolean',
      default: 'false',
      description:
        "Instead of running the pipeline here, create (or update) the Azure ML pipeline job that runs it in the CLI image (azure.image) and its cron schedule (SCHEDULE of dataops_config.json), as the template does. Needs experiment.yaml's azure settings.",
    },
    {
      name: 'dry-run',
      type: 'boolean',
      default: 'false',
      description:
        'Show what would be read, prepared, registered or (with --schedule) created in Azure ML, without running or changing anything.',
    },
  ],
  outputs: [
    { name: 'assets', description: 'JSON: data asset name → {version, hash, rows, created[, asset]}.' },
    { name: 'schedule', description: 'With --schedule: the schedule name and the component version it runs.' },
  ],
  async run(inputs, host) {
    const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: ['dataops'] });
    const display = shown;
    const plan = planDataPipeline(useCase.baseDir, useCase.repositoryRoot, display, (n) => useCase.variable(n));
    if (plan.storage?.sasToken) host.mask(plan.storage.sasToken);
    const azure = hasAzureWorkspace(useCase);
    if ((plan.storage || inputs.schedule) && !azure)
      throw ConfigError.at(
        { file: display(useCase.configFile) },
        `${inputs.schedule ? '--schedule creates an Azure ML pipeline job and schedule' : `${display(plan.configFile)} has EXECUTION_TYPE azure (blob storage and Azure ML data assets)`}: expected the azure: settings (subscription_id, resource_group, workspace) in experiment.yaml`,
      );
    const settings = azure
      ? azureSettings(useCase, 'data-pipeline registers the DATA_ASSETS as Azure ML data assets')
      : undefined;
    let ws: MlWorkspace | undefined;
    const workspace = async () => {
      const { openWorkspace } = await import('../azure/workspace.js');
      ws ??= await openWorkspace(settings!, host.azureAuth?.() ?? {}, {
        log: (m) => host.info(m),
        mask: (secret) => host.mask(secret),
      });
      return ws;
    };

    if (inputs.schedule) return schedule(useCase, plan, settings!, workspace, inputs, host);
    if (inputs.dryRun) {
      host.info(
        `data-pipeline (dry run): ${display(plan.script)} would read ${plan.storage ? `blob ${plan.storage.sourceContainer}/${plan.storage.sourceBlob} of storage account ${plan.storage.account} (${plan.storage.auth})` : display(plan.source)} and write ${plan.assets.map((a) => a.path).join(', ')} to ${plan.storage ? `blob container ${plan.storage.targetContainer}` : display(plan.targetDir)}; each asset changed since its last version would be registered ${azure ? `as an Azure ML data asset in workspace ${settings!.workspace}` : 'in the local data registry'}`,
      );
      host.setOutput('assets', '{}');
      host.setOutput('schedule', '');
      return { assets: {} };
    }
    const { source, target } = await endpoints(plan, settings, workspace);
    const registry: AssetRegistry = azure
      ? new (await import('../dataops/azure-registry.js')).AzureAssetRegistry(workspace)
      : new LocalAssetRegistry(new LocalDataRegistry(inputs.store));
    const results = await runDataPipeline(plan, {
      source,
      target,
      registry,
      python: useCase.execution.python,
      display,
      log: (line) => host.info(line),
    });
    const assets = Object.fromEntries(
      results.map((r) => [
        r.name,
        {
          version: r.version,
          hash: r.hash,
          rows: r.rows,
          created: r.registered,
          ...(r.asset ? { asset: r.asset } : {}),
        },
      ]),
    );
    const created = results.filter((r) => r.registered).length;
    host.info(
      `data-pipeline: ${results.length} asset(s), ${created === 0 ? 'nothing new to register' : `${created} new version(s)`}`,
    );
    host.setOutput('assets', JSON.stringify(assets));
    // Every declared output is set (CI reads them all); schedule belongs to --schedule.
    host.setOutput('schedule', '');
    if (inputs.outputFile) await writeFile(inputs.outputFile, JSON.stringify(assets, null, 2) + '\n');
    return { assets };
  },
};

/** The source and target of the plan: folders of the repository, or blob containers (EXECUTION_TYPE azure). */
async function endpoints(
  plan: DataPipelinePlan,
  settings: AzureSettings | undefined,
  workspace: () => Promise<MlWorkspace>,
): Promise<{ source: DataSource; target: DataTarget }> {
  if (!plan.storage) return { source: new LocalFileSource(plan.source), target: new LocalFolderTarget(plan.targetDir) };
  const { BlobSource, BlobTarget, openBlobStorage } = await import('../dataops/blob-storage.js');
  const s = settings!;
  const accountUrl = s.blobEndpoint ?? `https://${plan.storage.account}.blob.${s.storageSuffix}`;
  const credential = plan.storage.auth === 'credential' ? (await workspace()).credential : undefined;
  const c = await openBlobStorage(plan.storage, { accountUrl, credential });
  return {
    source: new BlobSource(c.source, plan.storage.sourceBlob, c.auth, plan.storage.sourceBlobAt),
    target: new BlobTarget(c.target, c.auth),
  };
}

/** A path as logs show it (relative to the working folder); a URL as it is. */
function shown(p: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : path.relative(process.cwd(), p) || '.';
}

async function schedule(
  useCase: UseCase,
  plan: DataPipelinePlan,
  settings: AzureSettings,
  workspace: () => Promise<MlWorkspace>,
  inputs: DataPipelineInputs,
  host: Host,
): Promise<DataPipelineOutputs> {
  const display = shown;
  if (!plan.schedule || !plan.storage) {
    const source = readSource(plan.configFile, display(plan.configFile));
    if (!plan.storage)
      throw ConfigError.at(
        locate(source, ['EXECUTION_TYPE']),
        '--schedule runs the pipeline in Azure ML, where the repository\'s folders are only the snapshot taken now: expected "EXECUTION_TYPE": "azure" (source and target in blob storage)',
      );
    throw ConfigError.at(
      locate(source, [], 'value'),
      '--schedule needs SCHEDULE: expected "SCHEDULE": {"NAME": …, "CRON_EXPRESSION": "10 14 * * 1", "TIMEZONE": …}',
    );
  }
  const { cloudSettings } = await import('../azure/jobs-settings.js');
  const { scheduleDataPipeline } = await import('../dataops/azure-schedule.js');
  const cloud = cloudSettings(useCase);
  const r = await scheduleDataPipeline({
    ws: workspace,
    workspaceId: `/subscriptions/${settings.subscriptionId}/resourceGroups/${settings.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${settings.workspace}`,
    image: cloud.image,
    useCase,
    plan: { ...plan, schedule: plan.schedule },
    dryRun: inputs.dryRun,
    log: (line) => host.info(line),
  });
  const out = { name: r.schedule, component: r.component };
  host.setOutput('schedule', JSON.stringify(out));
  host.setOutput('assets', '{}');
  if (inputs.outputFile) await writeFile(inputs.outputFile, JSON.stringify({ schedule: out }, null, 2) + '\n');
  return { assets: {}, schedule: out };
}
