/**
 * One progress display for a step whose runs share a line pool: lines done of all the step's lines, fed by the
 * progress of each run. A run's own end is told by the step in one line of its own.
 * @module
 */
import type { Host } from '../host/host.js';
import type { ProgressReporter, ProgressState } from '../runs/index.js';
import { progressFor } from './progress.js';

export class StepProgress {
  private readonly display: ProgressReporter;
  private readonly started = performance.now();
  private done = 0;
  private failed = 0;
  private skipped = 0;
  private sessionDone = 0;
  private shown = false;

  /** `total`: lines of all the runs (or shard pieces) the step executes. */
  constructor(
    host: Host,
    label: string,
    private total: number,
  ) {
    this.display = progressFor(host, label);
  }

  /**
   * The reporter of one run covering `lines` of the step's lines. A run's own counts may include lines outside
   * its piece (other shards): only what this session finishes, plus what was finished before within the
   * piece's size, is counted.
   */
  forRun(lines: number): ProgressReporter {
    let base = 0;
    let counted = 0;
    let failedBase = 0;
    let failedCounted = 0;
    const apply = (s: ProgressState) => {
      const now = Math.min(lines, s.done - base + Math.min(s.skipped, lines));
      const failedNow = s.failed - failedBase;
      this.done += now - counted;
      this.failed += failedNow - failedCounted;
      counted = now;
      failedCounted = failedNow;
    };
    return {
      start: (s) => {
        base = s.done;
        failedBase = s.failed;
        this.skipped += Math.min(s.skipped, lines);
        apply(s);
        this.show();
      },
      update: (s) => {
        const before = counted;
        apply(s);
        this.sessionDone += counted - before;
        this.display.update(this.state());
      },
      finish: (s) => {
        const before = counted;
        apply(s);
        // A run that ended complete with fewer lines than planned (stopped early) leaves the rest out of the step.
        if (s.total < lines) this.total -= lines - Math.max(s.total, counted);
        this.sessionDone += counted - before;
        this.display.update(this.state());
      },
    };
  }

  /** A run kept from before (finished earlier) counts as done. */
  kept(lines: number): void {
    this.done += lines;
    this.skipped += lines;
  }

  finish(): void {
    this.show();
    this.display.finish(this.state());
  }

  private show(): void {
    if (this.shown) return;
    this.shown = true;
    this.display.start(this.state());
  }

  private state(): ProgressState {
    const elapsedMs = performance.now() - this.started;
    const rate = this.sessionDone / Math.max(elapsedMs / 1000, 1e-6);
    const left = this.total - this.done;
    return {
      total: this.total,
      done: this.done,
      failed: this.failed,
      skipped: this.skipped,
      elapsedMs,
      rate,
      etaMs: this.sessionDone > 0 ? (left / rate) * 1000 : undefined,
    };
  }
}
