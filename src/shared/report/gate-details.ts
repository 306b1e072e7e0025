/** A gate's details as the reports print them: its message, then the power caveat when there is one. */
import type { GateResult } from '../results/model.js';
import { formatNumber } from './format.js';

export function gateDetails(g: GateResult): string {
  const parts = [g.message];
  if (g.mde !== undefined && !g.warning) parts.push(`(MDE ${formatNumber(g.mde)} at 80% power)`);
  if (g.warning) parts.push(`⚠️ ${g.warning}`);
  return parts.join(' ');
}
