/**
 * `llmops monitor` as users run it (the bundled CLI in a child process): a folder of request logs from two
 * replicas serving blue and green, with their events files; an OTLP file export (the collector's file
 * exporter: OTLP/JSON lines); a window; --compare with --require; bad lines reported at file:line:column with
 * exit 2 and no report written; and the HTML report in headless Chromium.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { runCli } from '../support/azure/cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-monitor-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = Date.parse('2026-12-07T10:00:00Z');
const iso = (ms: number) => new Date(BASE + ms).toISOString();
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/**
 * 120 requests per colour, one a second, each replica serving both. Blue: 40–79 ms, no errors. Green: 60–99 ms
 * and every 10th request fails (12 of 120). Feedback on the first 80 of each: blue 60 positive, green 20.
 */
function writeLogs(folder: string): void {
  for (const replica of [1, 2]) {
    const requests: unknown[] = [];
    const events: unknown[] = [];
    for (let i = replica - 1; i < 120; i += 2) {
      for (const colour of ['blue', 'green']) {
        const id = `${colour}-${i}`;
        const t = i * 1000 + (colour === 'green' ? 500 : 0);
        const latency = (colour === 'blue' ? 40 : 60) + ((i * 7) % 40);
        if (colour === 'green' && i % 10 === 9)
          events.push({
            time: iso(t),
            type: 'error',
            request_id: id,
            deployment: colour,
            status: 500,
            latency_ms: latency,
            error: { kind: 'RateLimitError', message: 'too many requests' },
          });
        else
          requests.push({
            time: iso(t),
            request_id: id,
            deployment: colour,
            status: 200,
            latency_ms: latency,
            tokens: { prompt: 20, completion: 10, total: 30 },
            cost_usd: 0.0001,
            'inputs.q': `q${i}`,
            'outputs.answer': `a${i}`,
            'outputs.groundedness': colour === 'blue' ? 5 : 4,
          });
        if (i < 80)
          events.push({
            time: iso(t + 100),
            type: 'feedback',
            request_id: id,
            deployment: 'blue',
            rating: i % 4 < (colour === 'blue' ? 3 : 1) ? 1 : 0,
          });
      }
    }
    writeFileSync(path.join(folder, `replica-${replica}.jsonl`), jsonl(requests));
    writeFileSync(path.join(folder, `replica-${replica}.events.jsonl`), jsonl(events));
  }
}

test('a folder of replicas: summary per colour, compare verdict with --require, and the HTML page in Chromium', async () => {
  const logs = path.join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  writeLogs(logs);
  const out = path.join(dir, 'report');
  const r = await runCli(
    [
      'monitor',
      logs,
      '--since',
      iso(0),
      '--until',
      iso(200_000),
      '--out-dir',
      out,
      '--compare',
      '--candidate',
      'green',
      '--reference',
      'blue',
      '--judge',
      'groundedness',
      '--margin',
      'latency=0.1,error_rate=0.02,0.05',
      '--require',
      'not-worse',
    ],
    { cwd: dir, env: {} },
  );
  expect(r.stderr).toMatch(/green vs blue: worse/);
  expect(r.status).toBe(1); // the verdict does not meet --require: a failed gate
  const report = JSON.parse(readFileSync(path.join(out, 'monitor.json'), 'utf8')) as {
    summary: {
      overall: Record<string, unknown>;
      deployments: {
        name: string;
        requests: number;
        errors: number;
        latencyMs: { p50: number };
        feedback: { count: number; positive: number };
      }[];
    };
    compare: {
      verdict: string;
      level: number;
      metrics: { metric: string; verdict: string; candidate: { n: number; value: number } }[];
    };
  };
  expect(report.summary.overall).toMatchObject({ requests: 240, errors: 12 });
  const [blue, green] = report.summary.deployments;
  expect([blue.name, blue.requests, blue.errors, green.name, green.requests, green.errors]).toEqual([
    'blue',
    120,
    0,
    'green',
    120,
    12,
  ]);
  expect(blue.feedback).toMatchObject({ count: 80, positive: 60 });
  expect(green.feedback).toMatchObject({ count: 80, positive: 20 });
  expect(report.compare.level).toBeCloseTo(1 - 0.05 / 5, 12);
  const verdicts = Object.fromEntries(report.compare.metrics.map((m) => [m.metric, m.verdict]));
  expect(verdicts).toEqual({
    latency: 'worse',
    error_rate: 'worse',
    feedback: 'worse',
    rating: 'worse',
    'judge:groundedness': 'worse',
  });
  expect(report.compare.verdict).toBe('worse');
  expect(readFileSync(path.join(out, 'monitor.md'), 'utf8')).toMatch(/### ❌ green vs blue: \*\*worse\*\*/);

  // The same data as blue against green: green is the better one.
  const flipped = await runCli(
    [
      'monitor',
      logs,
      '--out-dir',
      path.join(dir, 'flipped'),
      '--format',
      'json',
      '--candidate',
      'blue',
      '--reference',
      'green',
      '--require',
      'better',
    ],
    { cwd: dir, env: {} },
  );
  expect(flipped.status).toBe(0);
  expect(JSON.parse(readFileSync(path.join(dir, 'flipped', 'monitor.json'), 'utf8')).compare.verdict).toBe('better');

  const chromiumPath = process.env.LLMOPS_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromiumPath))
    throw new Error(`Chromium is needed for this test; not found at ${chromiumPath} (set LLMOPS_CHROMIUM)`);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(pathToFileURL(path.join(out, 'monitor.html')).href);
    await expect(page.locator('#compare .verdict').getAttribute('data-verdict')).resolves.toBe('worse');
    expect(await page.locator('#compare-table tbody tr').count()).toBe(5);
    const header = await page.locator('#summary-table thead th').allTextContents();
    expect(header).toEqual(['', '(all)', 'blue', 'green']);
    const errorsRow = await page
      .locator('#summary-table tbody tr', { hasText: 'Errors' })
      .first()
      .locator('td')
      .allTextContents();
    expect(errorsRow).toEqual(['Errors', '12', '0', '12']);
    await expect(page.locator('#failures-table tbody td').first().textContent()).resolves.toBe('RateLimitError');
    const box = await page.locator('#summary-table').boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(problems).toEqual([]);
    mkdirSync('tests/artifacts', { recursive: true });
    await page.screenshot({ path: 'tests/artifacts/monitor.png', fullPage: true });
  } finally {
    await browser.close();
  }
}, 120_000);

