/** Temporary use-case folders for tests: a small valid use case, plus per-test file changes. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const baseExperiment = `name: demo
flow: flows/std
connections:
  - name: aoai
    connection_type: AzureOpenAIConnection
    api_base: \${api_base}
    api_key: \${api_key}
datasets:
  - name: train
    source: data/train.jsonl
    mappings:
      question: \${data.question}
evaluators:
  - name: accuracy
    flow: flows/eval
    datasets:
      - name: train_eval
        reference: train
        source: data/eval.jsonl
        mappings:
          answer: \${data.answer}
          prediction: \${run.outputs.answer}
`;

export const baseFiles: Record<string, string> = {
  'experiment.yaml': baseExperiment,
  'flows/std/flow.dag.yaml':
    'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${inputs.question}\nnodes: []\n',
  'flows/eval/flow.dag.yaml':
    'inputs:\n  answer:\n    type: string\n  prediction:\n    type: string\noutputs:\n  ok:\n    type: string\n    reference: ${inputs.answer}\nnodes: []\n',
  'data/train.jsonl': '{"question": "q1", "answer": "a1"}\n',
  'data/eval.jsonl': '{"answer": "a1"}\n',
};

export const baseEnv = { AOAI_API_BASE: 'http://127.0.0.1:9', AOAI_API_KEY: 'sk-SECRET-VALUE-1234' };

/** A repository (it has .git) holding the base use case with `changes` applied (null deletes a file). */
export function makeUseCase(changes: Record<string, string | null> = {}): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-uc-'));
  mkdirSync(path.join(dir, '.git'));
  for (const [file, content] of Object.entries({ ...baseFiles, ...changes })) {
    if (content === null) continue;
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The base experiment with text replaced; fails loudly if the text to replace is not there. */
export function experimentWith(from: string, to: string): string {
  if (!baseExperiment.includes(from)) throw new Error(`test bug: ${JSON.stringify(from)} not in the base experiment`);
  return baseExperiment.replace(from, to);
}

/** A one-llm-node chat flow (`flows/std`) asking `{{question}}` through the connection `connection`. */
export function llmNodeFlow(connection = 'aoai', deployment = 'gpt-35-turbo'): Record<string, string> {
  const flow = `inputs:
  question:
    type: string
outputs:
  answer:
    type: string
    reference: \${ask.output}
nodes:
- name: ask
  type: llm
  source:
    type: code
    path: ask.jinja2
  inputs:
    deployment_name: ${deployment}
    question: \${inputs.question}
  connection: ${connection}
  api: chat
`;
  return { 'flows/std/flow.dag.yaml': flow, 'flows/std/ask.jinja2': '# user:\n{{question}}\n' };
}
