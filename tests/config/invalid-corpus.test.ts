/**
 * The corpus of invalid configurations: each case breaks one thing and asserts the exact
 * file:line:column and message the user sees (tests/helpers/use-case-dir.ts holds the valid base).
 */
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { baseEnv, baseExperiment, experimentWith as x, makeUseCase } from '../helpers/use-case-dir.js';

interface Case {
  name: string;
  files: Record<string, string | null>;
  env?: string;
  processEnv?: Record<string, string>;
  expected: string[];
}

const deployment = (entry: string) => `{\n  "azure_managed_endpoint": [\n    {\n${entry}\n    }\n  ]\n}\n`;
const goodEntry = `      "ENV_NAME": "dev",\n      "ENDPOINT_NAME": "demo-endpoint",\n      "CURRENT_DEPLOYMENT_NAME": "green",\n      "DEPLOYMENT_VM_SIZE": "Standard_F4s_v2"`;

const cases: Case[] = [
  {
    // Ignored, it would leave the evaluator on defaults the user did not choose (every PII kind).
    name: 'misspelt option of a built-in evaluator',
    files: {
      'experiment.yaml': x(
        'evaluators:\n',
        'evaluators:\n  - name: leak\n    builtin: pii\n    options: {kind: [email]}\n    datasets:\n      - name: train\n        mappings:\n          prediction: ${run.outputs.answer}\n',
      ),
    },
    expected: ['experiment.yaml:16:15: evaluators[0].options.kind: unknown option of pii, expected "kinds"'],
  },
  {
    // One problem, said once: not also "flow: expected text" (the other form flow may take) nor a flow folder
    // named after the experiment.
    name: 'http target with a misspelt target',
    files: {
      'experiment.yaml': x(
        'flow: flows/std\n',
        'flow:\n  target: htp\n  url: http://127.0.0.1:9/score\n  outputs: {answer: $.answer}\n',
      ),
    },
    expected: ['experiment.yaml:3:11: flow.target: found the text "htp", expected "http"'],
  },
  {
    name: 'wrong type for name',
    files: { 'experiment.yaml': x('name: demo', 'name: 123') },
    expected: ['experiment.yaml:1:7: name: found the number 123, expected text'],
  },
  {
    // The template hands every key to the connection class, which refuses it; ignored, the key would go unsent.
    name: 'misspelt connection field in an env overlay',
    env: 'dev',
    files: {
      'experiment.dev.yaml':
        'connections:\n  - name: aoai\n    connection_type: AzureOpenAIConnection\n    api_base: ${api_base}\n    api_kye: ${api_key}\n',
    },
    expected: [
      'experiment.dev.yaml:5:5: connections[0].api_kye: unknown key for AzureOpenAIConnection; did you mean "api_key"?',
    ],
  },
  {
    name: 'unknown top-level key with a likely typo',
    files: { 'experiment.yaml': x('evaluators:', 'evaluator:') },
    expected: ['experiment.yaml:13:1: evaluator: unknown key "evaluator"; did you mean "evaluators"?'],
  },
  {
    name: 'missing name',
    files: { 'experiment.yaml': x('name: demo\n', '') },
    expected: ['experiment.yaml:1:1: (top level): missing required key "name" (Experiment name)'],
  },
  {
    name: 'empty datasets list',
    files: {
      'experiment.yaml': x(
        'datasets:\n  - name: train\n    source: data/train.jsonl\n    mappings:\n      question: ${data.question}\n',
        'datasets: []\n',
      ),
    },
    expected: ['experiment.yaml:8:11: datasets: found an empty list, expected at least 1 item(s)'],
  },
  {
    name: 'dataset without source',
    files: { 'experiment.yaml': x('    source: data/train.jsonl\n', '') },
    expected: ['experiment.yaml:9:5: datasets[0]: missing required key "source" (A local file ('],
  },
  {
    name: 'dataset without mappings',
    files: { 'experiment.yaml': x('    mappings:\n      question: ${data.question}\n', '') },
    expected: ['experiment.yaml:9:5: datasets[0]: missing required key "mappings"'],
  },
  {
    name: 'dataset source file missing',
    files: { 'data/train.jsonl': null },
    expected: [
      'experiment.yaml:10:13: datasets[0].source: file not found: data/train.jsonl (looked in the use case folder and in its data/ folder)',
    ],
  },
  {
    name: 'duplicate dataset names',
    files: {
      'experiment.yaml': x(
        'evaluators:',
        '  - name: train\n    source: data/train.jsonl\n    mappings: {}\nevaluators:',
      ),
    },
    expected: [
      'experiment.yaml:13:11: datasets[1].name: "train" is already the name of datasets[0], expected unique dataset names',
    ],
  },
  {
    name: 'misspelled key in a dataset',
    files: { 'experiment.yaml': x('    mappings:\n      question', '    mapping:\n      question') },
    expected: [
      'experiment.yaml:9:5: datasets[0]: missing required key "mappings"',
      'experiment.yaml:11:5: datasets[0].mapping: unknown key "mapping"; did you mean "mappings"?',
    ],
  },
  {
    name: 'evaluator dataset referencing an unknown dataset',
    files: { 'experiment.yaml': x('reference: train', 'reference: trian') },
    expected: [
      'experiment.yaml:18:20: evaluators[0].datasets[0].reference: "trian" is not a dataset of this experiment, expected one of: train',
    ],
  },
  {
    name: 'new evaluator dataset without reference',
    files: { 'experiment.yaml': x('        reference: train\n', '') },
    expected: [
      'experiment.yaml:17:9: evaluators[0].datasets[0]: "train_eval" is not a standard dataset, so it needs reference (expected source: <file> and reference: <standard dataset name>; standard datasets: train)',
    ],
  },
  {
    name: 'standard dataset reused by an evaluator with a source',
    files: { 'experiment.yaml': x('      - name: train_eval\n        reference: train\n', '      - name: train\n') },
    expected: [
      'experiment.yaml:18:9: evaluators[0].datasets[0]: "train" is a standard dataset, so it must not carry source (remove it, or give this evaluation dataset its own name)',
    ],
  },
  {
    name: 'evaluator flow folder missing',
    files: { 'flows/eval/flow.dag.yaml': null, 'flows/eval/README.md': 'no flow here' },
    expected: [
      'experiment.yaml:15:11: evaluators[0].flow: flows/eval: found no flow.dag.yaml, flow.dag.yml, flow.flex.yaml, flow.flex.yml or *.prompty in this folder, expected exactly one flow file',
    ],
  },
  {
    name: 'standard flow folder missing',
    files: { 'experiment.yaml': x('flow: flows/std', 'flow: flows/missing') },
    expected: [
      'experiment.yaml:2:7: flow: flows/missing: found no such file or folder, expected a flow folder or a flow file',
    ],
  },
  {
    name: 'flow folder holding two flow files',
    files: { 'flows/std/flow.flex.yaml': 'entry: a:b\n' },
    expected: [
      'experiment.yaml:2:7: flow: flows/std: found several flow files (flow.dag.yaml, flow.flex.yaml), expected exactly one',
    ],
  },
  {
    name: 'unknown connection type',
    files: { 'experiment.yaml': x('AzureOpenAIConnection', 'AzureOpenAiConnection') },
    expected: [
      'experiment.yaml:5:22: connections[0].connection_type: found the text "AzureOpenAiConnection", expected one of: AzureOpenAIConnection, OpenAIConnection, ServerlessConnection, CustomConnection, CognitiveSearchConnection, SerpConnection, FormRecognizerConnection, AzureContentSafetyConnection, AzureAIServicesConnection',
    ],
  },
  {
    name: 'unresolvable placeholder',
    files: {},
    processEnv: { AOAI_API_BASE: 'http://127.0.0.1:9' },
    expected: [
      'experiment.yaml:7:14: connections[0].api_key: environment variable AOAI_API_KEY is not set (needed for the placeholder ${api_key}); set it in your CI secrets or in .env at the repository root',
    ],
  },
  {
    name: 'run reference in a standard dataset',
    files: { 'experiment.yaml': x('question: ${data.question}', 'question: ${run.outputs.answer}') },
    expected: [
      'experiment.yaml:12:17: datasets[0].mappings.question: found "${run.outputs.answer}", but a standard dataset has no run to read from, expected "${data.<column>}" or a literal',
    ],
  },
  {
    name: 'malformed mapping reference',
    files: { 'experiment.yaml': x('answer: ${data.answer}', 'answer: ${dat.answer}') },
    expected: [
      'experiment.yaml:21:19: evaluators[0].datasets[0].mappings.answer: found "${dat.answer}", expected "${data.<column>}", "${run.outputs.<output>}", "${run.inputs.<input>}", "${target.<output>}" or a literal',
    ],
  },
  {
    name: 'YAML syntax error',
    files: { 'experiment.yaml': x('datasets:\n  - name: train', 'datasets:\n  - name: train\n   bad: indent') },
    expected: ['experiment.yaml:10:1: invalid YAML: Sequence item without - indicator'],
  },
  {
    name: 'duplicate YAML key',
    files: { 'experiment.yaml': x('flow: flows/std\n', 'flow: flows/std\nflow: flows/std\n') },
    expected: ['experiment.yaml:3:1: invalid YAML: Map keys must be unique'],
  },
  {
    name: 'overlay that empties the datasets',
    env: 'pr',
    files: { 'experiment.pr.yaml': 'datasets:\nevaluators:\n' },
    expected: [
      'experiment.pr.yaml:1:10: datasets: the overlay leaves no datasets, expected at least one (remove the key to keep the base datasets)',
    ],
  },
  {
    name: 'overlay with an unknown key',
    env: 'dev',
    files: { 'experiment.dev.yaml': 'runtime: rt\nexecutoin:\n  target: local\n' },
    expected: ['experiment.dev.yaml:2:1: executoin: unknown key "executoin"; did you mean "execution"?'],
  },
  {
    name: 'overlay with a wrong type',
    env: 'dev',
    files: { 'experiment.dev.yaml': 'execution:\n  concurrency: many\n' },
    expected: ['experiment.dev.yaml:2:16: execution.concurrency: found the text "many", expected a whole number'],
  },
  {
    name: 'overlay that is a list',
    env: 'dev',
    files: { 'experiment.dev.yaml': '- datasets\n' },
    expected: [
      'experiment.dev.yaml:1:1: found a list, expected a mapping of top-level blocks that replace the base ones',
    ],
  },
  {
    name: 'traffic not adding up to 100',
    files: {
      'configs/deployment_config.json': deployment(
        `${goodEntry},\n      "PRIOR_DEPLOYMENT_NAME": "blue",\n      "PRIOR_DEPLOYMENT_TRAFFIC_ALLOCATION": "80",\n      "CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION": "30"`,
      ),
    },
    expected: [
      'configs/deployment_config.json:9:46: azure_managed_endpoint[0]: CURRENT (30) + PRIOR (80) traffic adds up to 110, expected 100',
    ],
  },
  {
    name: 'traffic over 100',
    files: {
      'configs/deployment_config.json': deployment(`${goodEntry},\n      "CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION": 150`),
    },
    expected: [
      'configs/deployment_config.json:8:48: azure_managed_endpoint[0].CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION: found the number 150, expected a whole percentage from 0 to 100',
    ],
  },
  {
    name: 'deployment without an endpoint name',
    files: {
      'configs/deployment_config.json': deployment(goodEntry.replace('      "ENDPOINT_NAME": "demo-endpoint",\n', '')),
    },
    expected: ['configs/deployment_config.json:3:5: azure_managed_endpoint[0]: missing required key "ENDPOINT_NAME"'],
  },
  {
    name: 'zero instances',
    files: { 'configs/deployment_config.json': deployment(`${goodEntry},\n      "DEPLOYMENT_INSTANCE_COUNT": 0`) },
    expected: [
      'configs/deployment_config.json:8:36: azure_managed_endpoint[0].DEPLOYMENT_INSTANCE_COUNT: found the number 0, expected a whole number of instances, at least 1',
    ],
  },
  {
    name: 'VM size as a number',
    files: { 'configs/deployment_config.json': deployment(goodEntry.replace('"Standard_F4s_v2"', '4')) },
    expected: [
      'configs/deployment_config.json:7:29: azure_managed_endpoint[0].DEPLOYMENT_VM_SIZE: found the number 4, expected text',
    ],
  },
  {
    name: 'deployment JSON syntax error',
    files: {
      'configs/deployment_config.json': '{\n  "azure_managed_endpoint": [\n    { "ENV_NAME": "dev", }\n  ]\n}\n',
    },
    expected: ['configs/deployment_config.json:3:26: invalid JSON: Expected double-quoted property name'],
  },
  {
    name: 'smoke-test file missing',
    files: {
      'configs/deployment_config.json': deployment(`${goodEntry},\n      "TEST_FILE_PATH": "sample-request.json"`),
    },
    expected: [
      'configs/deployment_config.json:8:25: azure_managed_endpoint[0].TEST_FILE_PATH: file not found: sample-request.json',
    ],
  },
  {
    name: 'unknown deployment key',
    files: { 'configs/deployment_config.json': deployment(`${goodEntry},\n      "ENDPIONT_DESC": "x"`) },
    expected: [
      'configs/deployment_config.json:8:7: azure_managed_endpoint[0].ENDPIONT_DESC: unknown key "ENDPIONT_DESC"; did you mean "ENDPOINT_DESC"?',
    ],
  },
  {
    name: 'invalid cron in dataops',
    files: {
      'configs/dataops_config.json':
        '{\n  "DATA_STORE_NAME": "ds",\n  "COMPUTE_NAME": "cpu",\n  "STORAGE": {"STORAGE_ACCOUNT": "acct1", "SOURCE_CONTAINER": "src", "SOURCE_BLOB": "a.csv", "TARGET_CONTAINER": "dst"},\n  "SCHEDULE": {"NAME": "nightly", "CRON_EXPRESSION": "every day"},\n  "DATA_ASSETS": [{"NAME": "eval", "PATH": "eval.jsonl"}]\n}\n',
    },
    expected: [
      'configs/dataops_config.json:5:54: SCHEDULE.CRON_EXPRESSION: found the text "every day", expected a five-field cron expression such as "10 14 * * 1"',
    ],
  },
  {
    name: 'dataops code folder missing',
    files: {
      'configs/dataops_config.json':
        '{\n  "DATA_STORE_NAME": "ds",\n  "COMPUTE_NAME": "cpu",\n  "STORAGE": {"STORAGE_ACCOUNT": "acct1", "SOURCE_CONTAINER": "src", "SOURCE_BLOB": "a.csv", "TARGET_CONTAINER": "dst"},\n  "PATH": {"DATA_PIPELINE_CODE_DIR": "demo/data_pipelines"},\n  "DATA_ASSETS": [{"NAME": "eval", "PATH": "eval.jsonl"}]\n}\n',
    },
    expected: [
      'configs/dataops_config.json:5:38: PATH.DATA_PIPELINE_CODE_DIR: folder not found: demo/data_pipelines (relative to the repository root)',
    ],
  },
  {
    name: 'env.yaml placeholder not set',
    files: { 'environment/env.yaml': 'MODE: test\nSEARCH_KEY: ${SEARCH_API_KEY}\n' },
    expected: [
      'environment/env.yaml:2:13: SEARCH_KEY: environment variable SEARCH_API_KEY is not set (needed for the placeholder ${SEARCH_API_KEY})',
    ],
  },
  {
    name: 'env.yaml empty value',
    files: { 'environment/env.yaml': 'MODE:\n' },
    expected: ['environment/env.yaml:1:1: MODE: found an empty value, expected a value or ${VARIABLE}'],
  },
  {
    name: 'bad failed-line tolerance',
    files: { 'experiment.yaml': baseExperiment + 'execution:\n  max_failed_lines: some\n' },
    expected: [
      'experiment.yaml:24:21: execution.max_failed_lines: found the text "some", expected a count like 3 or a percentage like "5%"',
    ],
  },
  {
    name: 'list plan without a list',
    files: { 'experiment.yaml': baseExperiment + 'variants:\n  plan: list\n' },
    expected: [
      'experiment.yaml:24:9: variants.plan: "list" needs variants.list, expected a list of "${node.variant_id}" or node: variant mappings',
    ],
  },
  {
    name: 'gate that checks nothing',
    files: { 'experiment.yaml': baseExperiment + 'gates:\n  - metric: accuracy\n' },
    expected: [
      'experiment.yaml:24:5: gates[0]: gate on "accuracy" checks nothing, expected min, max, max_drop, max_relative_drop, or compare_to with min_difference/max_difference',
    ],
  },
  {
    name: 'gate on an unknown evaluator',
    files: {
      'experiment.yaml': baseExperiment + 'gates:\n  - metric: accuracy\n    evaluator: acuracy\n    min: 0.8\n',
    },
    expected: [
      'experiment.yaml:25:16: gates[0].evaluator: "acuracy" is not an evaluator of this experiment, expected one of: accuracy',
    ],
  },
  {
    name: 'early_stop that is not a boolean',
    files: {
      'experiment.yaml':
        baseExperiment + 'gates:\n  - metric: accuracy\n    evaluator: accuracy\n    min: 0.8\n    early_stop: "yes"\n',
    },
    expected: ['experiment.yaml:27:17: gates[0].early_stop: found the text "yes", expected true or false'],
  },
  {
    name: 'early_stop on an evaluation flow without an output named like the metric',
    files: {
      'experiment.yaml':
        baseExperiment + 'gates:\n  - metric: accuracy\n    evaluator: accuracy\n    min: 0.8\n    early_stop: true\n',
    },
    expected: [
      'experiment.yaml:27:17: gates[0].early_stop: evaluation flow "accuracy" has no output "accuracy" to score each line by, expected line_score: <output or output.key> beside early_stop naming the per-line value (a number in [0, 1] or a boolean) whose mean is "accuracy" (its outputs: ok)',
    ],
  },
  {
    name: 'early_stop line_score naming an output the evaluation flow does not have',
    files: {
      'experiment.yaml':
        baseExperiment +
        'gates:\n  - metric: accuracy\n    evaluator: accuracy\n    min: 0.8\n    early_stop: true\n    line_score: grade.correct\n',
    },
    expected: [
      'experiment.yaml:28:17: gates[0].line_score: found output "grade", which evaluation flow "accuracy" does not have, expected one of its outputs: ok',
    ],
  },
  {
    name: 'early_stop line_score on a text output of the evaluation flow',
    files: {
      'experiment.yaml':
        baseExperiment +
        'gates:\n  - metric: accuracy\n    evaluator: accuracy\n    min: 0.8\n    early_stop: true\n    line_score: ok\n',
    },
    expected: [
      'experiment.yaml:28:17: gates[0].line_score: found output "ok" of evaluation flow "accuracy" declared type string, expected a per-line number in [0, 1] or a boolean whose mean is "accuracy", or the value a correct line has: line_score: ok == <value> (e.g. ok == Correct)',
    ],
  },
  {
    name: 'early_stop on an evaluation flow whose own evaluation data is an Azure ML asset',
    files: {
      'experiment.yaml':
        baseExperiment.replace('source: data/eval.jsonl', 'source: azureml:evaldata:1') +
        'gates:\n  - metric: accuracy\n    evaluator: accuracy\n    min: 0.8\n    early_stop: true\n    line_score: ok == yes\n',
    },
    expected: [
      'experiment.yaml:27:17: gates[0].early_stop: evaluator "accuracy" reads dataset "train_eval" from azureml:evaldata:1, expected a local file',
    ],
  },
  {
    name: 'line_score without early_stop',
    files: {
      'experiment.yaml':
        baseExperiment + 'gates:\n  - metric: accuracy\n    evaluator: accuracy\n    min: 0.8\n    line_score: ok\n',
    },
    expected: [
      'experiment.yaml:27:5: gates[0].line_score: found line_score without early_stop, expected early_stop: true beside it',
    ],
  },
  {
    name: 'early_stop on a code evaluator',
    files: {
      'experiment.yaml':
        baseExperiment.replace('flow: flows/eval', 'flow: evaluators/mine') +
        'gates:\n  - metric: accuracy\n    evaluator: accuracy\n    min: 0.8\n    early_stop: true\n',
      'evaluators/mine/eval_mine.py':
        'def eval_mine(run_name, data_path, column_mapping, output_path):\n    return {"accuracy": 1.0}\n',
    },
    expected: [
      'experiment.yaml:27:17: gates[0].early_stop: found evaluator "accuracy" (code evaluator) with metric "accuracy", expected evaluator: <name> of an evaluation flow whose metric is the mean of a per-line output in [0, 1], or of a built-in scorer',
    ],
  },
  {
    name: 'early_stop on a regression gate',
    files: {
      'experiment.yaml':
        baseExperiment +
        'baseline: old.json\ngates:\n  - metric: accuracy\n    evaluator: accuracy\n    max_drop: 0.02\n    early_stop: true\n',
    },
    expected: [
      'experiment.yaml:28:17: gates[0].early_stop: early stopping decides a min/max bound on a metric, found a gate on a difference or a regression, expected min and/or max only',
    ],
  },
  {
    name: 'top level is a list',
    files: { 'experiment.yaml': '- name: demo\n' },
    expected: ['experiment.yaml:1:1: found a list, expected a mapping with name, flow, datasets, ... at the top level'],
  },
  {
    name: 'malformed azureml source',
    files: { 'experiment.yaml': x('source: data/train.jsonl', 'source: azureml:my data') },
    expected: [
      'experiment.yaml:10:13: datasets[0].source: found "azureml:my data", expected azureml:<asset>:<version> or azureml:<asset>:latest',
    ],
  },
  {
    name: 'a broken flow is reported in its own file',
    files: {
      'flows/std/flow.dag.yaml':
        'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${missing_node.output}\nnodes: []\n',
    },
    expected: ['flows/std/flow.dag.yaml:7:16: '],
  },
  {
    name: 'unsupported dataset format',
    files: {
      'data/train.parquet': 'x',
      'experiment.yaml': x('source: data/train.jsonl', 'source: data/train.parquet'),
    },
    expected: [
      'experiment.yaml:10:13: datasets[0].source: data/train.parquet has an unsupported format, expected a .jsonl, .json, .csv or .tsv file (or a folder of them)',
    ],
  },
];

