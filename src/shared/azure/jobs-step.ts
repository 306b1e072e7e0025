/**
 * The steps' side of cloud execution: the workspace and cloud settings of a use case, opened once, and the
 * call that runs a step's shards as jobs. Loaded only when a step runs on azure (it brings the Azure HTTP
 * pipeline).
 * @module
 */
import type { UseCase } from '../config/types.js';
import type { Host } from '../host/host.js';
import type { ExperimentPlan } from '../runs/plan.js';
import { bulkRunWork, runPlanOnAzure, type CloudRunOptions, type CloudWork } from './jobs-run.js';
import { cloudSettings } from './jobs-settings.js';
import { azureSettings, type AzureSettings } from './settings.js';
import type { MlWorkspace } from './workspace.js';

export type CloudRun = Awaited<ReturnType<typeof prepareCloudRun>>;

export async function prepareCloudRun(useCase: UseCase, host: Host) {
  const settings = azureSettings(useCase, 'execution.target azure runs its jobs there');
  const cloud = cloudSettings(useCase);
  let ws: MlWorkspace | undefined;
  return {
    cloud,
    bulkRunWork: (plan: ExperimentPlan, planFile: string): CloudWork =>
      bulkRunWork(plan, planFile, cloud, (d) => useCase.datasets.find((x) => x.name === d)?.repeat ?? 1),
    async run(o: Omit<CloudRunOptions, 'ws' | 'workspaceId' | 'cloud' | 'useCase' | 'host'>): Promise<number> {
      const open = async () => {
        const { openWorkspace } = await import('./workspace.js');
        ws ??= await openWorkspace(settings, host.azureAuth?.() ?? {}, {
          log: (m) => host.info(m),
          mask: (s) => host.mask(s),
        });
        return ws;
      };
      const poll = Number(process.env.LLMOPS_AZURE_JOB_POLL_MS);
      return runPlanOnAzure({
        ws: open,
        workspaceId: workspaceArmId(settings),
        cloud,
        useCase,
        host,
        ...o,
        pollMs: o.pollMs || (poll > 0 ? poll : undefined),
      });
    },
  };
}

function workspaceArmId(s: AzureSettings): string {
  return `/subscriptions/${s.subscriptionId}/resourceGroups/${s.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${s.workspace}`;
}
