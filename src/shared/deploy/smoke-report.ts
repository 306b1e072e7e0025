/**
 * The smoke test's own small reports: a Markdown summary table and a JUnit file (one testcase per test).
 * @module
 */
import { attr, text } from '../report/junit.js';
import type { SmokeResult } from './smoke-run.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function smokeMarkdown(r: SmokeResult): string {
  const passed = r.tests.filter((t) => t.passed).length;
  const lines = [
    `### Smoke test ${r.passed ? '✅ passed' : '❌ failed'}: ${passed}/${r.tests.length}`,
    '',
    `Endpoint \`${r.endpoint}\` · tests from \`${r.source}\`${r.warmupMs > 1000 ? ` · ready after ${(r.warmupMs / 1000).toFixed(1)} s` : ''}`,
    '',
    '| test | result | status | p50 ms | p95 ms | details |',
    '|---|---|---|---|---|---|',
    ...r.tests.map(
      (t) =>
        `| ${cell(t.name)} | ${t.passed ? 'pass' : '**fail**'} | ${t.status ?? '–'} | ${fmt(t.p50Ms ?? t.latenciesMs[0])} | ${fmt(t.p95Ms)} | ${cell(t.failures.join('; ')) || ''} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

export function smokeJUnit(r: SmokeResult): string {
  const failures = r.tests.filter((t) => !t.passed).length;
  const seconds = (ms: number[]) => (ms.reduce((a, b) => a + b, 0) / 1000).toFixed(3);
  const cases = r.tests.map((t) => {
    const open = `    <testcase classname="smoke-test" name="${attr(t.name)}" time="${seconds(t.latenciesMs)}"`;
    if (t.passed) return `${open}/>`;
    return `${open}>\n      <failure message="${attr(t.failures[0] ?? 'failed')}">${text(t.failures.join('\n'))}</failure>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="smoke-test" tests="${r.tests.length}" failures="${failures}">`,
    `  <testsuite name="smoke-test ${attr(r.endpoint)}" tests="${r.tests.length}" failures="${failures}" errors="0">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? '–' : ms.toFixed(1);
}
