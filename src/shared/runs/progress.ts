/**
 * Progress of a batch run. The core only calls this interface; the CLI draws a bar in a TTY and prints a
 * plain line every 10% otherwise (`plainProgress`).
 * @module
 */

export interface ProgressState {
  total: number;
  /** Lines finished (this session and, on resume, before). */
  done: number;
  failed: number;
  /** Lines finished before this session (resume). */
  skipped: number;
  elapsedMs: number;
  /** Lines per second this session. */
  rate: number;
  /** Remaining time estimate in ms (undefined before the first line). */
  etaMs?: number;
}

export interface ProgressReporter {
  start(state: ProgressState): void;
  update(state: ProgressState): void;
  finish(state: ProgressState): void;
}

function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** A line every 10% (and at the end): `lines 500/1000 (50%), 3 failed, 120.5 lines/s, ETA 4s`. */
export function plainProgress(write: (line: string) => void): ProgressReporter {
  let nextStep = 10;
  const line = (s: ProgressState) => {
    const pct = s.total > 0 ? Math.floor((s.done / s.total) * 100) : 100;
    return `lines ${s.done}/${s.total} (${pct}%), ${s.failed} failed, ${s.rate.toFixed(1)} lines/s, ETA ${fmtMs(s.etaMs)}`;
  };
  return {
    start(s) {
      write(`running ${s.total - s.skipped} line(s)${s.skipped ? ` (${s.skipped} already finished)` : ''}`);
      nextStep = Math.floor((s.done / Math.max(1, s.total)) * 10) * 10 + 10;
    },
    update(s) {
      const pct = s.total > 0 ? (s.done / s.total) * 100 : 100;
      if (pct >= nextStep && s.done < s.total) {
        write(line(s));
        while (nextStep <= pct) nextStep += 10;
      }
    },
    finish(s) {
      write(line(s));
    },
  };
}
