/** The progress of a run as the host shows it: a bar in a terminal, a plain line every 10% in CI logs. */
import type { Host } from '../host/host.js';
import { plainProgress, type ProgressReporter } from '../runs/index.js';

export function progressFor(host: Host, label: string): ProgressReporter {
  const bar = host.progress?.(label);
  if (bar) return bar;
  const plain = plainProgress((line) => host.info(`  ${line}`));
  // A 10%-line for a run of a few lines is noise: small runs say only where they start and end.
  return { start: plain.start, finish: plain.finish, update: (s) => (s.total >= 100 ? plain.update(s) : undefined) };
}
