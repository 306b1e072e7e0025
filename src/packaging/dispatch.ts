/** The root action's step: the one named by its `step` input. */
import { ConfigError } from '../shared/errors.js';
import type { Host } from '../shared/host/host.js';
import { type AnyStep, packagedSteps } from './steps.js';

export function dispatchByStepInput(host: Host): AnyStep {
  const name = host.getInput('step')?.trim();
  const found = packagedSteps.find((p) => p.step.name === name);
  if (!found) {
    const expected = packagedSteps.map((p) => p.step.name).join(', ');
    throw ConfigError.at(
      { file: 'input "step"' },
      `${name ? `found ${JSON.stringify(name)}` : 'required but not given'}, expected one of: ${expected}`,
    );
  }
  return found.step;
}
