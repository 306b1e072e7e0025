/**
 * What a report says about repeated sampling (`repeat: K`): for each pass/fail metric, pass@k (at least one of k
 * answers passes) and how consistent a data line's K answers are, one sentence per metric and variant.
 * @module
 */
import type { ResultsSummary } from '../results/model.js';
import { formatNumber } from './format.js';

export function repeatedSentences(r: Pick<ResultsSummary, 'metrics'>): string[] {
  return r.metrics.flatMap((m) => {
    const s = m.repeated;
    if (!s) return [];
    const share = Math.round(s.unanimousShare * 100);
    return [
      `${m.evaluator}.${m.metric} (${m.variantId}), each of ${s.dataLines} data lines answered ${s.k} times: ` +
        `pass@${s.k} ${formatNumber(s.passAtK)}; all ${s.k} answers agree on ${share}% of data lines ` +
        `(pairwise agreement ${formatNumber(s.pairwiseAgreement)}).`,
    ];
  });
}