describe('invalid configurations are reported at their exact place', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const uc = makeUseCase(c.files);
    try {
      let error: unknown;
      try {
        loadUseCase({ configPath: 'experiment.yaml', env: c.env, cwd: uc.dir, processEnv: c.processEnv ?? baseEnv });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const lines = (error as ConfigError).problems.map(formatProblem);
      expect(lines).toHaveLength(c.expected.length);
      c.expected.forEach((expected, i) => expect(lines[i].slice(0, expected.length)).toBe(expected));
      expect(lines.join('\n')).not.toContain('sk-SECRET-VALUE-1234');
    } finally {
      uc.cleanup();
    }
  });

  test('the corpus has at least 30 cases', () => expect(cases.length).toBeGreaterThanOrEqual(30));

  test('all problems of several files are reported in one pass', () => {
    const uc = makeUseCase({
      'experiment.yaml': x('name: demo', 'name: 123'),
      'environment/env.yaml': 'MODE:\n',
      'data/train.jsonl': null,
    });
    try {
      expect(() => loadUseCase({ configPath: 'experiment.yaml', cwd: uc.dir, processEnv: baseEnv })).toThrow(
        ConfigError,
      );
      try {
        loadUseCase({ configPath: 'experiment.yaml', cwd: uc.dir, processEnv: baseEnv });
      } catch (e) {
        expect((e as ConfigError).problems.map(formatProblem)).toEqual([
          'environment/env.yaml:1:1: MODE: found an empty value, expected a value or ${VARIABLE}',
          'experiment.yaml:1:7: name: found the number 123, expected text',
          'experiment.yaml:10:13: datasets[0].source: file not found: data/train.jsonl (looked in the use case folder and in its data/ folder)',
        ]);
      }
    } finally {
      uc.cleanup();
    }
  });
});