/** OTLP/JSON as the collector's file exporter writes it: one ExportTraceServiceRequest per line. */
function otlpLine(
  deployment: string,
  spans: { trace: string; server?: boolean; ms: [number, number]; attrs: Record<string, string | number> }[],
): string {
  const value = (v: string | number) =>
    typeof v === 'number' ? (Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v }) : { stringValue: v };
  return JSON.stringify({
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: 'llmops-flow' } },
            { key: 'llmops.deployment', value: { stringValue: deployment } },
          ],
        },
        scopeSpans: [
          {
            scope: { name: 'llmops' },
            spans: spans.map((s, i) => ({
              traceId: s.trace,
              spanId: `${i}`.padStart(16, '0'),
              name: s.server ? 'POST /score' : 'chat',
              kind: s.server ? 2 : 3,
              startTimeUnixNano: String((BASE + s.ms[0]) * 1e6),
              endTimeUnixNano: String((BASE + s.ms[1]) * 1e6),
              attributes: Object.entries(s.attrs).map(([key, v]) => ({ key, value: value(v) })),
              status: {},
            })),
          },
        ],
      },
    ],
  });
}

test('an OTLP file export: server spans are requests, their traces bring tokens; a window keeps what is inside', async () => {
  const file = path.join(dir, 'otel.jsonl');
  writeFileSync(
    file,
    [
      otlpLine('blue', [
        {
          trace: 'a'.repeat(32),
          server: true,
          ms: [0, 120],
          attrs: { 'http.response.status_code': 200, 'llmops.request_id': 'r1' },
        },
        {
          trace: 'a'.repeat(32),
          ms: [10, 100],
          attrs: {
            'gen_ai.system': 'openai',
            'gen_ai.usage.input_tokens': 30,
            'gen_ai.usage.output_tokens': 12,
            'llmops.cost_usd': 0.002,
          },
        },
      ]),
      otlpLine('blue', [
        {
          trace: 'b'.repeat(32),
          server: true,
          ms: [5000, 5300],
          attrs: { 'http.response.status_code': 500, 'error.type': 'RateLimitError' },
        },
        {
          trace: 'c'.repeat(32),
          server: true,
          ms: [90_000_000, 90_000_050],
          attrs: { 'http.response.status_code': 200 },
        },
      ]),
    ].join('\n') + '\n',
  );
  const out = path.join(dir, 'otel-report');
  const r = await runCli(
    ['monitor', file, '--window', '1h', '--until', iso(3_600_000), '--out-dir', out, '--format', 'json,markdown'],
    { cwd: dir, env: {} },
  );
  expect(r.stderr).toMatch(/^2 request\(s\), 1 error\(s\), 0 feedback record\(s\)/);
  expect(r.status).toBe(0);
  const { summary } = JSON.parse(readFileSync(path.join(out, 'monitor.json'), 'utf8')) as {
    summary: { overall: Record<string, unknown> };
  };
  expect(summary.overall).toMatchObject({
    requests: 2,
    errors: 1,
    tokens: { total: 42, prompt: 30, completion: 12, perRequest: 42 },
    costUsd: 0.002,
    failureKinds: [{ kind: 'RateLimitError', count: 1 }],
    latencyMs: { measured: 2, p50: 210 },
  });
  expect(existsSync(path.join(out, 'monitor.html'))).toBe(false);
});

