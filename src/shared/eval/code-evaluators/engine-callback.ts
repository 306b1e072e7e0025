/**
 * The engine's side of the evaluation SDK stand-in (callback `code_evaluator`, see
 * src/shared/engine/python/shim/promptflow/evals): the score of one built-in evaluator for one line
 * (an LLM judge prompty run through the engine's LLM service, or a deterministic metric), and the
 * line errors an `evaluate()` call collected.
 * @module
 */
import { assetPath } from '../../assets.js';
import { callPrompty, type LlmService, type PromptyCache, type Usage } from '../../engine/index.js';
import { alphanumericTokens, bleu, lcsLength, rougeL, tokenF1 } from '../metrics/index.js';
import { llmJudges } from '../builtin/run-builtin.js';

/** One line's failure inside `evaluate()` (the target or one evaluator), as the shim reports it. */
export interface CodeEvalLineError {
  line: number;
  evaluator: string | null;
  message: string;
  traceback?: string;
}

/** What a code evaluator's call carries to its callbacks (the `context` of the worker request). */
export interface CodeEvalContext {
  /** Token accounting of the evaluation run (the same shape the engine's callbacks use). */
  usage: Usage[];
  signal?: AbortSignal;
  lineErrors: CodeEvalLineError[];
}

const text = (v: unknown) => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));

/** The handler registered as `codeEvaluator` on the worker pool's callbacks. */
export function codeEvaluatorCallback(service: LlmService, prompties: PromptyCache) {
  return async (req: Record<string, unknown>, { context }: { context: unknown }): Promise<unknown> => {
    const ctx = context as CodeEvalContext | undefined;
    if (req.action === 'line_errors') {
      ctx?.lineErrors.push(...((req.errors as CodeEvalLineError[]) ?? []));
      return null;
    }
    if (req.action !== 'score') throw new Error(`unknown code_evaluator action ${JSON.stringify(req.action)}`);
    const builtin = String(req.evaluator);
    const inputs = (req.inputs as Record<string, unknown>) ?? {};
    if ((llmJudges as readonly string[]).includes(builtin)) {
      const configuration = req.model_config as Record<string, unknown> | undefined;
      const p = prompties.get(
        assetPath(`src/shared/eval/judges/${builtin}.prompty`),
        configuration ? { model: { configuration } } : {},
      );
      // The judge prompty's inputs are its own; extra SDK inputs (e.g. context for relevance) are not part of its rubric.
      const given = Object.fromEntries(Object.entries(inputs).filter(([k]) => p.signature.includes(k)));
      for (const name of p.signature) given[name] ??= '';
      const answer = await callPrompty(service, p, given, ctx?.usage ?? [], ctx?.signal);
      return typeof answer === 'string' ? parseJudgeAnswer(answer) : answer;
    }
    const prediction = text(inputs.answer);
    const reference = text(inputs.ground_truth);
    switch (builtin) {
      case 'f1_score':
        return tokenF1(prediction, reference);
      case 'bleu':
        return bleu(prediction, reference);
      case 'rouge_l': {
        const lcs = lcsLength(alphanumericTokens(prediction), alphanumericTokens(reference));
        const candidateLength = alphanumericTokens(prediction).length;
        const referenceLength = alphanumericTokens(reference).length;
        return {
          precision: candidateLength ? lcs / candidateLength : 0,
          recall: referenceLength ? lcs / referenceLength : 0,
          f1: rougeL(prediction, reference),
        };
      }
      default:
        throw new Error(`no llmops built-in evaluator "${builtin}"`);
    }
  };
}

/** A judge answered with text (no JSON response format honoured): its JSON, or its first number as the score. */
function parseJudgeAnswer(answer: string): unknown {
  try {
    return JSON.parse(answer);
  } catch {
    const m = /\d+(\.\d+)?/.exec(answer);
    return { score: m ? Number(m[0]) : null, reason: answer };
  }
}
