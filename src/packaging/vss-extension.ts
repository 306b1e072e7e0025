/**
 * vss-extension.json: the one Azure DevOps extension that carries every task
 * (learn.microsoft.com "add-build-task"; microsoft/azure-devops-extension-tasks' manifest).
 * @module
 */
import { taskDir } from './layout.js';
import type { PackagedStep } from './steps.js';

export interface ExtensionManifest {
  manifestVersion: 1;
  id: string;
  publisher: string;
  name: string;
  version: string;
  description: string;
  public: boolean;
  targets: { id: string }[];
  categories: string[];
  tags: string[];
  icons: { default: string };
  content: { details: { path: string } };
  files: { path: string; addressable?: boolean }[];
  contributions: { id: string; type: string; description: string; targets: string[]; properties: { name: string } }[];
}

/** The extension's icon, committed (regenerate with `node scripts/make-icon.mjs`). */
export const EXTENSION_ICON = 'images/icon.png';

export function extensionManifest(steps: readonly PackagedStep[], version: string): ExtensionManifest {
  return {
    manifestVersion: 1,
    id: 'llmops',
    publisher: 'llmops',
    name: 'LLMOps for Prompt Flow',
    version,
    description:
      'The LLMOps lifecycle for Prompt Flow projects as pipeline tasks: register data, bulk-run flows with variants, evaluate, report, deploy and smoke-test.',
    public: false,
    targets: [{ id: 'Microsoft.VisualStudio.Services' }],
    categories: ['Azure Pipelines'],
    tags: ['llmops', 'prompt flow', 'evaluation'],
    // 128x128 PNG drawn by scripts/make-icon.mjs; the Marketplace requires an icon.
    icons: { default: EXTENSION_ICON },
    content: { details: { path: 'ado-tasks/overview.md' } },
    files: [...steps.map(({ step }) => ({ path: taskDir(step.name) })), { path: EXTENSION_ICON, addressable: true }],
    contributions: steps.map(({ step }) => ({
      id: `${step.name}-task`,
      type: 'ms.vss-distributed-task.task',
      description: step.description,
      targets: ['ms.vss-distributed-task.tasks'],
      // The task folder, exactly as listed in `files`.
      properties: { name: taskDir(step.name) },
    })),
  };
}
