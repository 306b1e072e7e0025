/**
 * `report`: one results model (statistics, comparisons, gates) rendered to JSON, CSV, HTML,
 * Markdown and JUnit; the Markdown goes to the job summary. A failed gate: exit 1, named in every output.
 */
import { sharedRedactor } from '../safety/redactor.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadUseCase } from '../config/use-case.js';
import { ConfigError, GateFailed } from '../errors.js';
import type { Analysed } from '../eval/analysis.js';
import { assembleResults } from '../eval/results.js';
import { clusterNote } from '../report/clusters.js';
import {
  ALL_REPORT_FORMATS,
  markdownMarker,
  PR_COMMENT_MAX_BYTES,
  readResultsFile,
  redactReportData,
  renderMarkdown,
  writeReports,
  type ReportFormat,
  type ResultsSummary,
} from '../report/index.js';
import { RunStore } from '../runs/index.js';
import { useCaseInputs } from './common-inputs.js';
import {
  DEFAULT_TREND_BUILDS,
  historyDir,
  historyEntry,
  historyFromResults,
  lastBuilds,
  readHistoryDir,
  saveHistoryEntry,
  type HistoryEntry,
} from '../report/history.js';
import type { StepDefinition } from './declare.js';
import type { EvaluationsFile, RunsFile } from '../results/handoff.js';
import { ciBuildId, defaultEvaluationsFile, defaultRunsFile, readHandoff, unfinishedRuns } from './experiment-files.js';
import { failedLineLimit } from './run-settings.js';

export interface ReportInputs {
  config: string;
  env?: string;
  store: string;
  runsFile?: string;
  evaluationsFile?: string;
  outputDir?: string;
  formats?: string;
  baseline?: string;
  buildId?: string;
  history?: string;
  trendBuilds?: string;
  prComment?: boolean;
}

export interface ReportOutputs {
  /** The results without their lines (every line is in the report folder's results.json and CSVs). */
  results: ResultsSummary;
  files: string[];
}

