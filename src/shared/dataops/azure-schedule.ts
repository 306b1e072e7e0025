/**
 * The data pipeline as a scheduled Azure ML pipeline job, as the template does it (a command component wrapped
 * in a pipeline, created by a cron schedule, not run at once): the use case and its preparation code go up as a
 * code snapshot (once per content hash, like the cloud jobs), a command component runs our CLI image's
 * `llmops data-pipeline` in it, and Schedules_CreateOrUpdate creates or updates the schedule whose action
 * creates that pipeline job. Nothing is uploaded or created when it is already there: the snapshot by hash,
 * the component version by the hash of its spec, the schedule when its trigger and action are unchanged.
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatastore } from '../azure/blob.js';
import { MlJobs } from '../azure/jobs.js';
import { imageVersion } from '../azure/jobs-run.js';
import { snapshotOf, uploadSnapshot, type Snapshot, type SnapshotFile } from '../azure/jobs-snapshot.js';
import type { MlWorkspace } from '../azure/workspace.js';
import { STORAGE_AUTH_VARIABLE, type DataPipelinePlan } from './plan.js';

/** The one step of the pipeline job (the template's data preparation component). */
export const PIPELINE_STEP = 'prep_data';

export interface ScheduleUseCase {
  name: string;
  envName?: string;
  configFile: string;
  baseDir: string;
  repositoryRoot: string;
}

export interface ScheduleOptions {
  /** The workspace, signed in on first use (a dry run never signs in). */
  ws: () => Promise<MlWorkspace>;
  /** ARM id of the workspace (the ids the requests refer to are under it). */
  workspaceId: string;
  /** Image reference of our CLI (azure.image), which the pipeline step runs. */
  image: string;
  useCase: ScheduleUseCase;
  plan: DataPipelinePlan & { schedule: NonNullable<DataPipelinePlan['schedule']> };
  dryRun?: boolean;
  log: (line: string) => void;
}

export interface ScheduleResult {
  schedule: string;
  component: string;
  /** What changed: the component version and the schedule (false: already there as wanted). */
  componentCreated: boolean;
  scheduleWritten: boolean;
  /** The request bodies (sent, or that a dry run would send). */
  componentSpec: Record<string, unknown>;
  scheduleBody: Record<string, unknown>;
}

const enc = encodeURIComponent;

