/** Inputs every use-case step shares. */
import type { InputSpec } from './declare.js';

export const useCaseInputs: readonly InputSpec[] = [
  {
    name: 'config',
    type: 'path',
    required: true,
    default: 'experiment.yaml',
    description: 'Path of the use case experiment.yaml.',
  },
  {
    name: 'env',
    type: 'string',
    description: 'Environment whose overlay experiment.<env>.yaml applies (default: the ENV_NAME variable).',
  },
];
