/**
 * Renders the HTML report in real headless Chromium (Debian's `chromium`; CI installs it):
 * charts drawn and sized, the line filter works, no console errors (a CSP violation would
 * be one), and a screenshot in tests/artifacts/report.png for people to look at; then the page
 * at a phone, a laptop and a wide screen (360, 1300, 1920 px), with screenshots of each.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { renderHtml } from '../../src/shared/report/html.js';
import type { Results } from '../../src/shared/results/model.js';
import { sampleResults, DEFAULT, V1 } from './sample.js';

const executablePath = process.env.LLMOPS_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve('tests/artifacts');

/** The sample with a few hundred more lines, so filtering has something to do. */
function biggerSample(): Results {
  const r = sampleResults();
  const words = ['weather', 'football', 'python', 'recipe', 'election', 'guitar'];
  for (let i = 0; i < 300; i++) {
    const variantId = i % 2 ? V1 : DEFAULT;
    const dataset = i % 3 ? 'web_train' : 'web_test';
    const run = r.runs.find((x) => x.variantId === variantId && x.dataset === dataset)!;
    r.lines.push({
      runId: run.runId,
      variantId,
      dataset,
      lineNumber: 10 + i,
      inputs: { url: `https://example.com/${words[i % words.length]}/${i}`, answer: 'Academic' },
      outputs: { category: i % 4 ? 'Academic' : 'None', evidence: 'Url' },
      latencyMs: 100 + ((i * 37) % 400),
      tokens: { prompt: 150, completion: 40, total: 190 },
      scores: { 'eval_accuracy.grade': i % 4 ? 'Correct' : 'Incorrect', 'eval_accuracy.score': i % 4 ? 1 : 0 },
    });
  }
  return r;
}

async function visibleRows(page: Page): Promise<number> {
  return page.locator('#lines tbody tr:not([hidden])').count();
}

