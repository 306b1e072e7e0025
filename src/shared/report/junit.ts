/**
 * JUnit XML for CI test tabs (Azure DevOps PublishTestResults with testResultsFormat JUnit,
 * Jenkins `junit`). Each gate is a test case, grouped in one testsuite per evaluator (gates
 * without an evaluator go to "gates"); failed lines are test cases of a "lines" suite, so a
 * failing line shows up with its error; each run is a passing test case of a "runs" suite
 * carrying its statistics, so the test tab is never empty.
 * @module
 */
import { formatCost, formatMs, formatNumber, repetitionText } from './format.js';
import type { GateResult, LineResult, Results, ResultsSummary } from '../results/model.js';
import type { ReportData } from '../results/report-data.js';
import { forRendering } from './order.js';
import type { LineRenderer, RenderOptions } from './types.js';

export interface JUnitOptions extends RenderOptions {
  /** Most failed lines written as test cases (default 1,000); the rest are counted in a note. */
  maxLineCases?: number;
  /**
   * How failed lines are reported: as failing test cases (default) or not at all — choose
   * 'none' when lines within the failed-line tolerance must not mark the build unstable.
   */
  failedLines?: 'failure' | 'none';
}

interface TestCase {
  classname: string;
  name: string;
  time: number;
  outcome?: { kind: 'failure' | 'skipped'; message: string; body?: string };
  out?: string;
}

interface Suite {
  name: string;
  cases: TestCase[];
  note?: string;
}

/** Renders `results` as one JUnit XML document. */
export function renderJUnit(results: Results, options: JUnitOptions = {}): string {
  return junitDocument(forRendering(results, options.secrets), options);
}

/** The JUnit file of (already redacted) report data: it needs no walk over the lines. */
export function junitRenderer(data: ReportData, name: string, options: JUnitOptions = {}): LineRenderer {
  return { name, walksLines: false, start: () => '', line: () => '', end: () => junitDocument(data, options) };
}

function junitDocument(data: ReportData, options: JUnitOptions): string {
  const r = data.results;
  const suites: Suite[] = [];
  const byEvaluator = new Map<string, GateResult[]>();
  for (const gate of r.gates) {
    const key = gate.evaluator ?? '';
    byEvaluator.set(key, [...(byEvaluator.get(key) ?? []), gate]);
  }
  for (const [evaluator, gates] of byEvaluator) {
    const suiteName = evaluator || 'gates';
    suites.push({ name: suiteName, cases: gates.map((g) => gateCase(r.experiment, suiteName, g)) });
  }
  const { count, lines: kept } = data.failed;
  if (count > 0 && options.failedLines !== 'none') {
    const listed = kept.slice(0, options.maxLineCases ?? 1000);
    const note =
      count > listed.length
        ? `${count - listed.length} more failed lines are not listed; see the report files.`
        : undefined;
    suites.push({ name: 'lines', cases: listed.map((l) => lineCase(r.experiment, l)), note });
  }
  if (r.runs.length > 0) suites.push({ name: 'runs', cases: r.runs.map((run) => runCase(r.experiment, run)) });
  return document(r, suites);
}

function gateCase(experiment: string, suite: string, g: GateResult): TestCase {
  const name = `${g.name} [${g.variantId}]`;
  const details = [
    `Gate: ${g.name}`,
    `Metric: ${g.evaluator ? `${g.evaluator}.${g.metric}` : g.metric}`,
    `Variant: ${g.variantId}`,
    `Observed: ${g.observed === undefined ? '-' : formatNumber(g.observed)}`,
    `Threshold: ${g.threshold}`,
    g.message,
  ].join('\n');
  const classname = `${experiment}.${suite}`;
  if (g.status === 'failed')
    return {
      classname,
      name,
      time: 0,
      outcome: { kind: 'failure', message: g.message || `${g.name} failed`, body: details },
    };
  if (g.status === 'skipped')
    return { classname, name, time: 0, outcome: { kind: 'skipped', message: g.message }, out: details };
  return { classname, name, time: 0, out: details };
}

