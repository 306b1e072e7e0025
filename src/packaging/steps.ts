/**
 * The registry of packaged steps: every GitHub action, Azure DevOps task, bundle and the
 * extension manifest is generated from this list (`npm run generate`). Adding a step is one
 * line here; its module must be `src/shared/steps/<name>.ts` exporting `<camelName>Step`
 * (the generated entry files import it by that convention, and a test checks it).
 * @module
 */
import type { StepDefinition } from '../shared/steps/declare.js';
import { bulkRunStep } from '../shared/steps/bulk-run.js';
import { dataPipelineStep } from '../shared/steps/data-pipeline.js';
import { deployStep } from '../shared/steps/deploy.js';
import { evaluateStep } from '../shared/steps/evaluate.js';
import { parityStep } from '../shared/steps/parity.js';
import { registerDataStep } from '../shared/steps/register-data.js';
import { reportStep } from '../shared/steps/report.js';
import { smokeTestStep } from '../shared/steps/smoke-test.js';
import { validateStep } from '../shared/steps/validate.js';

/** Any step, whatever its input and output types: packaging only reads the declarations. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStep = StepDefinition<any, any>;

/** Azure DevOps task categories (task.json `category`). */
export type TaskCategory = 'Build' | 'Utility' | 'Test' | 'Package' | 'Deploy';

export interface PackagedStep {
  step: AnyStep;
  /** Where the task is listed in the Azure DevOps task picker. */
  category: TaskCategory;
}

/** In lifecycle order: the root action lists `step` choices in this order. */
export const packagedSteps: readonly PackagedStep[] = [
  { step: validateStep, category: 'Utility' },
  { step: registerDataStep, category: 'Utility' },
  { step: bulkRunStep, category: 'Test' },
  { step: evaluateStep, category: 'Test' },
  { step: reportStep, category: 'Test' },
  { step: parityStep, category: 'Test' },
  { step: deployStep, category: 'Deploy' },
  { step: smokeTestStep, category: 'Test' },
  { step: dataPipelineStep, category: 'Utility' },
];

/** The step of that name, or undefined. */
export function findPackagedStep(name: string): PackagedStep | undefined {
  return packagedSteps.find((p) => p.step.name === name);
}