describe('HTML report in headless Chromium', () => {
  let context: BrowserContext | undefined;
  let profile: string | undefined;

  beforeAll(async () => {
    if (!existsSync(executablePath)) {
      throw new Error(
        `Chromium is needed for the HTML report test but was not found at ${executablePath}. ` +
          'Install it with `apt-get update && apt-get install -y chromium` (Debian/Ubuntu), or set LLMOPS_CHROMIUM to a Chromium or Chrome binary.',
      );
    }
    profile = await mkdtemp(path.join(tmpdir(), 'llmops-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('draws the charts, filters lines, logs no errors, and looks right', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, 'report.html');
    await writeFile(file, renderHtml(biggerSample()));
    const page = await context!.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (req) => {
      if (!req.url().startsWith('file:')) problems.push(`request: ${req.url()}`);
    });
    await page.goto(pathToFileURL(file).href);

    // charts: one per metric plus latency and tokens, with sized bars and whiskers
    expect(await page.locator('svg.chart').count()).toBe(4);
    const bars = await page
      .locator('.metric-chart[data-metric="accuracy"] rect.bar')
      .evaluateAll((els) => els.map((e) => (e as unknown as { getBBox(): { width: number } }).getBBox().width));
    expect(bars).toHaveLength(2);
    for (const width of bars) expect(width).toBeGreaterThan(50);
    const whiskers = await page
      .locator('.metric-chart line.whisker')
      .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
    expect(whiskers).toHaveLength(2);
    for (const width of whiskers) expect(width).toBeGreaterThan(20);
    const tokenBars = await page
      .locator('.run-chart rect.bar')
      .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
    expect(tokenBars.length).toBe(16);
    expect(Math.min(...tokenBars)).toBeGreaterThan(0);

    // the filter: free text, then status, then dataset
    const all = await visibleRows(page);
    expect(all).toBe(320);
    await expect(page.locator('#line-count').textContent()).resolves.toBe('320 of 320 rows shown');
    await page.fill('#line-search', 'football');
    const football = await visibleRows(page);
    expect(football).toBe(50);
    await expect(page.locator('#line-count').textContent()).resolves.toBe('50 of 320 rows shown');
    await page.fill('#line-search', '');
    await page.selectOption('#line-status', 'failed');
    expect(await visibleRows(page)).toBe(1);
    await page.selectOption('#line-status', '');
    await page.selectOption('#line-dataset', 'web_test');
    await page.selectOption('#line-variant', V1);
    expect(await visibleRows(page)).toBe(5 + 50);
    await page.selectOption('#line-dataset', '');
    await page.selectOption('#line-variant', '');

    await page.screenshot({ path: path.join(ARTIFACTS, 'report.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  /** Run ids, variants and datasets as long as a real experiment's (the demo's), which is what overflowed. */
  function realisticSample(): Results {
    const r = sampleResults();
    const longId = new Map(
      r.runs.map((run) => [
        run.runId,
        `web_classification.${run.variantId === DEFAULT ? 'default' : 'variant_1'}.web_classification_${run.dataset}_new.20261207-1318.${run.runId.length.toString(16)}e4${run.dataset.length}`,
      ]),
    );
    for (const run of r.runs) run.runId = longId.get(run.runId)!;
    for (const line of r.lines) line.runId = longId.get(line.runId)!;
    return r;
  }

  it.each([360, 1300, 1920])(
    'is readable at %i px: the page never scrolls sideways, wide tables scroll in their box, every runs column shows from 1300 px',
    async (width) => {
      await mkdir(ARTIFACTS, { recursive: true });
      const file = path.join(ARTIFACTS, `report-${width}.html`);
      await writeFile(file, renderHtml(realisticSample()));
      const page = await context!.newPage();
      try {
        await page.setViewportSize({ width, height: 900 });
        await page.goto(pathToFileURL(file).href);
        const layout = await page.evaluate(() => {
          // In the page: the DOM types are not in this project's (Node) type library.
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          const w = globalThis as any;
          const doc = w.document.documentElement;
          const boxes = Array.from(
            w.document.querySelectorAll('.wide') as ArrayLike<{
              querySelector(s: string): { id: string; scrollWidth: number };
              clientWidth: number;
              getBoundingClientRect(): { right: number };
            }>,
          ).map((wrap) => {
            const table = wrap.querySelector('table');
            return {
              id: table.id,
              fits: table.scrollWidth <= wrap.clientWidth + 1,
              scrolls: w.getComputedStyle(wrap).overflowX === 'auto',
              inside: wrap.getBoundingClientRect().right <= doc.clientWidth + 0.5,
            };
          });
          const labels = Array.from(
            w.document.querySelectorAll('svg.chart text.label') as ArrayLike<{ getBBox(): { x: number } }>,
          ).map((t) => t.getBBox().x);
          return {
            pageWidth: doc.scrollWidth as number,
            viewport: doc.clientWidth as number,
            boxes,
            minLabelX: Math.min(...labels),
          };
        });
        expect(layout.pageWidth).toBeLessThanOrEqual(layout.viewport);
        expect(layout.boxes.map((b) => b.id).sort()).toEqual([
          'comparisons-table',
          'failed-lines',
          'gates-table',
          'runs-table',
        ]);
        for (const box of layout.boxes)
          expect({ id: box.id, scrolls: box.scrolls, inside: box.inside }).toEqual({
            id: box.id,
            scrolls: true,
            inside: true,
          });
        if (width >= 1300) {
          expect(layout.boxes.filter((b) => !b.fits).map((b) => b.id)).toEqual([]);
          const p95 = await page.locator('#runs-table th', { hasText: 'p95 latency' }).boundingBox();
          expect(p95!.x + p95!.width).toBeLessThanOrEqual(width);
        } else {
          // Narrower than the runs table: its last columns are reached by scrolling its own box.
          await page.locator('#runs-table').evaluate((t) => t.parentElement!.scrollTo({ left: 1e6 }));
          const box = await page.locator('#runs-table').evaluate((t) => t.parentElement!.getBoundingClientRect().right);
          const p95 = await page.locator('#runs-table th', { hasText: 'p95 latency' }).boundingBox();
          expect(p95!.x).toBeGreaterThanOrEqual(0);
          expect(p95!.x + p95!.width).toBeLessThanOrEqual(box + 0.5);
        }
        // Chart labels start inside their chart (clipped in the middle, not cut at the edge).
        expect(layout.minLabelX).toBeGreaterThanOrEqual(0);
        await page.screenshot({ path: path.join(ARTIFACTS, `report-${width}.png`), fullPage: true });
      } finally {
        await page.close();
      }
    },
  );
});