function lineCase(experiment: string, l: LineResult): TestCase {
  const message = l.error ? (l.error.code ? `${l.error.code}: ${l.error.message}` : l.error.message) : 'failed';
  const body = [
    `Run: ${l.runId}`,
    `Variant: ${l.variantId}`,
    `Dataset: ${l.dataset}`,
    `Line: ${l.lineNumber}`,
    ...(l.sourceLine !== undefined ? [`Source line: ${l.sourceLine}`, `Repetition: ${l.repetition ?? 0}`] : []),
    `Inputs: ${JSON.stringify(l.inputs)}`,
    '',
    message,
  ].join('\n');
  return {
    classname: `${experiment}.lines.${l.dataset}`,
    // A repeated line says which repetition of which data line it is.
    name: `line ${l.lineNumber}${l.sourceLine !== undefined ? ` (${repetitionText(l)})` : ''} [${l.variantId}]`,
    time: l.latencyMs / 1000,
    outcome: { kind: 'failure', message: oneLine(message), body },
  };
}

function runCase(experiment: string, run: ResultsSummary['runs'][number]): TestCase {
  const out = [
    `Run: ${run.runId}`,
    `Lines: ${run.lines} (${run.completed} completed, ${run.failed} failed)`,
    `Tokens: ${run.tokens.total} (prompt ${run.tokens.prompt}, completion ${run.tokens.completion})`,
    `Cost: ${formatCost(run.costUsd)}`,
    `Latency: p50 ${formatMs(run.latencyMs.p50)}, p95 ${formatMs(run.latencyMs.p95)}, max ${formatMs(run.latencyMs.max)}`,
  ].join('\n');
  return {
    classname: `${experiment}.runs.${run.dataset}`,
    name: `${run.variantId} on ${run.dataset}`,
    time: run.durationMs / 1000,
    out,
  };
}

function document(r: ResultsSummary, suites: Suite[]): string {
  const count = (s: Suite, kind: 'failure' | 'skipped') => s.cases.filter((c) => c.outcome?.kind === kind).length;
  const total = (pick: (s: Suite) => number) => suites.reduce((n, s) => n + pick(s), 0);
  const time = (s: Suite) => s.cases.reduce((n, c) => n + c.time, 0);
  const stamp = timestamp(r.createdAt);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites ${attrs({ name: `llmops ${r.experiment}`, tests: total((s) => s.cases.length), failures: total((s) => count(s, 'failure')), errors: 0, skipped: total((s) => count(s, 'skipped')), time: seconds(total(time)) })}>`,
  );
  suites.forEach((s, id) => {
    out.push(
      `  <testsuite ${attrs({ name: s.name, tests: s.cases.length, failures: count(s, 'failure'), errors: 0, skipped: count(s, 'skipped'), time: seconds(time(s)), timestamp: stamp, hostname: 'llmops', id, package: r.experiment })}>`,
    );
    out.push('    <properties>');
    const props: Record<string, string | undefined> = { experiment: r.experiment, env: r.env, build: r.build };
    for (const [name, value] of Object.entries(props))
      if (value !== undefined) out.push(`      <property ${attrs({ name, value })}/>`);
    out.push('    </properties>');
    for (const c of s.cases) out.push(testcase(c));
    if (s.note) out.push(`    <system-out>${text(s.note)}</system-out>`);
    out.push('  </testsuite>');
  });
  out.push('</testsuites>', '');
  return out.join('\n');
}

function testcase(c: TestCase): string {
  const open = `    <testcase ${attrs({ classname: c.classname, name: c.name, time: seconds(c.time) })}`;
  const inner: string[] = [];
  if (c.outcome?.kind === 'failure')
    inner.push(
      `      <failure ${attrs({ message: c.outcome.message, type: 'failure' })}>${text(c.outcome.body ?? '')}</failure>`,
    );
  if (c.outcome?.kind === 'skipped') inner.push(`      <skipped ${attrs({ message: c.outcome.message })}/>`);
  if (c.out) inner.push(`      <system-out>${text(c.out)}</system-out>`);
  return inner.length === 0 ? `${open}/>` : `${open}>\n${inner.join('\n')}\n    </testcase>`;
}

/** Characters XML 1.0 cannot hold at all (control characters, lone surrogates) are dropped. */
// eslint-disable-next-line no-control-regex -- the allowed control characters are listed on purpose
const notXml = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Escaped element text. */
export function text(value: string): string {
  return value.replace(notXml, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escaped attribute value; line breaks kept as character references. */
export function attr(value: string): string {
  return text(value)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}="${attr(typeof v === 'number' ? String(v) : v.length > 2000 ? `${v.slice(0, 1999)}…` : v)}"`)
    .join(' ');
}

function oneLine(message: string): string {
  return message.replace(/\s+/g, ' ').trim();
}

function seconds(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : '0.000';
}

/** JUnit's timestamp is ISO 8601 without a zone (the XSD's pattern); the value is UTC. */
function timestamp(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '1970-01-01T00:00:00' : date.toISOString().slice(0, 19);
}
