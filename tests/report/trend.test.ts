/**
 * Trends: the report keeps one history entry per build in the store (and reads earlier results.json files
 * given by path), and shows each metric over the last builds — a sparkline with an arrow in the Markdown / PR
 * comment, an SVG line with its interval band in the HTML, checked in headless Chromium.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import {
  historyDir,
  historyEntry,
  historyFromResults,
  lastBuilds,
  readHistoryDir,
  saveHistoryEntry,
  type HistoryEntry,
} from '../../src/shared/report/history.js';
import { htmlRenderer } from '../../src/shared/report/html.js';
import { renderMarkdown } from '../../src/shared/report/markdown.js';
import { forRendering } from '../../src/shared/report/order.js';
import { renderInMemory } from '../../src/shared/report/render-lines.js';
import { changeMark, sparkline, trendSeries } from '../../src/shared/report/trend.js';
import { writeReports } from '../../src/shared/report/write.js';
import { sampleResults } from './sample.js';

/** Five builds of accuracy: 0.60 → 0.62 → 0.61 → 0.70 → 0.86, intervals ±0.05. */
function builds(): HistoryEntry[] {
  return [0.6, 0.62, 0.61, 0.7, 0.86].map((v, i) => ({
    build: `b${i + 1}`,
    createdAt: `2026-12-0${i + 1}T10:00:00.000Z`,
    points: [
      {
        evaluator: 'eval_accuracy',
        metric: 'accuracy',
        higherIsBetter: true,
        value: v,
        lower: v - 0.05,
        upper: v + 0.05,
        n: 100,
      },
    ],
  }));
}

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-trend-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('sparkline and change marks', () => {
  expect(sparkline([0, 0.5, 1])).toBe('▁▅█');
  expect(sparkline([0.3, 0.3])).toBe('▄▄');
  const [s] = trendSeries(builds());
  expect(changeMark(s)).toBe('⬆️ better'); // [0.81, 0.91] does not overlap [0.65, 0.75]
  expect(changeMark({ ...s, points: s.points.slice(0, 2) })).toBe('↗'); // 0.60 → 0.62 within the noise
  expect(changeMark({ ...s, higherIsBetter: false })).toBe('⬆️ worse');
});

test('one entry per build in the store, the latest report of a build wins, the last N builds kept', () => {
  const d = historyDir(dir, 'web classification/dev');
  expect(d).toBe(path.join(dir, 'history', 'web_classification_dev'));
  for (const e of builds()) saveHistoryEntry(d, e);
  saveHistoryEntry(d, { ...builds()[4], createdAt: '2026-12-06T00:00:00.000Z', points: [] }); // b5 reported again
  expect(readdirSync(d)).toHaveLength(5);
  const last = lastBuilds(readHistoryDir(d), 3);
  expect(last.map((e) => e.build)).toEqual(['b3', 'b4', 'b5']);
  expect(last[2].points).toEqual([]);
});

test('earlier results.json files (a previous run’s artifact) become entries of the default variant', async () => {
  const r = sampleResults();
  await writeReports(r, path.join(dir, 'artifact', 'run-1'), ['json']);
  const [e] = await historyFromResults([path.join(dir, 'artifact')]);
  expect(e.build).toBe(r.build);
  const def = r.variants.find((v) => v.isDefault)!.id;
  expect(e.points.map((p) => p.metric).sort()).toEqual(
    r.metrics
      .filter((m) => m.variantId === def)
      .map((m) => m.metric)
      .sort(),
  );
  expect(e.points.find((p) => p.metric === 'accuracy')).toMatchObject({ value: 0.7, lower: 0.4, upper: 0.89, n: 10 });
  await expect(historyFromResults([path.join(dir, 'missing')])).rejects.toThrow(/not found, expected a results.json/);
});

test('historyEntry follows the default variant', () => {
  const r = sampleResults();
  const e = historyEntry(r);
  expect(e.points.every((p) => Number.isFinite(p.value))).toBe(true);
  expect(e.points.length).toBeGreaterThan(0);
});

test('the PR comment shows a compact trend table', () => {
  const data = forRendering(sampleResults(), undefined);
  data.history = builds();
  const md = renderMarkdown(data, { secrets: ['sk-secret'] });
  expect(md).toContain('### Trend');
  expect(md).toMatch(/\| eval_accuracy\.accuracy ↑ \| ▁▂▁▄█ \| 0\.86 \[0\.81, 0\.91\] \| ⬆️ better \|/);
  // A single build has no trend.
  data.history = builds().slice(0, 1);
  expect(renderMarkdown(data)).not.toContain('Trend');
});

test('the HTML trend chart in headless Chromium: a line through every build and its interval band', async () => {
  const executablePath = process.env.LLMOPS_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`Chromium is needed for this test; not found at ${executablePath}`);
  const data = forRendering(sampleResults(), undefined);
  data.history = builds();
  const file = path.join(dir, 'report.html');
  await writeFile(file, renderInMemory(data, (d) => [htmlRenderer(d, 'report.html')])[0].content);
  const profile = mkdtempSync(path.join(os.tmpdir(), 'llmops-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(pathToFileURL(file).href);
    expect(await page.locator('#trend figure.trend').count()).toBe(1);
    await expect(page.locator('#trend figcaption').textContent()).resolves.toBe(
      'eval_accuracy.accuracy over the last 5 builds ⬆️ better',
    );
    expect(await page.locator('#trend circle.trend-point').count()).toBe(5);
    const band = await page.locator('#trend path.band').evaluate((e) => {
      const b = (e as unknown as { getBBox(): { width: number; height: number } }).getBBox();
      return { width: b.width, height: b.height };
    });
    expect(band.width).toBeGreaterThan(400);
    expect(band.height).toBeGreaterThan(80);
    // The last build is drawn highest (smallest y): 0.86 is the best value.
    const ys = await page
      .locator('#trend circle.trend-point')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('cy'))));
    expect(Math.min(...ys)).toBe(ys[4]);
    expect(problems).toEqual([]);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
