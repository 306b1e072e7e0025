/**
 * The history the trend is drawn from: one small file per build in the run store (`history/<experiment>/`),
 * holding each metric of the default variant with its interval, plus earlier results.json files given by path
 * (a previous CI run's artifact, when the store is not kept between builds).
 * @module
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { ResultsSummary } from '../results/model.js';
import { readResultsFile } from './read.js';

/** Builds the trend shows unless told otherwise. */
export const DEFAULT_TREND_BUILDS = 10;

export interface HistoryPoint {
  evaluator: string;
  metric: string;
  higherIsBetter: boolean;
  value: number;
  lower?: number;
  upper?: number;
  n?: number;
}

export interface HistoryEntry {
  /** The build id, or the results' creation time when the build is unknown. */
  build: string;
  createdAt: string;
  points: HistoryPoint[];
}

/** The default variant's metrics of one build (the variant a trend follows from build to build). */
export function historyEntry(r: ResultsSummary): HistoryEntry {
  const variant = r.variants.find((v) => v.isDefault)?.id ?? r.variants[0]?.id;
  return {
    build: r.build ?? r.createdAt,
    createdAt: r.createdAt,
    points: r.metrics
      .filter((m) => m.variantId === variant && Number.isFinite(m.value))
      .map((m) => ({
        evaluator: m.evaluator,
        metric: m.metric,
        higherIsBetter: m.higherIsBetter,
        value: m.value,
        ...(m.interval && Number.isFinite(m.interval.lower) && Number.isFinite(m.interval.upper)
          ? { lower: m.interval.lower, upper: m.interval.upper, n: m.interval.n }
          : {}),
      })),
  };
}

/** The store folder of an experiment's history. */
export function historyDir(storeRoot: string, experiment: string): string {
  return path.join(storeRoot, 'history', safeName(experiment));
}

/** Saves one build's entry (a later report of the same build replaces it). */
export function saveHistoryEntry(dir: string, entry: HistoryEntry): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${safeName(entry.build)}.json`);
  writeFileSync(file, `${JSON.stringify(entry)}\n`);
  return file;
}

/** Every entry saved in `dir`; a file that is not an entry is an error naming it. */
export function readHistoryDir(dir: string): HistoryEntry[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => parseEntry(path.join(dir, f)));
}

function parseEntry(file: string): HistoryEntry {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw ConfigError.at({ file }, `not valid JSON (${(e as Error).message}), expected a report history entry`);
  }
  const v = value as Partial<HistoryEntry>;
  if (typeof v?.build !== 'string' || typeof v.createdAt !== 'string' || !Array.isArray(v.points))
    throw ConfigError.at({ file }, 'expected a report history entry with build, createdAt and points');
  return v as HistoryEntry;
}

/**
 * Entries from earlier results.json files given by path: a file, or a folder searched (one level deep) for
 * results.json files, as a CI artifact of earlier runs unpacks.
 */
export async function historyFromResults(paths: string[]): Promise<HistoryEntry[]> {
  const files = paths.flatMap((p) => {
    if (!existsSync(p)) throw ConfigError.at({ file: p }, 'not found, expected a results.json or a folder of them');
    if (!statSync(p).isDirectory()) return [p];
    const direct = path.join(p, 'results.json');
    const nested = readdirSync(p)
      .map((d) => path.join(p, d, 'results.json'))
      .filter((f) => existsSync(f));
    return [...(existsSync(direct) ? [direct] : []), ...nested];
  });
  const out: HistoryEntry[] = [];
  for (const f of files) out.push(historyEntry((await readResultsFile(f)).results));
  return out;
}

/** The last `builds` entries in time order, one per build (the latest report of a build wins). */
export function lastBuilds(entries: HistoryEntry[], builds = DEFAULT_TREND_BUILDS): HistoryEntry[] {
  const byBuild = new Map<string, HistoryEntry>();
  for (const e of [...entries].sort(byTime)) byBuild.set(e.build, e);
  return [...byBuild.values()].sort(byTime).slice(-builds);
}

function byTime(a: HistoryEntry, b: HistoryEntry): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0;
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120) || '_';
}
