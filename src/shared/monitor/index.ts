/**
 * `llmops monitor`: what served flows recorded over a window, as a report (HTML, Markdown, JSON), and with
 * `compare`, the verdict on a candidate version against a reference (production A/B).
 * @module
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import type { UseCase } from '../config/types.js';
import { LlmService, type LlmServiceOptions } from '../engine/index.js';
import { computeDrift, readBaseline, type DriftResult } from './drift.js';
import { evaluateSample } from './evaluate-sample.js';
import { sampleRequests } from './judges.js';
import { isError } from './records.js';
import { compareDeployments, type CompareOptions, type CompareResult } from './compare.js';
import { parseDuration, parseInstant, readMonitorData, withinWindow } from './read.js';
import { UNKNOWN_DEPLOYMENT, summarizeMonitor, type FeedbackRule } from './summary.js';
import { MONITOR_FILE_NAMES, renderMonitor, type MonitorFormat, type MonitorReport } from './render.js';
import type { MonitorData } from './records.js';

export { readMonitorData, withinWindow, parseDuration, parseInstant, monitorFiles } from './read.js';
export { compareDeployments, parseMargins, meets, DEFAULT_MARGIN, DEFAULT_MIN_REQUESTS } from './compare.js';
export type { CompareResult, CompareVerdict, MetricComparison, Margins } from './compare.js';
export { summarizeMonitor, DEFAULT_FEEDBACK_RULE, type MonitorSummary, type GroupSummary } from './summary.js';
export { renderMonitor, MONITOR_FILE_NAMES, type MonitorReport, type MonitorFormat } from './render.js';
export type { MonitorData, RequestRecord, FeedbackRecord } from './records.js';
export { computeDrift, type DriftResult, type DriftFigure } from './drift.js';

export interface MonitorOptions {
  /** Request logs, folders of them, OTLP file exports. */
  sources: string[];
  /** ISO date-time or a duration before now (`24h`). */
  since?: string;
  until?: string;
  /** Same as `since` given as a duration: the last `window` before `until` (or now). */
  window?: string;
  compare?: Omit<CompareOptions, 'candidate' | 'reference'> & { candidate?: string; reference?: string };
  feedback?: FeedbackRule;
  level?: number;
  now?: number;
  /** The last evaluation's results.json: drift of the reference-free figures against its lines. */
  baseline?: string;
  /** Logged output columns holding judge or safety scores (compared and checked for drift). */
  judges?: readonly string[];
  /**
   * With `baseline`: run every reference-free evaluator of the use case (judges, safety, the user's own) on a
   * sample of the window's answered requests.
   */
  judgeSample?: {
    useCase: UseCase;
    size: number;
    llm?: LlmService | LlmServiceOptions;
    python?: string;
  };
}

/** Who is compared with whom: as named, else of exactly two deployments the one seen first is the reference. */
export function pickVersions(
  data: MonitorData,
  candidate?: string,
  reference?: string,
): { candidate: string; reference: string } {
  const firstSeen = new Map<string, number>();
  for (const r of data.requests) {
    const d = r.deployment ?? UNKNOWN_DEPLOYMENT;
    if (!firstSeen.has(d)) firstSeen.set(d, r.time);
  }
  const names = [...firstSeen.keys()];
  const listed = names.length ? names.join(', ') : 'none';
  for (const [given, option] of [
    [candidate, '--candidate'],
    [reference, '--reference'],
  ] as const)
    if (given !== undefined && !firstSeen.has(given))
      throw ConfigError.at(
        { file: option },
        `no request in the window was answered by ${JSON.stringify(given)}; deployments seen: ${listed}`,
      );
  if (candidate && reference) return { candidate, reference };
  const others = names.filter((n) => n !== candidate && n !== reference);
  if (candidate && others.length === 1) return { candidate, reference: others[0] };
  if (reference && others.length === 1) return { candidate: others[0], reference };
  if (!candidate && !reference && names.length === 2) {
    const [older, newer] = names.sort((a, b) => firstSeen.get(a)! - firstSeen.get(b)!);
    return { candidate: newer, reference: older };
  }
  throw ConfigError.at(
    { file: '--compare' },
    `found ${names.length} deployment(s) in the window (${listed}); expected two, or name them with --candidate and --reference (LLMOPS_DEPLOYMENT / flow serve --deployment names them in the request log)`,
  );
}

export async function buildMonitorReport(o: MonitorOptions): Promise<MonitorReport> {
  const now = o.now ?? Date.now();
  if (o.window !== undefined && o.since !== undefined)
    throw ConfigError.at({ file: '--window' }, 'given with --since; expected one of them');
  const until = o.until !== undefined ? parseInstant(o.until, '--until', now) : undefined;
  let since = o.since !== undefined ? parseInstant(o.since, '--since', now) : undefined;
  if (o.window !== undefined) {
    const span = parseDuration(o.window);
    if (span === undefined)
      throw ConfigError.at(
        { file: '--window' },
        `found ${JSON.stringify(o.window)}; expected a duration (30m, 24h, 7d)`,
      );
    since = (until ?? now) - span;
  }
  const data = withinWindow(readMonitorData(o.sources), since, until);
  const summary = summarizeMonitor(data, { since, until, level: o.level, feedback: o.feedback });
  let compare: CompareResult | undefined;
  if (o.compare) {
    const who = pickVersions(data, o.compare.candidate, o.compare.reference);
    compare = compareDeployments(data, { ...o.compare, ...who, feedback: o.feedback });
  }
  let drift: DriftResult | undefined;
  if (o.baseline) {
    readBaseline(o.baseline); // a bad baseline is refused before any judge is called
    const j = o.judgeSample;
    const sampled = j
      ? await evaluateSample({
          useCase: j.useCase,
          llm: j.llm instanceof LlmService ? j.llm : new LlmService(j.llm ?? {}),
          python: j.python ?? j.useCase.execution.python,
          concurrency: j.useCase.execution.concurrency,
          requests: sampleRequests(
            data.requests.filter((r) => !isError(r)),
            j.size,
          ),
        })
      : undefined;
    drift = computeDrift(data, o.baseline, {
      judges: o.judges,
      evaluated: sampled?.evaluated,
      skipped: sampled?.skipped,
    });
  }
  return {
    generatedAt: new Date(now).toISOString(),
    summary,
    ...(compare ? { compare } : {}),
    ...(drift ? { drift } : {}),
  };
}

/** Writes the report in each format to `dir` (each file whole or not at all); returns the paths. */
export function writeMonitorReports(r: MonitorReport, dir: string, formats: readonly MonitorFormat[]): string[] {
  mkdirSync(dir, { recursive: true });
  return formats.map((f) => {
    const file = path.join(dir, MONITOR_FILE_NAMES[f]);
    writeFileAtomic(file, renderMonitor(r, f));
    return file;
  });
}
