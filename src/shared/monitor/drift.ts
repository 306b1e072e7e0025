/**
 * Drift against the last evaluation: the served requests of the window against the lines of an evaluation's
 * results.json (`--baseline`), on what needs no reference answer: latency (Mann–Whitney, Hodges–Lehmann shift),
 * tokens per request and the reference-free judge or safety scores logged with each request (Welch t), and the
 * failure rate (two proportions). Each with its interval; a figure drifted when its interval excludes 0.
 * Scores come either from logged output columns named with `--judge`, matched to the baseline metric (or
 * evaluator) of that name, or from the use case's reference-free evaluators run on a sample of the requests
 * (evaluate-sample.ts), matched to the baseline's scores under the same `<evaluator>.<output>` key.
 * @module
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { mannWhitneyU, twoProportionTest, welchTTest, type UnpairedResult } from '../eval/stats/unpaired.js';
import type { Results } from '../results/model.js';
import type { EvaluatedSample } from './evaluate-sample.js';
import { isError, type MonitorData } from './records.js';

export interface DriftFigure {
  figure: string;
  test: UnpairedResult['test'];
  live: { n: number; value: number };
  baseline: { n: number; value: number };
  /** Live − baseline (a shift for latency). */
  difference: number;
  lower: number;
  upper: number;
  pValue: number;
  drifted: boolean;
}

