/**
 * A use case written for these tests in the template's shape: a flex flow answering from a prompty,
 * and a code-only evaluator folder (`flows/eval_code`) whose eval_ functions call the evaluation SDK
 * with `target=` the flow function — one in the promptflow-evals form (returns the result), one in the
 * azure-ai-evaluation form (only writes it under output_path).
 */
export const experiment = `name: qa_app
flow: flows/answer
connections:
  - name: aoai
    connection_type: AzureOpenAIConnection
    api_base: \${api_base}
    api_key: \${api_key}
datasets:
  - name: qa
    source: data/qa.jsonl
    mappings:
      question: \${data.question}
      context: \${data.context}
evaluators:
  - name: quality
    flow: flows/eval_code
    datasets:
      - name: qa_eval
        reference: qa
        source: data/qa.jsonl
        mappings:
          context: \${data.context}
          answer: \${target.answer}
          ground_truth: \${data.ground_truth}
`;

export const data =
  [
    {
      question: 'What is the capital of France?',
      context: 'Paris is the capital of France.',
      ground_truth: 'The capital of France is Paris.',
    },
    {
      question: 'What is the capital of Italy?',
      context: 'Rome is the capital of Italy.',
      ground_truth: 'The capital of Italy is Rome.',
    },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n') + '\n';

/** The model: answers "The capital of X is Paris." and judges groundedness 4, relevance 5. */
export const rules = [
  { match: 'Rate the groundedness', scope: 'all' as const, json: { score: 4, reason: 'supported by the context' } },
  { match: 'Rate the relevance', scope: 'all' as const, json: { score: 5, reason: 'answers the question' } },
  { match: 'capital of (\\w+)', answer: 'The capital of {{1}} is Paris.' },
];

const flowPy = `from pathlib import Path

from promptflow.core import AzureOpenAIModelConfiguration, Prompty

HERE = Path(__file__).parent


def answer(question: str, context: str = "") -> dict:
    config = AzureOpenAIModelConfiguration(connection="aoai", azure_deployment="gpt-4o")
    prompty = Prompty.load(HERE / "answer.prompty", model={"configuration": config})
    return {"answer": prompty(question=question, context=context)}
`;

const answerPrompty = `---
name: answer
model:
  api: chat
  configuration:
    type: azure_openai
    connection: aoai
    azure_deployment: gpt-4o
  parameters:
    temperature: 0
inputs:
  question:
    type: string
  context:
    type: string
---
system:
Answer from the context in one sentence.

user:
Context: {{context}}
Question: {{question}}
`;

/** promptflow-evals form, as the template's eval_groundness.py: returns evaluate()'s result. */
export const evalPromptflow = `import os

from promptflow.core import AzureOpenAIModelConfiguration
from promptflow.evals.evaluate import evaluate
from promptflow.evals.evaluators import F1ScoreEvaluator, GroundednessEvaluator
from qa_app.flows.answer.flow import answer


def answer_words(answer):
    return {"words": len(answer.split())}


def eval_quality(run_name, data_path, column_mapping, output_path, azure_service={}):
    config = AzureOpenAIModelConfiguration(connection="aoai", azure_deployment="gpt-4o")
    return evaluate(
        evaluation_name=run_name,
        data=data_path,
        target=answer,
        evaluators={"grounded": GroundednessEvaluator(model_config=config), "f1": F1ScoreEvaluator(), "length": answer_words},
        evaluator_config={"grounded": column_mapping, "f1": column_mapping, "length": column_mapping},
        azure_ai_project=azure_service,
        output_path=f"{output_path}/{run_name}.json",
    )
`;

/** azure-ai-evaluation form: dict model configuration from the environment, nested column_mapping, result only written to output_path. */
export const evalAzure = `import os

from azure.ai.evaluation import AzureOpenAIModelConfiguration, RelevanceEvaluator, evaluate
from flow import answer


def eval_relevance(run_name, data_path, column_mapping, output_path):
    model_config = AzureOpenAIModelConfiguration(
        azure_endpoint=os.environ["AOAI_API_BASE"], api_key=os.environ["AOAI_API_KEY"],
        azure_deployment="gpt-4o", api_version="2024-06-01")
    evaluate(
        data=data_path,
        target=answer,
        evaluators={"relevance": RelevanceEvaluator(model_config)},
        evaluator_config={"relevance": {"column_mapping": {"query": "\${data.question}", "response": "\${target.answer}"}}},
        output_path=output_path,
    )
`;

export const files: Record<string, string> = {
  'qa_app/experiment.yaml': experiment,
  'qa_app/data/qa.jsonl': data,
  'qa_app/flows/answer/flow.flex.yaml': 'entry: flow:answer\n',
  'qa_app/flows/answer/flow.py': flowPy,
  'qa_app/flows/answer/answer.prompty': answerPrompty,
  'qa_app/flows/eval_code/eval_quality.py': evalPromptflow,
  'qa_app/flows/eval_code/eval_relevance.py': evalAzure,
};
