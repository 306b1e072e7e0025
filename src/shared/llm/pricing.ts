/**
 * Model prices and the cost of a call.
 *
 * Source: OpenAI API pricing, https://openai.com/api/pricing/ (standard tier, USD per 1M tokens), as known on
 * 2025-08-15; Azure OpenAI global deployments list the same prices per model
 * (https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/). Prices change: callers
 * override or extend the table with their own (`mergePrices`), e.g. from experiment configuration.
 * @module
 */

/** USD per 1M tokens. */
export interface ModelPrice {
  input: number;
  output: number;
}

export type PriceTable = Record<string, ModelPrice>;

export const DEFAULT_PRICES: Readonly<PriceTable> = Object.freeze({
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4-turbo': { input: 10, output: 30 },
  'gpt-4': { input: 30, output: 60 },
  'gpt-4-32k': { input: 60, output: 120 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
  'gpt-3.5-turbo-instruct': { input: 1.5, output: 2 },
  o1: { input: 15, output: 60 },
  'o1-mini': { input: 1.1, output: 4.4 },
  o3: { input: 2, output: 8 },
  'o3-mini': { input: 1.1, output: 4.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
  'text-embedding-ada-002': { input: 0.1, output: 0 },
  'davinci-002': { input: 2, output: 2 },
  'babbage-002': { input: 0.4, output: 0.4 },
});

/** Azure spells some models differently. */
const ALIASES: Record<string, string> = {
  'gpt-35-turbo': 'gpt-3.5-turbo',
  'gpt-35-turbo-instruct': 'gpt-3.5-turbo-instruct',
  'gpt-35-turbo-16k': 'gpt-3.5-turbo',
  'gpt-4-turbo-preview': 'gpt-4-turbo',
};

/** The default table with the user's entries added or replacing defaults. Keys are model names (case-insensitive). */
export function mergePrices(user: PriceTable = {}, base: Readonly<PriceTable> = DEFAULT_PRICES): PriceTable {
  const out: PriceTable = {};
  for (const [k, v] of Object.entries(base)) out[k.toLowerCase()] = v;
  for (const [k, v] of Object.entries(user)) out[k.toLowerCase()] = v;
  return out;
}

/**
 * The price of a model: exact name, then Azure alias, then without a date/version suffix
 * (`gpt-4o-2024-08-06` → `gpt-4o`, `gpt-4-0613` → `gpt-4`). Undefined when unknown.
 */
export function priceOf(model: string, table: Readonly<PriceTable> = DEFAULT_PRICES): ModelPrice | undefined {
  const lookup = (name: string) => table[name] ?? table[ALIASES[name] ?? ''];
  const name = model.trim().toLowerCase();
  const direct = lookup(name);
  if (direct) return direct;
  const undated = name.replace(/-(\d{4}-\d{2}-\d{2}|\d{4}|preview)$/, '');
  return undated !== name ? lookup(undated) : undefined;
}

/** Cost in USD of a call's usage; undefined (not 0) when the model's price is unknown. */
export function estimateCost(
  model: string,
  usage: { promptTokens: number; completionTokens: number },
  table: Readonly<PriceTable> = DEFAULT_PRICES,
): number | undefined {
  const price = priceOf(model, table);
  if (!price) return undefined;
  return (usage.promptTokens * price.input + usage.completionTokens * price.output) / 1_000_000;
}
