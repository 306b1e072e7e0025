/** The deploy inputs of the promotion gate: refused with what was expected, before anything is deployed. */
import { promotionChecks } from '../../src/shared/steps/deploy-remote.js';
import type { DeployInputs } from '../../src/shared/steps/deploy.js';
import { azureEndpointEntry } from '../../src/shared/config/deployment.js';

const base: DeployInputs = { config: 'experiment.yaml', target: 'kubernetes', stateDir: '.llmops' };
const log = () => undefined;

test('no promote-when: no gate; promote-log alone is refused', () => {
  expect(promotionChecks(base, log)).toEqual([]);
  expect(() => promotionChecks({ ...base, promoteLog: 'logs' }, log)).toThrow(
    /input "promote-log": found it without promote-when; expected both or neither/,
  );
});

test('promote-when must be better or not-worse, with a log and sane numbers', () => {
  expect(() => promotionChecks({ ...base, promoteWhen: 'faster', promoteLog: 'logs' }, log)).toThrow(
    /input "promote-when": found "faster"; expected better or not-worse/,
  );
  expect(() => promotionChecks({ ...base, promoteWhen: 'better' }, log)).toThrow(/input "promote-log": missing/);
  expect(() =>
    promotionChecks({ ...base, promoteWhen: 'better', promoteLog: 'logs', promoteMargin: 'latency=fast' }, log),
  ).toThrow(/input "promote-margin": found "latency=fast"; expected a margin/);
  expect(() =>
    promotionChecks({ ...base, promoteWhen: 'better', promoteLog: 'logs', promoteMinRequests: 1 }, log),
  ).toThrow(/expected an integer ≥ 2/);
  expect(promotionChecks({ ...base, promoteWhen: 'not-worse', promoteLog: 'a.jsonl, logs/' }, log)).toHaveLength(1);
});

test("deployment_config.json's PROMOTE_* settings stand in for the inputs; the inputs win", () => {
  const entry = azureEndpointEntry(
    {
      azure_managed_endpoint: [
        {
          ENV_NAME: 'dev',
          ENDPOINT_NAME: 'ep',
          CURRENT_DEPLOYMENT_NAME: 'blue',
          DEPLOYMENT_VM_SIZE: 'Standard_DS3_v2',
          PROMOTE_WHEN: 'not-worse',
          PROMOTE_LOG: 'logs/',
          PROMOTE_MARGIN: 'latency=0.1',
          PROMOTE_MIN_REQUESTS: '50',
        },
      ],
    },
    'azure_managed_endpoint',
    'dev',
    'deployment_config.json',
  );
  expect(entry.promote).toEqual({ when: 'not-worse', log: 'logs/', margin: 'latency=0.1', minRequests: 50 });
  expect(promotionChecks(base, log, entry.promote)).toHaveLength(1);
  expect(() => promotionChecks(base, log, { when: 'faster' as 'better', log: 'logs' })).toThrow(
    /deployment_config\.json PROMOTE_WHEN: found "faster"; expected better or not-worse/,
  );
  expect(() => promotionChecks(base, log, { when: 'better' })).toThrow(
    /deployment_config\.json PROMOTE_LOG \(or input "promote-log"\): missing/,
  );
  expect(() => promotionChecks({ ...base, promoteWhen: 'sideways' }, log, entry.promote)).toThrow(
    /input "promote-when": found "sideways"/,
  );
});
