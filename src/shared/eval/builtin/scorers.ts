/**
 * Built-in evaluators computed without a flow: each maps one standard line (its mapped inputs
 * and run record) to a score; embedding similarity embeds both texts through the engine's LLM
 * service. LLM-judged evaluators are prompty flows (judges/), not here.
 */
import type { LineRecord } from '../../runs/index.js';
import { bleu, cosineSimilarity, exactMatch, jsonSchemaValid, regexMatch, rougeL, tokenF1 } from '../metrics/index.js';
import { safetyScorers, type SafetyServices } from './safety-scorers.js';

export interface ScorerInput {
  /** Inputs from the evaluator dataset's mappings (prediction, reference, ...). */
  inputs: Record<string, unknown>;
  record: LineRecord;
  options: Record<string, unknown>;
  /** Embeddings of texts through the engine's LLM service (embedding_similarity only). */
  embed?: (texts: string[]) => Promise<number[][]>;
  /** The redactor and Content Safety client (safety built-ins only). */
  safety?: SafetyServices;
}

/** A score with more per-line outputs beside it (e.g. the kinds of PII found). */
export interface ScoredLine {
  score: number | undefined;
  details: Record<string, unknown>;
}

export interface Scorer {
  /** Name of the per-line score and of the aggregated metric (its mean). */
  metric: string;
  /** Mapped inputs the scorer reads. */
  needs: string[];
  /** Mapped inputs the scorer reads when the dataset maps them (at least one of them must be). */
  optional?: string[];
  score(input: ScorerInput): number | undefined | ScoredLine | Promise<number | undefined | ScoredLine>;
}

const text = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const references = (v: unknown) => (Array.isArray(v) ? v.map(text) : text(v));

export const scorers: Record<string, Scorer> = {
  exact_match: {
    metric: 'exact_match',
    needs: ['prediction', 'reference'],
    score: ({ inputs, options }) =>
      exactMatch(text(inputs.prediction), references(inputs.reference), {
        caseInsensitive: Boolean(options.case_insensitive),
      }),
  },
  token_f1: {
    metric: 'token_f1',
    needs: ['prediction', 'reference'],
    score: ({ inputs }) => tokenF1(text(inputs.prediction), references(inputs.reference)),
  },
  bleu: {
    metric: 'bleu',
    needs: ['prediction', 'reference'],
    score: ({ inputs }) => bleu(text(inputs.prediction), references(inputs.reference)),
  },
  rouge_l: {
    metric: 'rouge_l',
    needs: ['prediction', 'reference'],
    score: ({ inputs }) => rougeL(text(inputs.prediction), references(inputs.reference)),
  },
  regex: {
    metric: 'regex_match',
    needs: ['prediction'],
    score: ({ inputs, options }) =>
      regexMatch(text(inputs.prediction), String(options.pattern), { fullMatch: Boolean(options.full_match) }),
  },
  json_schema: {
    metric: 'json_schema_valid',
    needs: ['prediction'],
    score: ({ inputs, options }) => jsonSchemaValid(inputs.prediction, options.schema as object),
  },
  embedding_similarity: {
    metric: 'embedding_similarity',
    needs: ['prediction', 'reference'],
    score: async ({ inputs, embed }) => {
      const [a, b] = await embed!([text(inputs.prediction), text(inputs.reference)]);
      return cosineSimilarity(a, b);
    },
  },
  latency: { metric: 'latency_ms', needs: [], score: ({ record }) => record.latency_ms },
  cost: { metric: 'cost_usd', needs: [], score: ({ record }) => record.cost_usd },
  ...safetyScorers,
};

/** Options a scorer cannot work without: checked before any line runs. */
export function missingOptions(builtin: string, options: Record<string, unknown>): string | undefined {
  if (builtin === 'regex' && typeof options.pattern !== 'string') return 'options.pattern (a regular expression)';
  if (builtin === 'json_schema' && (typeof options.schema !== 'object' || options.schema === null))
    return 'options.schema (a JSON Schema object)';
  if (
    builtin === 'embedding_similarity' &&
    (typeof options.connection !== 'string' || typeof options.deployment !== 'string')
  )
    return 'options.connection (a connection name) and options.deployment (the embedding model or deployment)';
  return undefined;
}
