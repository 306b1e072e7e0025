/**
 * Inputs every packaged step gets on top of its own declaration: they belong to the CI
 * system (a token, the Azure sign-in), not to the step, so the CLI does not have them.
 * @module
 */
import type { InputSpec } from '../shared/steps/declare.js';

/** Azure sign-in override shared by all hosts: `auto` follows the documented order (credentials.ts). */
export const azureAuthInput: InputSpec = {
  name: 'azure-auth',
  type: 'choice',
  choices: ['auto', 'wif', 'secret', 'msi', 'cli'],
  default: 'auto',
  description:
    'How to sign in to Azure: auto (workload identity federation, then a client secret, managed identity, the Azure CLI), or force one of wif, secret, msi, cli. The LLMOPS_AZURE_AUTH variable does the same.',
};

/** Inputs added to every action.yml. `github-token` defaults to the job token through an expression. */
export const gitHubHostInputs: readonly (InputSpec & { expressionDefault?: string })[] = [
  {
    name: 'github-token',
    type: 'string',
    secret: true,
    expressionDefault: '${{ github.token }}',
    description: 'Token for the pull-request comment (needs pull-requests: write). Defaults to the job token.',
  },
  azureAuthInput,
  {
    name: 'azure-client-id',
    type: 'string',
    description: 'Client id of the Entra application or managed identity (default: the AZURE_CLIENT_ID variable).',
  },
  { name: 'azure-tenant-id', type: 'string', description: 'Entra tenant id (default: the AZURE_TENANT_ID variable).' },
];

/** Inputs added to every task.json (names are the task's camelCase names). */
export const adoHostInputs: readonly InputSpec[] = [
  {
    name: 'azure-subscription',
    type: 'string',
    description:
      'Azure Resource Manager service connection (workload identity federation, service principal or managed identity).',
  },
  azureAuthInput,
];

/** The host input that carries the Azure service connection on Azure DevOps. */
export const ADO_SERVICE_CONNECTION_INPUT = 'azure-subscription';
