import { join } from 'node:path';
import { loadFlow } from '../../src/shared/flow/index.js';
import { FIXTURES, problemsOf } from './helpers.js';

const load = (name: string) => () => loadFlow(join(FIXTURES, 'broken', name), { displayBase: FIXTURES });

// One problem per fixture; each message names file:line:column, what was found and what was expected.
const cases: Array<[string, string]> = [
  [
    'duplicate-node',
    'broken/duplicate-node/flow.dag.yaml:10:9: found a second node named "a" (the first is at line 6), expected unique node names',
  ],
  [
    'undeclared-input',
    'broken/undeclared-input/flow.dag.yaml:10:8: node "a" input "x": found ${inputs.questoin}, but the flow has no input "questoin"; expected one of: question',
  ],
  [
    'missing-node',
    'broken/missing-node/flow.dag.yaml:14:8: node "b" input "x": found ${fetch.output}, but there is no node "fetch"; expected one of: a, b',
  ],
  [
    'cycle',
    'broken/cycle/flow.dag.yaml:10:9: found a circular dependency among nodes a, b, c; expected node references (inputs and activate.when) without cycles',
  ],
  [
    'aggregation-reference',
    'broken/aggregation-reference/flow.dag.yaml:20:12: node "summary" input "total": found ${accuracy.output}, a reference to aggregation node "accuracy"; expected a non-aggregation node to reference only flow inputs and non-aggregation nodes',
  ],
  [
    'aggregation-activate',
    'broken/aggregation-activate/flow.dag.yaml:16:11: aggregation node "accuracy" activate.when: found ${grade.output}, a reference to non-aggregation node "grade"; expected a flow input or an aggregation node',
  ],
  [
    'output-missing-node',
    'broken/output-missing-node/flow.dag.yaml:6:16: output "answer": found ${answer_node.output}, but there is no node "answer_node"; expected one of: a',
  ],
  [
    'output-empty-reference',
    'broken/output-empty-reference/flow.dag.yaml:6:16: output "answer": found an empty reference, expected ${<node>.output} or ${inputs.<name>}',
  ],
  [
    'missing-source-file',
    'broken/missing-source-file/flow.dag.yaml:10:11: node "summarize" source.path: found "summarize.jinja2", but no such file exists; expected a file relative to the flow folder or copied in by additional_includes',
  ],
  [
    'llm-without-source',
    'broken/llm-without-source/flow.dag.yaml:6:9: node "chat" (type llm): found no source.path, expected the node\'s template file (source: {type: code, path: <file>})',
  ],
  [
    'llm-api-typo',
    'broken/llm-api-typo/flow.dag.yaml:11:8: node "chat" (type llm) api: found "chta", expected chat or completion',
  ],
  [
    'bad-variant-id',
    'broken/bad-variant-id/flow.dag.yaml:10:25: node_variants.summarize.default_variant_id: found "variant_9", expected one of the variants: variant_0, variant_1',
  ],
  [
    'bad-yaml',
    'broken/bad-yaml/flow.dag.yaml:5:1: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }',
  ],
  ['inputs-wrong-type', 'broken/inputs-wrong-type/flow.dag.yaml:2:1: inputs: found a list, expected a mapping'],
  [
    'unsupported-section',
    'broken/unsupported-section/flow.dag.yaml:14:8: node "b" input "x": found ${a.outputs.text}, but only the section "output" can be referenced; expected ${a.output...}',
  ],
  [
    'flex-bad-entry',
    'broken/flex-bad-entry/flow.flex.yaml:2:8: entry: found "flow.ChatFlow", expected <module>:<function or class> such as flow:ChatFlow (letters, digits, _ and . before the colon)',
  ],
  [
    'prompty-no-front-matter',
    'broken/prompty-no-front-matter/chat.prompty:1:1: found no front matter, expected a "---" line, YAML settings, a "---" line, then the prompt template',
  ],
  [
    'prompty-missing-file',
    "broken/prompty-missing-file/chat.prompty:8:9: sample: found ${file:missing_sample.json}, but the file missing_sample.json does not exist; expected a file relative to the flow's folder",
  ],
  [
    'multiple-flow-files',
    'broken/multiple-flow-files: found several flow files (flow.dag.yaml, flow.flex.yaml), expected exactly one',
  ],
  [
    'no-flow-file',
    'broken/no-flow-file: found no flow.dag.yaml, flow.dag.yml, flow.flex.yaml, flow.flex.yml or *.prompty in this folder, expected exactly one flow file',
  ],
];

describe('broken flows are rejected with one precise problem each', () => {
  test.each(cases)('%s', (name, expected) => {
    expect(problemsOf(load(name))).toEqual([expected]);
  });
});

test('every problem of a file is reported in one pass, in file order', () => {
  expect(problemsOf(load('several-problems'))).toEqual([
    'broken/several-problems/flow.dag.yaml:2:13: inputs.q.type: found the text "strin", expected one of: int, double, bool, string, list, object, image, secret, prompt_template, file_path, assistant_definition',
    'broken/several-problems/flow.dag.yaml:4:34: output "out": found ${missing.output}, but there is no node "missing"; expected one of: a',
    'broken/several-problems/flow.dag.yaml:8:30: node "a" source.path: found "nope.py", but no such file exists; expected a file relative to the flow folder or copied in by additional_includes',
    'broken/several-problems/flow.dag.yaml:9:15: node "a" input "x": found ${inputs.nope}, but the flow has no input "nope"; expected one of: q',
    'broken/several-problems/flow.dag.yaml:10:16: nodes[0].aggregation: found the text "maybe", expected true or false',
  ]);
});

test('the greedy front-matter pitfall is named at the "---" line that causes it', () => {
  expect(problemsOf(load('prompty-greedy'))).toEqual([
    'broken/prompty-greedy/chat.prompty:5:1: found another "---" line after the front matter; Prompty\'s front matter runs to the LAST "---" line, so the template text up to it was read as YAML. Expected exactly two "---" lines (reword this separator in the template)',
  ]);
});