test('bad lines: file:line:column, exit 2, no report written', async () => {
  const file = path.join(dir, 'bad.jsonl');
  writeFileSync(
    file,
    jsonl([{ time: iso(0), request_id: 'ok', status: 200 }]) +
      '{"time": "2026-12-07T10:00:01Z", "request_id": "x", "latency_ms": "slow"}\n' +
      '{"time": "yesterday", "request_id": "y"}\n' +
      '{"time": "2026-12-07T10:00:01Z", "request_id": \n',
  );
  const out = path.join(dir, 'bad-report');
  const r = await runCli(['monitor', file, '--out-dir', out], { cwd: dir, env: {} });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/bad\.jsonl:2:53.*"latency_ms" is "slow"; expected milliseconds/);
  expect(r.stderr).toMatch(/bad\.jsonl:3:2.*"time" is "yesterday"; expected an ISO 8601 date-time/);
  expect(r.stderr).toMatch(/bad\.jsonl:4:\d+.*not JSON/);
  expect(existsSync(out)).toBe(false);

  const window = await runCli(['monitor', file, '--window', 'a day'], { cwd: dir, env: {} });
  expect(window.status).toBe(2);
  expect(window.stderr).toMatch(/--window: error: found "a day"; expected a duration \(30m, 24h, 7d\)/);

  // A misspelt figure would otherwise get the default margin without a word.
  const margin = await runCli(['monitor', file, '--compare', '--margin', 'latncy=0.1'], { cwd: dir, env: {} });
  expect(margin.status).toBe(2);
  expect(margin.stderr).toContain('--margin: error: found "latncy"; expected a margin for one of: latency, error_rate');
});

test('--baseline: drift of latency, tokens, failures and logged judge scores against the last evaluation', async () => {
  const logs = path.join(dir, 'drift-logs');
  mkdirSync(logs, { recursive: true });
  writeLogs(logs);
  // The last evaluation: 100 lines, 40–79 ms like blue, 30 tokens each, no failure, groundedness 5 on every line.
  const baseline = path.join(dir, 'results.json');
  writeFileSync(
    baseline,
    JSON.stringify({
      schemaVersion: 1,
      experiment: 'web_classification',
      createdAt: '2026-12-01T08:00:00.000Z',
      metrics: [
        {
          evaluator: 'groundedness',
          metric: 'groundedness',
          variantId: 'default',
          kind: 'likert',
          higherIsBetter: true,
          value: 5,
          scoreKey: 'groundedness.score',
        },
      ],
      lines: Array.from({ length: 100 }, (_, i) => ({
        runId: 'r',
        variantId: 'default',
        dataset: 'd',
        lineNumber: i,
        inputs: {},
        latencyMs: 40 + ((i * 7) % 40),
        tokens: { prompt: 20, completion: 10, total: 30 },
        scores: { 'groundedness.score': 5 },
      })),
    }),
  );
  const out = path.join(dir, 'drift-report');
  const r = await runCli(
    [
      'monitor',
      logs,
      '--baseline',
      baseline,
      '--judge',
      'groundedness',
      'missing_metric',
      '--out-dir',
      out,
      '--format',
      'json,markdown',
    ],
    { cwd: dir, env: {} },
  );
  expect(r.status).toBe(0);
  const { drift } = JSON.parse(readFileSync(path.join(out, 'monitor.json'), 'utf8')) as {
    drift: {
      level: number;
      figures: { figure: string; drifted: boolean; live: { n: number; value: number }; difference: number }[];
      skipped: { figure: string }[];
    };
  };
  const by = Object.fromEntries(drift.figures.map((f) => [f.figure, f]));
  expect(Object.keys(by)).toEqual(['latency_ms', 'tokens_per_request', 'failure_rate', 'groundedness']);
  // Live: blue scores 5, green 4 (228 answered requests): a mean of 4.53, well below the baseline's 5.
  expect(by.groundedness).toMatchObject({ drifted: true, live: { n: 228 } });
  expect(by.groundedness.difference).toBeCloseTo((108 * 4) / 228 + (120 * 5) / 228 - 5, 10);
  expect(by.tokens_per_request).toMatchObject({ drifted: false, difference: 0 });
  // 12 of 240 failed against 0 of 100: Newcombe's interval at 98.75 % still reaches −1.39 points (checked by hand
  // from the two Wilson intervals), so not a drift on this little baseline.
  expect(by.failure_rate).toMatchObject({ drifted: false, live: { n: 240, value: 0.05 } });
  expect(drift.skipped.map((s) => s.figure)).toEqual(['missing_metric']);
  expect(drift.level).toBeCloseTo(1 - 0.05 / 4, 12);
  expect(readFileSync(path.join(out, 'monitor.md'), 'utf8')).toMatch(
    /### Drift against the last evaluation[\s\S]*\| groundedness \|.*\| yes \|/,
  );

  const bad = await runCli(['monitor', logs, '--baseline', path.join(logs, 'replica-1.jsonl'), '--out-dir', out], {
    cwd: dir,
    env: {},
  });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(
    /replica-1\.jsonl: error: cannot be read as JSON .*expected the report step's results\.json/,
  );
});
