/** The deploy inputs of the promotion gate: refused with what was expected, before anything is deployed. */
import { promotionChecks } from '../../src/shared/steps/deploy-remote.js';
import type { DeployInputs } from '../../src/shared/steps/deploy.js';

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
