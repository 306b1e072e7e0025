/**
 * Where packaged things live, relative to the repository root. The action.yml files point
 * into `dist/actions/` (built by `npm run package`, committed only on release tags); the
 * Azure DevOps tasks carry their bundle inside their own folder (`ado-tasks/<step>/dist/`),
 * because a task folder is shipped alone in the .vsix.
 * @module
 */

/** Folder of a step's action.yml. */
export const actionDir = (step: string): string => `actions/${step}`;
/** Bundle of a step's action. */
export const actionBundle = (step: string): string => `dist/actions/${step}/index.js`;
/** Bundle of the root action (`step:` input dispatches). */
export const ROOT_ACTION_BUNDLE = 'dist/actions/_root/index.js';
/** Folder of a step's Azure DevOps task (task.json and its `dist/`). */
export const taskDir = (step: string): string => `ado-tasks/${step}`;
/** Bundle path inside a task folder (task.json `execution.*.target`). */
export const TASK_BUNDLE = 'dist/index.js';
/** Generated entry files, bundled by scripts/package*.mjs. */
export const gitHubEntry = (step: string): string => `src/packaging/entries/github/${step}.ts`;
export const ROOT_GITHUB_ENTRY = 'src/packaging/entries/github/_root.ts';
export const adoEntry = (step: string): string => `src/packaging/entries/ado/${step}.ts`;
/** Folders a bundle needs beside it (found by `assetPath`, which walks up from the bundle). */
export const BUNDLE_ASSETS = ['schemas', 'src/shared/engine/python'] as const;
