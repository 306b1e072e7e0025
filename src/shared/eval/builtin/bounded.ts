/**
 * Built-in scorers whose per-line score always lies in [0, 1] and needs no model: the ones an `early_stop` gate
 * can decide while the run goes (builtin name → its metric). Data only, so the config checks can name them.
 */
export const EARLY_STOP_SCORERS: Readonly<Record<string, string>> = {
  exact_match: 'exact_match',
  token_f1: 'token_f1',
  bleu: 'bleu',
  rouge_l: 'rouge_l',
  regex: 'regex_match',
  json_schema: 'json_schema_valid',
};
