/**
 * An evaluation flow in the template's shape (a Python node grades each line, an aggregation node logs accuracy
 * with log_metric) over its own evaluation data joined by line number, for early-stop tests.
 */
import { baseExperiment } from './use-case-dir.js';

/** An evaluation flow whose per-line node returns `grade` (Python source of its return value) as output `grade`. */
export function gradingEvaluationFlow(
  grade: string,
  accuracy = 'sum(_score(g) for g in grades) / len(grades)',
): Record<string, string> {
  return {
    'flows/eval/flow.dag.yaml': `inputs:
  groundtruth:
    type: string
  prediction:
    type: string
outputs:
  grade:
    type: object
    reference: \${grade.output}
nodes:
- name: grade
  type: python
  source:
    type: code
    path: grade.py
  inputs:
    groundtruth: \${inputs.groundtruth}
    prediction: \${inputs.prediction}
- name: calculate_accuracy
  type: python
  source:
    type: code
    path: calculate_accuracy.py
  inputs:
    grades: \${grade.output}
  aggregation: true
`,
    'flows/eval/grade.py': `from promptflow import tool


@tool
def grade(groundtruth: str, prediction: str):
    correct = groundtruth.lower() == prediction.lower()
    return ${grade}
`,
    'flows/eval/calculate_accuracy.py': `from typing import List

from promptflow import log_metric, tool


def _score(g):
    if isinstance(g, dict):
        return 1 if g["correct"] else 0
    if isinstance(g, str):
        return 1 if g == "Correct" else 0
    return 1 if g in (1, True) else 0


@tool
def calculate_accuracy(grades: List):
    log_metric("accuracy", round(${accuracy}, 2))
    return grades
`,
  };
}

/** `lines` lines of run data and of evaluation data (its own file); line i is graded wrong when wrong(i). */
export function evalFlowData(lines: number, wrong: (i: number) => boolean): Record<string, string> {
  const rows = (f: (i: number) => object) => Array.from({ length: lines }, (_, i) => JSON.stringify(f(i))).join('\n');
  return {
    'data/train.jsonl': rows((i) => ({ question: `q${i}` })) + '\n',
    'data/eval.jsonl': rows((i) => ({ question: `q${i}`, answer: wrong(i) ? 'no' : `q${i}` })) + '\n',
  };
}

export function evalFlowExperiment(gate: string): string {
  return (
    baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')) +
    'evaluators:\n  - name: web_eval\n    flow: flows/eval\n    datasets:\n      - name: train_eval\n        reference: train\n        source: data/eval.jsonl\n        mappings:\n          groundtruth: ${data.answer}\n          prediction: ${run.outputs.answer}\n' +
    `gates:\n${gate}`
  );
}
