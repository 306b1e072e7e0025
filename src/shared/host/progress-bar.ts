/** A terminal progress bar (cli-progress) for a run, on stderr. */
import cliProgress from 'cli-progress';
import type { ProgressReporter, ProgressState } from '../runs/progress.js';

export function progressBar(label: string): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.slice(0, 48)} [{bar}] {value}/{total} lines | {failed} failed | {rate} lines/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const payload = (s: ProgressState) => ({ failed: s.failed, rate: s.rate.toFixed(1) });
  return {
    start: (s) => bar.start(s.total, s.done, payload(s)),
    update: (s) => bar.update(s.done, payload(s)),
    finish: (s) => {
      bar.update(s.done, payload(s));
      bar.stop();
    },
  };
}
