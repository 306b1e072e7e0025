/** Every built-in judge prompty loads (the evaluation SDK stand-in and builtin: evaluators both run them). */
import { assetPath } from '../../../src/shared/assets.js';
import { loadPrompty } from '../../../src/shared/flow/index.js';
import { llmJudges } from '../../../src/shared/eval/builtin/run-builtin.js';

test.each(llmJudges)('judge %s loads, with a score and a reason output', (name) => {
  const flow = loadPrompty(assetPath(`src/shared/eval/judges/${name}.prompty`));
  expect(Object.keys(flow.outputs)).toEqual(['score', 'reason']);
  expect(flow.description).toContain(`"${name}" (1-5)`);
});
