/**
 * The contents of one step's own repository (`llmops/<step>`), so a workflow can write
 * `uses: llmops/bulk-run@v1` the way it writes `uses: actions/checkout@v4`: action.yml at the
 * root pointing at the bundled `dist/index.js`, and a README with the step's inputs and outputs,
 * both from the step declaration. The bundle itself is built by scripts/step-repos.mjs.
 * @module
 */
import { stringify } from 'yaml';
import { type ActionMetadata, stepAction } from './action-yml.js';
import type { AnyStep } from './steps.js';

/** Where a step repository's action finds its bundle (runs.main, relative to the repository root). */
export const STEP_REPO_BUNDLE = 'dist/index.js';

/** The owner of the per-step repositories (`<owner>/<step>`); the release workflow can override it. */
export const STEP_REPO_OWNER = 'llmops';

/** The step's action.yml with runs.main at the repository's own bundle. */
export function stepRepoAction(step: AnyStep): ActionMetadata {
  const meta = stepAction(step);
  return { ...meta, runs: { ...meta.runs, main: STEP_REPO_BUNDLE } };
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** README.md of the step repository: usage, every input (the step's, then the runner's), every output. */
export function stepRepoReadme(
  step: AnyStep,
  options: { owner?: string; version: string; sourceRepo?: string },
): string {
  const owner = options.owner ?? STEP_REPO_OWNER;
  const meta = stepRepoAction(step);
  const own = new Set(step.inputs.map((i) => i.name));
  const example = step.inputs
    .filter((i) => i.required || i.name === 'config' || i.name === 'env')
    .map(
      (i) =>
        `      ${i.name}: ${i.name === 'config' ? 'my_use_case/experiment.yaml' : i.name === 'env' ? 'dev' : `<${i.name}>`}`,
    );
  const rows = Object.entries(meta.inputs).map(
    ([name, input]) =>
      `| \`${name}\` | ${input.required ? 'yes' : 'no'} | ${input.default !== undefined ? `\`${cell(input.default)}\`` : ''} | ${cell(input.description)}${own.has(name) ? '' : ' _(runner input, shared by every llmops action)_'} |`,
  );
  const outputs = step.outputs.map((o) => `| \`${o.name}\` | ${cell(o.description)} |`);
  const source = options.sourceRepo ?? `${owner}/llmops`;
  return [
    `# LLMOps ${step.name}`,
    '',
    step.description,
    '',
    `One step of the LLMOps lifecycle for Prompt Flow projects (register-data, bulk-run, evaluate, report, deploy, smoke-test), released from [${source}](https://github.com/${source}) ${options.version}. The same step is \`llmops ${step.name}\` on the command line and a task in the Azure DevOps extension. Runs on \`node24\`; this repository holds only the released action (\`action.yml\` and the bundle in \`dist/\`): issues and changes go to ${source}.`,
    '',
    '## Usage',
    '',
    '```yaml',
    'steps:',
    '  - uses: actions/checkout@v4',
    `  - uses: ${owner}/${step.name}@v1`,
    ...(example.length ? ['    with:', ...example] : []),
    '```',
    '',
    `Pin \`@v1\` (moves with compatible releases), \`@${options.version}\` or a full commit SHA. The same action is also \`uses: ${source}/actions/${step.name}@v1\`.`,
    '',
    'Exit codes, as the step result: 0 success; 1 a quality gate, a smoke test or the failed-line tolerance failed; 2 invalid input (nothing was run); 3 an outside service failed after retries.',
    '',
    '## Inputs',
    '',
    '| input | required | default | description |',
    '|---|---|---|---|',
    ...rows,
    '',
    '## Outputs',
    '',
    '| output | description |',
    '|---|---|',
    ...outputs,
    '',
  ].join('\n');
}

/** Relative path → text content of the generated (non-bundle) files of a step repository. */
export function stepRepoFiles(
  step: AnyStep,
  options: { owner?: string; version: string; sourceRepo?: string },
): Map<string, string> {
  const header = `# Released from ${options.sourceRepo ?? `${options.owner ?? STEP_REPO_OWNER}/llmops`} ${options.version} (generated from src/shared/steps/${step.name}.ts). Do not edit here.\n`;
  return new Map([
    ['action.yml', header + stringify(stepRepoAction(step), { lineWidth: 0 })],
    ['README.md', stepRepoReadme(step, options)],
  ]);
}
