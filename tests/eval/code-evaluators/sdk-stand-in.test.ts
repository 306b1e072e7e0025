/**
 * The evaluation SDK stand-in's evaluator classes and evaluate() options, run through a code
 * evaluator session (real worker, local model server): composite and deterministic evaluators, a
 * shared "default" mapping, no target, and an evaluator the stand-in does not provide.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from '../../../src/shared/config/connections.js';
import { LlmService } from '../../../src/shared/engine/index.js';
import { openCodeEvaluator } from '../../../src/shared/eval/code-evaluators/index.js';
import { loadCodeEvaluator } from '../../../src/shared/flow/index.js';
import { startModelServer, type ModelServerHandle } from '../../../src/model-server/index.js';
import { readLineRecords } from '../../../src/shared/runs/index.js';

let server: ModelServerHandle;
let dir: string;
beforeAll(async () => {
  server = await startModelServer({
    rules: [{ match: 'Rate the (\\w+)', scope: 'all', json: { score: 4, reason: 'fine' } }],
  });
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-sdk-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const evalSdk = `from promptflow.evals.evaluate import evaluate
from promptflow.evals.evaluators import BleuScoreEvaluator, QAEvaluator, RougeScoreEvaluator, RougeType
from promptflow.core import AzureOpenAIModelConfiguration


def eval_sdk(run_name, data_path, column_mapping, output_path):
    config = AzureOpenAIModelConfiguration(connection="aoai", azure_deployment="judge")
    return evaluate(
        data=data_path,
        evaluators={"qa": QAEvaluator(config), "rouge": RougeScoreEvaluator(RougeType.ROUGE_L), "bleu": BleuScoreEvaluator()},
        evaluator_config={"default": column_mapping},
    )


def eval_unavailable(run_name, data_path, column_mapping, output_path):
    from azure.ai.evaluation import ViolenceEvaluator
    ViolenceEvaluator(azure_ai_project={}, credential=None)
`;

test('QAEvaluator, ROUGE-L and BLEU score the data without a target; an evaluator the stand-in lacks fails its function with a clear error', async () => {
  const useCaseDir = path.join(dir, 'uc');
  const folder = path.join(useCaseDir, 'flows', 'eval_sdk');
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'eval_sdk.py'), evalSdk);
  const data = path.join(useCaseDir, 'data.jsonl');
  writeFileSync(
    data,
    JSON.stringify({
      q: 'Capital of France?',
      a: 'Paris is the capital of France',
      c: 'Paris is the capital of France.',
      gt: 'The capital of France is Paris',
    }) + '\n',
  );
  const connections: Connection[] = [
    {
      name: 'aoai',
      type: 'AzureOpenAIConnection',
      value: { api_base: server.url, api_key: 'k', api_version: '2024-06-01' },
      secretKeys: ['api_key'],
    },
  ];
  const session = await openCodeEvaluator({
    name: 'sdk',
    code: loadCodeEvaluator(folder),
    useCaseDir,
    flowDir: folder,
    connections,
    llm: new LlmService(),
    concurrency: 2,
  });
  try {
    const store = path.join(dir, 'store');
    const summary = await session.run({
      runId: 'e1',
      storeRoot: store,
      runName: 'uc_eval_1',
      data,
      mappings: { question: '${data.q}', answer: '${data.a}', context: '${data.c}', ground_truth: '${data.gt}' },
    });
    expect(summary.error).toMatch(
      /eval_unavailable failed at .*eval_sdk\.py:\d+: \(NotImplementedError\) ViolenceEvaluator is not available without the real evaluation SDK package; llmops provides .*GroundednessEvaluator/,
    );
    expect(summary.metrics).toMatchObject({
      'qa.gpt_groundedness': 4,
      'qa.gpt_relevance': 4,
      'qa.gpt_coherence': 4,
      'qa.gpt_fluency': 4,
      'qa.gpt_similarity': 4,
      'qa.f1_score': 1,
      'rouge.rouge_recall': expect.any(Number),
      'rouge.rouge_precision': expect.any(Number),
      'bleu.bleu_score': expect.any(Number),
    });
    expect(summary.metrics['rouge.rouge_f1_score']).toBeCloseTo(4 / 6, 10); // longest common subsequence: "the capital of france"
    expect(summary.llmCalls).toBe(5);
    const lines = [];
    for await (const r of readLineRecords(path.join(store, 'runs', 'e1', 'outputs.jsonl'))) lines.push(r);
    expect(lines).toHaveLength(1);
    expect(lines[0].status).toBe('Failed'); // the failed function fails every line, with its error
  } finally {
    await session.close();
  }
});