export interface DriftResult {
  baseline: { file: string; experiment: string; createdAt: string };
  level: number;
  figures: DriftFigure[];
  skipped: { figure: string; reason: string }[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** results.json as far as drift needs it; ConfigError saying what is missing. */
export function readBaseline(file: string): Results {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw ConfigError.at(
      { file },
      `cannot be read as JSON (${(e as Error).message}); expected the report step's results.json`,
    );
  }
  const r = value as Partial<Results>;
  if (!r || typeof r !== 'object' || !Array.isArray(r.lines) || !Array.isArray(r.metrics))
    throw ConfigError.at({ file }, 'has no "lines" and "metrics"; expected the report step\'s results.json');
  return r as Results;
}

export function computeDrift(
  data: MonitorData,
  baselineFile: string,
  o: {
    judges?: readonly string[];
    alpha?: number;
    /** Evaluators run on a sample of the requests, compared with the baseline's scores of the same key. */
    evaluated?: readonly EvaluatedSample[];
    skipped?: readonly { figure: string; reason: string }[];
  } = {},
): DriftResult {
  const base = readBaseline(baselineFile);
  const figures: DriftFigure[] = [];
  const skipped: { figure: string; reason: string }[] = [...(o.skipped ?? [])];
  const planned: { figure: string; run: (level: number) => DriftFigure }[] = [];
  const fig = (
    figure: string,
    t: UnpairedResult,
    live: number[] | [number, number],
    baseline: number[] | [number, number],
    value: (xs: number[]) => number,
    counts = false,
  ): DriftFigure => ({
    figure,
    test: t.test,
    live: counts ? { n: live[1], value: live[0] / live[1] } : { n: live.length, value: value(live) },
    baseline: counts
      ? { n: baseline[1], value: baseline[0] / baseline[1] }
      : { n: baseline.length, value: value(baseline) },
    difference: t.estimate,
    lower: t.lower,
    upper: t.upper,
    pValue: t.pValue,
    drifted: t.lower > 0 || t.upper < 0,
  });

  const answered = data.requests.filter((r) => !isError(r));
  const okLines = base.lines.filter((l) => !l.error);
  const liveLatency = answered.filter((r) => r.latencyMs !== undefined).map((r) => r.latencyMs!);
  const baseLatency = okLines.map((l) => l.latencyMs).filter((v) => Number.isFinite(v));
  if (liveLatency.length >= 2 && baseLatency.length >= 2)
    planned.push({
      figure: 'latency_ms',
      run: (level) =>
        fig('latency_ms', mannWhitneyU(liveLatency, baseLatency, { level }), liveLatency, baseLatency, median),
    });
  else skipped.push({ figure: 'latency_ms', reason: 'fewer than 2 latencies on a side' });
  const liveTokens = answered.filter((r) => r.tokens).map((r) => r.tokens!.total);
  const baseTokens = okLines.map((l) => l.tokens?.total).filter((v): v is number => typeof v === 'number' && v > 0);
  if (liveTokens.length >= 2 && baseTokens.length >= 2)
    planned.push({
      figure: 'tokens_per_request',
      run: (level) =>
        fig('tokens_per_request', welchTTest(liveTokens, baseTokens, { level }), liveTokens, baseTokens, meanOf),
    });
  else skipped.push({ figure: 'tokens_per_request', reason: 'no token counts on a side' });
  if (data.requests.length > 0 && base.lines.length > 0) {
    const live: [number, number] = [data.requests.filter(isError).length, data.requests.length];
    const baseline: [number, number] = [base.lines.filter((l) => l.error).length, base.lines.length];
    planned.push({
      figure: 'failure_rate',
      run: (level) =>
        fig(
          'failure_rate',
          twoProportionTest(live[0], live[1], baseline[0], baseline[1], { level }),
          live,
          baseline,
          meanOf,
          true,
        ),
    });
  }
  for (const judge of o.judges ?? []) {
    const metric = base.metrics.find((m) => (m.metric === judge || m.evaluator === judge) && m.scoreKey);
    if (!metric) {
      skipped.push({
        figure: judge,
        reason: `the baseline has no metric or evaluator "${judge}" with per-line scores`,
      });
      continue;
    }
    const liveScores = answered
      .map((r) => r.outputs?.[judge])
      .filter((v): v is number | boolean => typeof v === 'number' || typeof v === 'boolean')
      .map(Number);
    const baseScores = base.lines
      .map((l) => l.scores?.[metric.scoreKey!])
      .filter((v): v is number | boolean => typeof v === 'number' || typeof v === 'boolean')
      .map(Number);
    if (liveScores.length >= 2 && baseScores.length >= 2)
      planned.push({
        figure: judge,
        run: (level) => fig(judge, welchTTest(liveScores, baseScores, { level }), liveScores, baseScores, meanOf),
      });
    else
      skipped.push({
        figure: judge,
        reason: `fewer than 2 scores on a side (logged column outputs.${judge}, baseline ${metric.scoreKey})`,
      });
  }
  const columnsOf = new Map<string, number>();
  for (const e of o.evaluated ?? []) columnsOf.set(e.evaluator, (columnsOf.get(e.evaluator) ?? 0) + 1);
  for (const e of o.evaluated ?? []) {
    const baseScores = base.lines
      .map((l) => l.scores?.[e.scoreKey])
      .filter((v): v is number | boolean => typeof v === 'number' || typeof v === 'boolean')
      .map(Number);
    // An evaluator with one score column is named by itself; with several, by the column.
    const name = columnsOf.get(e.evaluator) === 1 ? e.evaluator : e.scoreKey;
    const figure = `${name} (judged on ${e.scores.length} sampled request(s)${e.failed ? `, ${e.failed} failed` : ''})`;
    if (e.scores.length >= 2 && baseScores.length >= 2)
      planned.push({
        figure,
        run: (level) => fig(figure, welchTTest(e.scores, baseScores, { level }), e.scores, baseScores, meanOf),
      });
    else
      skipped.push({
        figure: name,
        reason:
          baseScores.length < 2
            ? `the baseline has ${baseScores.length ? 'fewer than 2' : 'no'} per-line scores under ${e.scoreKey}`
            : `fewer than 2 scores of the sampled requests (${e.failed} failed)`,
      });
  }
  const level = 1 - (o.alpha ?? 0.05) / Math.max(1, planned.length);
  for (const p of planned) figures.push(p.run(level));
  return {
    baseline: { file: baselineFile, experiment: base.experiment, createdAt: base.createdAt },
    level,
    figures,
    skipped,
  };
}
