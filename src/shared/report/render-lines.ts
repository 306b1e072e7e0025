/**
 * Walks the lines once and hands each to every renderer: in memory (tests, a results value), or streamed into
 * files with the writes' backpressure respected, so a million lines pass through without being held.
 * @module
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { ReportData } from '../results/report-data.js';
import type { LineRenderer, ReportFile } from './types.js';

/** Renders the files of (synchronous, in-memory) report data. */
export function renderInMemory(data: ReportData, make: (data: ReportData) => LineRenderer[]): ReportFile[] {
  const renderers = make(data);
  const parts = renderers.map((r) => [r.start()]);
  const lines = data.lines();
  if (Symbol.asyncIterator in lines) throw new TypeError('renderInMemory: the lines are a stream; use writeReports');
  for (const l of lines)
    renderers.forEach((r, i) => {
      const text = r.line(l);
      if (text) parts[i].push(text);
    });
  return renderers.map((r, i) => ({ name: r.name, content: parts[i].join('') + r.end() }));
}

/** Text gathered per file and handed to its stream in chunks of this size (a write per row is slow). */
const CHUNK = 16 * 1024;

/** Streams every renderer's file into `dir`; the lines are walked once. */
export async function renderToFiles(data: ReportData, renderers: LineRenderer[], dir: string): Promise<void> {
  const outs = renderers.map((r) => new FileOut(path.join(dir, r.name)));
  try {
    for (let i = 0; i < renderers.length; i++) await outs[i].write(renderers[i].start());
    const walking = renderers.map((r, i) => i).filter((i) => renderers[i].walksLines !== false);
    if (walking.length > 0)
      for await (const l of data.lines())
        for (const i of walking) {
          const text = renderers[i].line(l);
          if (text) await outs[i].write(text);
        }
    for (let i = 0; i < renderers.length; i++) {
      await outs[i].write(renderers[i].end());
      await outs[i].close();
    }
  } catch (err) {
    await Promise.all(outs.map((o) => o.close().catch(() => undefined)));
    throw err;
  }
}

class FileOut {
  private readonly stream: WriteStream;
  private pending: string[] = [];
  private size = 0;
  private failure: Error | undefined;
  /** Wakes a write waiting for 'drain' (also on an error, after which 'drain' never comes). */
  private wake: (() => void) | undefined;
  constructor(file: string) {
    this.stream = createWriteStream(file, { encoding: 'utf8' });
    this.stream.on('error', (e) => {
      this.failure = e;
      this.wake?.();
    });
    this.stream.on('drain', () => this.wake?.());
  }
  async write(text: string): Promise<void> {
    if (!text) return;
    this.pending.push(text);
    this.size += text.length;
    if (this.size >= CHUNK) await this.flush();
  }
  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.size = 0;
    if (!this.stream.write(chunk) && !this.failure) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    if (this.failure) throw this.failure;
  }
  async close(): Promise<void> {
    if (!this.stream.writable) return;
    await this.flush();
    await new Promise<void>((resolve, reject) =>
      this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
}