/** Azure ML asset and schedule names: letters, digits, '-' and '_', starting with a letter or digit. */
export function armName(s: string): string {
  return s.replace(/[^a-zA-Z0-9_-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '') || 'llmops';
}

export async function scheduleDataPipeline(o: ScheduleOptions): Promise<ScheduleResult> {
  const { plan, useCase } = o;
  const marker = markerFile();
  try {
    const snapshot = pipelineSnapshot(useCase, plan, marker);
    const componentName = armName(plan.component?.name ?? `${useCase.name}_prep_data`);
    const scheduleName = armName(plan.schedule.name);
    const codeName = armName(`${useCase.name}-dataops`);
    const codeId = `${o.workspaceId}/codes/${enc(codeName)}/versions/${snapshot.hash}`;
    const environmentId = `${o.workspaceId}/environments/llmops-cli/versions/${enc(imageVersion(o.image))}`;
    const rel = (p: string) => path.relative(useCase.repositoryRoot, p).split(path.sep).join('/');
    const command = [
      'llmops data-pipeline',
      `--config ${rel(useCase.configFile)}`,
      useCase.envName ? `--env ${useCase.envName}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    const spec: Record<string, unknown> = {
      $schema: 'https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json',
      name: componentName,
      type: 'command',
      display_name: plan.component?.displayName ?? `${useCase.name} data preparation`,
      description:
        plan.component?.description ??
        `llmops data-pipeline of ${useCase.name}: ${path.basename(plan.script)} from ${plan.storage?.sourceContainer ?? 'the source'} to ${plan.storage?.targetContainer ?? 'the target'}`,
      code: `azureml:${codeId}`,
      environment: `azureml:${environmentId}`,
      command,
    };
    // The version names the spec's content: a changed snapshot, image or command makes a new version.
    const componentVersion = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
    spec.version = componentVersion;
    const componentId = `${o.workspaceId}/components/${enc(componentName)}/versions/${componentVersion}`;
    const computeId = plan.compute ? `${o.workspaceId}/computes/${enc(plan.compute)}` : undefined;
    const jobDefinition = {
      jobType: 'Pipeline',
      displayName: `${useCase.name} data pipeline`,
      experimentName: armName(`${useCase.name}-dataops`),
      // The job's own identity (the compute's managed identity) reads and writes the storage and the workspace.
      identity: { identityType: 'Managed' },
      ...(computeId ? { computeId } : {}),
      settings: { ...(computeId ? { default_compute: computeId } : {}), continue_on_step_failure: false },
      jobs: {
        [PIPELINE_STEP]: {
          type: 'command',
          name: PIPELINE_STEP,
          componentId,
          ...(computeId ? { computeId } : {}),
          environment_variables: { LLMOPS_AZURE_AUTH: 'msi', [STORAGE_AUTH_VARIABLE]: 'credential' },
        },
      },
      tags: { llmops_dataops: useCase.name, llmops_component: `${componentName}:${componentVersion}` },
    };
    const scheduleBody = {
      properties: {
        displayName: plan.schedule.name,
        description: `Runs ${componentName} (llmops data-pipeline of ${useCase.name}) on cron "${plan.schedule.cron}"`,
        isEnabled: true,
        trigger: { triggerType: 'Cron', expression: plan.schedule.cron, timeZone: plan.schedule.timezone ?? 'UTC' },
        action: { actionType: 'CreateJob', jobDefinition },
        tags: { llmops_dataops: useCase.name },
      },
    };
    const result = {
      schedule: scheduleName,
      component: `${componentName}:${componentVersion}`,
      componentSpec: spec,
      scheduleBody,
    };
    o.log(
      `data-pipeline: schedule ${scheduleName} (cron "${plan.schedule.cron}", ${plan.schedule.timezone ?? 'UTC'}) creates a pipeline job whose step ${PIPELINE_STEP} runs \`${command}\` in image ${o.image} on ${plan.compute ? `compute ${plan.compute}` : 'serverless compute'}; component ${componentName}:${componentVersion}, code snapshot ${snapshot.hash.slice(0, 12)} (${snapshot.files.length} file(s))`,
    );
    if (o.dryRun) {
      o.log(`  would upload the code snapshot (files not already in the datastore) and register code ${codeName}`);
      o.log(`  would register environment llmops-cli:${imageVersion(o.image)} (image ${o.image}) if absent`);
      o.log(`  would create component version ${componentName}:${componentVersion} if absent`);
      o.log(`  would create or update schedule ${scheduleName}`);
      return { ...result, componentCreated: false, scheduleWritten: false };
    }

    const ws = await o.ws();
    const jobs = new MlJobs(ws);
    const datastore = await openDatastore(ws, await ws.datastore());
    const uploaded = await uploadSnapshot(datastore, snapshot, 'code');
    const codeUri = `${datastore.accountUrl}/${datastore.datastore.properties.containerName}/${uploaded.prefix}`;
    await jobs.codeVersion(codeName, snapshot.hash, codeUri);
    await jobs.environmentVersion('llmops-cli', imageVersion(o.image), o.image);
    const where = `in workspace ${ws.settings.workspace}`;
    const existingComponent = await ws.client.get(componentId, {
      what: `read component ${componentName}:${componentVersion} ${where}`,
      accept: [404],
    });
    const componentCreated = existingComponent.status === 404;
    if (componentCreated)
      await ws.client.request('PUT', componentId, {
        what: `register component ${componentName}:${componentVersion} ${where}`,
        body: {
          properties: {
            componentSpec: spec,
            description: String(spec.description),
            isAnonymous: false,
            tags: { source: 'llmops' },
          },
        },
      });
    const scheduleId = `${ws.id}/schedules/${enc(scheduleName)}`;
    const existing = await ws.client.get<{ properties?: Record<string, unknown> }>(scheduleId, {
      what: `read schedule ${scheduleName} ${where}`,
      accept: [404],
    });
    const same =
      existing.status !== 404 &&
      existing.body.properties?.isEnabled !== false &&
      sameJson(existing.body.properties?.trigger, scheduleBody.properties.trigger) &&
      sameJson(
        (existing.body.properties?.action as { jobDefinition?: { jobs?: unknown } } | undefined)?.jobDefinition?.jobs,
        jobDefinition.jobs,
      );
    if (!same)
      await ws.client.lro('PUT', scheduleId, {
        what: `${existing.status === 404 ? 'create' : 'update'} schedule ${scheduleName} ${where}`,
        body: scheduleBody,
      });
    o.log(
      `data-pipeline: code snapshot ${uploaded.uploaded} file(s) uploaded; component ${componentName}:${componentVersion} ${componentCreated ? 'created' : 'unchanged'}; schedule ${scheduleName} ${same ? 'unchanged' : existing.status === 404 ? 'created' : 'updated'}`,
    );
    return { ...result, componentCreated, scheduleWritten: !same };
  } finally {
    rmSync(path.dirname(marker), { recursive: true, force: true });
  }
}

/**
 * The use case folder and the preparation code, at their paths below the repository root (the config's
 * DATA_PIPELINE_CODE_DIR and SOURCE paths are relative to it), and a `.git` marker so the job finds that root.
 */
function pipelineSnapshot(useCase: ScheduleUseCase, plan: DataPipelinePlan, marker: string): Snapshot {
  const under = (dir: string): SnapshotFile[] => {
    const prefix = path.relative(useCase.repositoryRoot, dir).split(path.sep).join('/');
    return snapshotOf(dir, []).files.map((f) => ({ name: prefix ? `${prefix}/${f.name}` : f.name, file: f.file }));
  };
  const inside = (dir: string, parent: string) => !path.relative(parent, dir).startsWith('..');
  const files = [...under(useCase.baseDir)];
  if (!inside(plan.codeDir, useCase.baseDir)) files.push(...under(plan.codeDir));
  files.push({ name: '.git', file: marker });
  const seen = new Set<string>();
  const unique = files
    .filter((f) => !seen.has(f.name) && seen.add(f.name))
    .sort((a, b) => a.name.localeCompare(b.name));
  const hash = createHash('sha256');
  for (const f of unique) hash.update(`${f.name}\0`).update(readFileSync(f.file)).update('\0');
  return { files: unique, hash: hash.digest('hex').slice(0, 32) };
}

function markerFile(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-dataops-'));
  const file = path.join(dir, 'git-marker');
  writeFileSync(file, 'llmops code snapshot: this folder is the repository root of the use case\n');
  return file;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
