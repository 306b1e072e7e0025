/**
 * `npm run demo`: the local lifecycle on examples/web_classification, offline. Grows with the
 * lifecycle steps; today it validates the example and its overlays.
 */
import { runWithHost } from './cli-support.js';
import { validateStep } from './shared/steps/validate.js';

const config = 'examples/web_classification/experiment.yaml';
// The demo talks to the local model server only: these stand-ins are not secrets.
process.env.AOAI_API_KEY ??= 'local-demo-key';
process.env.AOAI_API_BASE ??= 'http://127.0.0.1:9';

await runWithHost({}, async (host) => {
  for (const env of [undefined, 'pr', 'dev']) {
    await validateStep.run({ config, env }, host);
  }
});