export const reportStep: StepDefinition<ReportInputs, ReportOutputs> = {
  name: 'report',
  description:
    'Build the results (confidence intervals, paired comparisons, quality gates) and write them as JSON, CSV, HTML, Markdown and JUnit; fail when a gate fails.',
  inputs: [
    ...useCaseInputs,
    { name: 'store', type: 'path', default: '.llmops', description: 'Run store folder.' },
    { name: 'runs-file', type: 'path', description: 'Runs file written by bulk-run (default: in the run store).' },
    {
      name: 'evaluations-file',
      type: 'path',
      description:
        'Evaluations file written by evaluate (default: in the run store; none: a report of the runs alone).',
    },
    {
      name: 'output-dir',
      type: 'path',
      description: 'Report folder (default: reports.dir of experiment.yaml, else reports/ at the repository root).',
    },
    {
      name: 'formats',
      type: 'string',
      description: 'Comma-separated formats: json, csv, html, markdown, junit (default: reports.formats, else all).',
    },
    {
      name: 'baseline',
      type: 'path',
      description: 'results.json of an earlier report to compare with (default: baseline of experiment.yaml).',
    },
    {
      name: 'build-id',
      type: 'string',
      description: 'Build id shown in the report (default: GITHUB_RUN_ID, BUILD_BUILDID or BUILD_NUMBER).',
    },
    {
      name: 'history',
      type: 'string',
      description:
        'Comma-separated earlier results.json files or folders of them (e.g. a previous run’s artifact) for the trend; builds saved in the store are always included.',
    },
    {
      name: 'trend-builds',
      type: 'string',
      default: '10',
      description: 'How many builds the trend shows (this one included).',
    },
    {
      name: 'pr-comment',
      type: 'boolean',
      default: 'true',
      description: 'On a pull request (GitHub), post the summary as one comment updated in place on every push.',
    },
  ],
  outputs: [
    { name: 'report-dir', description: 'Folder of the written reports.' },
    { name: 'results-file', description: 'Path of results.json (use it as the next baseline).' },
    { name: 'gates-passed', description: 'true when no gate failed.' },
    { name: 'failed-gates', description: 'Comma-separated names of failed gates.' },
  ],
  async run(inputs, host) {
    const useCase = loadUseCase({ configPath: inputs.config, env: inputs.env, host, needs: 'report' });
    const runsFile = inputs.runsFile ?? defaultRunsFile(inputs.store, useCase);
    const runs = readHandoff<RunsFile>(runsFile, 'bulk-run');
    const unfinished = unfinishedRuns(runsFile, runs, 'report');
    if (unfinished) throw unfinished;
    const evaluationsPath = inputs.evaluationsFile ?? defaultEvaluationsFile(inputs.store, useCase);
    const evaluations =
      inputs.evaluationsFile || existsSync(evaluationsPath)
        ? readHandoff<EvaluationsFile>(evaluationsPath, 'evaluate').evaluations
        : [];
    const baselineFile = inputs.baseline ?? useCase.baselineFile;
    const baseline = baselineFile && existsSync(baselineFile) ? await readBaseline(baselineFile) : undefined;
    if (baselineFile && !baseline)
      host.warning(`baseline ${baselineFile} not found: comparisons with it and regression gates are skipped`);

    const { data } = await assembleResults({
      store: new RunStore(inputs.store),
      storeRoot: inputs.store,
      runs,
      evaluations,
      gates: useCase.gates,
      baseline,
      datasetSources: Object.fromEntries(useCase.datasets.map((d) => [d.name, d.source])),
      clusterBy: Object.fromEntries(
        useCase.datasets.flatMap((d) => (d.clusterBy ? [[d.name, { column: d.clusterBy, file: d.localPath }]] : [])),
      ),
      repeat: Object.fromEntries(useCase.datasets.flatMap((d) => (d.repeat ? [[d.name, d.repeat]] : []))),
      build: inputs.buildId ?? ciBuildId(),
    });
    const results = data.results;
    data.history = await trendHistory(inputs.store, results, inputs.history, inputs.trendBuilds);
    const dir = inputs.outputDir ?? useCase.reports.dir;
    const formats = parseFormats(inputs.formats) ?? (useCase.reports.formats as ReportFormat[]);
    // Failed lines within the tolerance did not fail bulk-run, so they must not fail the JUnit test tab either.
    const withinTolerance = runs.runs.every(
      (r) => r.failed <= failedLineLimit(useCase.execution.maxFailedLines, r.lines),
    );
    // The one redactor (redaction block) over the report data, before any renderer: every report, the summary
    // and the comment show the same redacted text.
    const shown = useCase.redaction
      ? await redactReportData(data, sharedRedactor(useCase.redaction.kinds).redactValue)
      : data;
    const files = await writeReports(shown, dir, formats, {
      secrets: useCase.secrets,
      junit: { failedLines: withinTolerance ? 'none' : 'failure' },
    });
    await host.appendSummary(renderMarkdown(shown, { secrets: useCase.secrets }));
    await host.uploadArtifact('llmops-report', files, dir);
    if (inputs.prComment !== false && host.publishComment) {
      // A failed comment must not hide the results: the summary and artifact already carry them.
      await host
        .publishComment(
          renderMarkdown(shown, { secrets: useCase.secrets, maxBytes: PR_COMMENT_MAX_BYTES }),
          markdownMarker(results.experiment),
        )
        .catch((e: Error) => host.warning(`could not post the pull-request comment: ${e.message}`));
    }

    const clusters = clusterNote(results);
    if (clusters) host.info(clusters.text);
    if (clusters?.warning) host.warning(clusters.warning);
    for (const d of useCase.datasets)
      if (d.clusterBy && !d.localPath)
        host.warning(
          `dataset ${d.name}: cluster_by ${d.clusterBy} needs the dataset's file, and ${d.source} is not local here; its intervals are not clustered`,
        );
    const failed = results.gates.filter((g) => g.status === 'failed');
    for (const m of results.metrics)
      host.info(
        `${m.evaluator}.${m.metric} [${m.variantId}] = ${round(m.value)}${m.interval ? ` [${round(m.interval.lower)}, ${round(m.interval.upper)}]` : ''}`,
      );
    for (const g of results.gates)
      (g.status === 'failed' ? host.error.bind(host) : host.info.bind(host))(
        `gate ${g.name} [${g.variantId}]: ${g.status} — ${g.message}`,
      );
    for (const g of results.gates) if (g.warning) host.warning(`gate ${g.name} [${g.variantId}]: ${g.warning}`);
    host.info(`reports written to ${dir}: ${files.map((f) => path.basename(f)).join(', ')}`);
    host.setOutput('report-dir', dir);
    host.setOutput('results-file', path.join(dir, 'results.json'));
    host.setOutput('gates-passed', String(failed.length === 0));
    host.setOutput('failed-gates', failed.map((g) => g.name).join(','));
    if (failed.length)
      throw new GateFailed(
        `report: ${failed.length} quality gate(s) failed`,
        failed.map((g) => `${g.name} [${g.variantId}]: ${g.message}`),
      );
    return { results, files };
  },
};

/**
 * This build's entry saved in the store's history, and the last builds (from the store and any earlier
 * results.json given) for the trend.
 */
async function trendHistory(
  storeRoot: string,
  results: ResultsSummary,
  extra: string | undefined,
  buildsText: string | undefined,
): Promise<HistoryEntry[]> {
  const builds = Number(buildsText ?? DEFAULT_TREND_BUILDS);
  if (!(Number.isInteger(builds) && builds >= 1))
    throw ConfigError.at(
      { file: 'input "trend-builds"' },
      `found ${JSON.stringify(buildsText)}, expected a whole number >= 1`,
    );
  const dir = historyDir(storeRoot, results.experiment);
  const earlier = [
    ...readHistoryDir(dir),
    ...(extra
      ? await historyFromResults(
          extra
            .split(',')
            .map((p) => p.trim())
            .filter(Boolean),
        )
      : []),
  ];
  const entry = historyEntry(results);
  saveHistoryEntry(dir, entry);
  return lastBuilds([...earlier.filter((e) => e.build !== entry.build), entry], builds);
}

/** An earlier results.json: its summary and, compactly, the per-line scores its metrics use. */
async function readBaseline(file: string): Promise<Analysed> {
  const { results, table } = await readResultsFile(file);
  return { metrics: results.metrics, variants: results.variants, table };
}

function parseFormats(text?: string): ReportFormat[] | undefined {
  if (!text) return undefined;
  const formats = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = formats.filter((f) => !(ALL_REPORT_FORMATS as readonly string[]).includes(f));
  if (bad.length)
    throw ConfigError.at(
      { file: 'input "formats"' },
      `found ${bad.join(', ')}, expected some of: ${ALL_REPORT_FORMATS.join(', ')}`,
    );
  return formats as ReportFormat[];
}

function round(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(3);
}
