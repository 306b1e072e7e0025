/**
 * Conformance of images (promptflow-formats.md §2.6): image inputs from defaults, path dicts, URLs (a loopback
 * server) and chat history reach Python as `Image` objects; images in outputs are saved as files under the
 * run folder and referenced by path; aggregation gets them back as images; unusable image inputs fail their
 * line with a clear error.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBatch } from '../../../src/shared/runs/index.js';
import { createExecutor, LlmService } from '../../../src/shared/engine/index.js';
import { loadFlow } from '../../../src/shared/flow/index.js';
import { startModelServer } from '../../../src/model-server/index.js';
import { azureConnection, FIX, lineRecords, recordingService, tempStore } from './helpers.js';

let server: Server;
let base: string;
let hits = 0;
const dot = readFileSync(`${FIX}/images/pics/dot.png`);

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/dot.png' || req.url === '/other.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(req.url === '/dot.png' ? dot : readFileSync(`${FIX}/images/pics/other.png`));
    } else if (req.url === '/slow.png') {
      // never answers: the fetch must give up after the model calls' time limit
    } else if (req.url === '/page.html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><p>not a picture');
    } else {
      res.writeHead(404);
      res.end('no such picture');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

describe('an image flow through a batch run', () => {
  let summary: Awaited<ReturnType<typeof runBatch>>;
  let recs: Awaited<ReturnType<typeof lineRecords>>;
  let store: string;
  let data: string;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmops-images-'));
    cpSync(`${FIX}/images`, dir, { recursive: true });
    const lines = [
      {
        question: 'picture from a plain path, history with an image',
        picture: 'pics/dot.png',
        history: [
          { inputs: { question: ['earlier', { 'data:image/png;path': 'pics/other.png' }] }, outputs: { answer: 'ok' } },
        ],
      },
      { question: 'picture from a path dict', picture: { 'data:image/png;path': 'pics/other.png' }, history: [] },
      { question: 'picture from a URL', picture: `${base}/dot.png`, history: [] },
      { question: 'missing file', picture: 'pics/nope.png', history: [] },
      { question: 'a folder', picture: { 'data:image/png;path': 'pics' }, history: [] },
      { question: 'an empty text', picture: '', history: [] },
      { question: 'a URL that answers 404', picture: { 'data:image/png;url': `${base}/gone.png` }, history: [] },
      { question: 'a web page', picture: `${base}/page.html`, history: [] },
      { question: 'a text file', picture: 'look.py', history: [] },
      { question: 'a number', picture: 5, history: [] },
    ];
    data = join(dir, 'data.jsonl');
    writeFileSync(data, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    store = tempStore();
    // `picture` and `history` have defaults: only an explicit mapping takes them from the data (§6.4).
    const columnMapping = { picture: '${data.picture}', history: '${data.history}', question: '${data.question}' };
    summary = await runBatch({ flow: dir, data, columnMapping, storeRoot: store, concurrency: 2 });
    recs = await lineRecords(summary.dir);
  });

  test('images reach Python as Image objects, from a path, a path dict, a URL and inside chat history', () => {
    expect(recs.slice(0, 3).map((r) => r.status)).toEqual(['Completed', 'Completed', 'Completed']);
    const answers = recs.slice(0, 3).map((r) => r.outputs!.answer as Record<string, unknown>);
    expect(answers.map((a) => a.size)).toEqual([dot.length, dot.length + 1, dot.length]);
    expect(answers.map((a) => a.mime)).toEqual(['image/png', 'image/png', 'image/png']);
    expect(answers[0].history_images).toBe(1);
    expect(hits).toBeGreaterThanOrEqual(1);
  });

  test('images in outputs are files under the run folder, referenced as {"data:image/png;path": ...}', () => {
    const answer = recs[0].outputs!.answer as { images: Array<Record<string, string>> };
    const [given, made] = answer.images.map((ref) => ref['data:image/png;path']);
    expect(given).toMatch(/^images\/[0-9a-f-]{36}\.png$/);
    expect(readFileSync(join(summary.dir, given))).toEqual(dot);
    expect(readFileSync(join(summary.dir, made))).toEqual(Buffer.concat([dot, Buffer.from('!')]));
    // The flow output that is the input image itself: also a saved file; an image fetched from a URL keeps its URL.
    expect(
      existsSync(join(summary.dir, (recs[0].outputs!.picture as Record<string, string>)['data:image/png;path'])),
    ).toBe(true);
    expect(recs[2].outputs!.picture).toEqual({ 'data:image/png;url': `${base}/dot.png` });
    expect(JSON.stringify(recs[0].outputs)).not.toContain('"bytes"');
  });

  test('aggregation gets the recorded images back as Image objects; NaN/Infinity metrics stay NaN/Infinity in metrics.json', () => {
    expect(summary.metrics.images).toBe(6); // two images per completed line
    expect(summary.metrics.ratio).toBe(3);
    expect(summary.metrics.big).toBe(Infinity);
    expect(readFileSync(join(summary.dir, 'metrics.json'), 'utf8')).toContain('"big": Infinity');
  });

  test("an evaluation run reads the run's saved images through ${run.outputs.x} (paths relative to that run's folder)", async () => {
    const ev = await runBatch({
      flow: `${FIX}/eval_image`,
      data,
      referencedRun: summary.runId,
      columnMapping: { picture: '${run.outputs.picture}' },
      storeRoot: store,
    });
    // Only the lines that completed in the referenced run are evaluated (§6.3); the URL line keeps its URL.
    expect(ev.counts).toEqual({ total: 3, completed: 3, failed: 0 });
    expect((await lineRecords(ev.dir)).map((r) => r.outputs!.size)).toEqual([dot.length, dot.length + 1, dot.length]);
  });

  test('unusable image inputs fail their line with what was found and what was expected', () => {
    const byQuestion = (q: string) => recs.find((r) => r.inputs.question === q)!;
    const missing = byQuestion('missing file');
    expect(missing.status).toBe('Failed');
    expect(missing.error!.message).toMatch(
      /^Failed to load image for input 'picture': image file not found: .*pics\/nope\.png$/,
    );
    expect(missing.error!.innerError?.code).toBe('LoadMultimediaDataError');
    expect(byQuestion('a folder').error!.message).toMatch(/found the folder .*pics, expected an image file$/);
    expect(byQuestion('an empty text').error!.message).toBe(
      "Failed to load image for input 'picture': found an empty text, expected an image: a file path, a URL or base64 data",
    );
    expect(byQuestion('a URL that answers 404').error!.message).toBe(
      `Failed to load image for input 'picture': Failed to fetch image from URL: ${base}/gone.png. Error code: 404. Error message: no such picture.`,
    );
    expect(byQuestion('a web page').error!.message).toBe(
      `Failed to load image for input 'picture': Failed to fetch image from URL: ${base}/page.html: the answer (text/html) is not an image`,
    );
    expect(byQuestion('a text file').error!.message).toMatch(
      /^Failed to load image for input 'picture': found .*look\.py, which does not start like an image file; expected an image file \(PNG, JPEG/,
    );
    expect(byQuestion('a number').error!.message).toBe(
      "Failed to load image for input 'picture': found the number 5, expected an image: a file path, a URL, base64 data or an image object",
    );
    expect(summary.counts).toEqual({ total: 10, completed: 3, failed: 7 });
  });
});

test('a default image path is read from the flow folder; flow test style: no sink gives base64 dicts', async () => {
  const ex = await createExecutor(loadFlow(`${FIX}/images`));
  try {
    const r = await ex.runLine({ question: 'q' });
    expect(r.status).toBe('Completed');
    expect((r.outputs!.answer as Record<string, unknown>).size).toBe(dot.length);
    expect(r.outputs!.picture).toEqual({ 'data:image/png;base64': dot.toString('base64') });
  } finally {
    await ex.close();
  }
});

describe('images sent to a vision model (openai-vision message format)', () => {
  test('inputs, chat history and a template image literal become image_url parts with data URLs', async () => {
    const srv = await startModelServer({});
    const { llm, sent } = recordingService();
    const ex = await createExecutor(loadFlow(`${FIX}/vision`), { connections: [azureConnection(srv.url)], llm });
    try {
      const dataUrl = `data:image/png;base64,${dot.toString('base64')}`;
      const history = [
        {
          inputs: { question: ['first?', { type: 'image_file', image_file: { path: 'dot.png' } }] },
          outputs: { answer: 'a dot' },
        },
      ];
      // (A different picture: parts are matched by the image's short hash, so equal bytes would share one part.)
      // A text part is text, as Prompt Flow's Text (a str): it renders as its text.
      const r = await ex.runLine({
        question: [
          { type: 'text', text: 'and now?' },
          { type: 'image_url', image_url: { url: `${base}/other.png` } },
        ],
        chat_history: history,
      });
      expect(r.error?.message ?? r.status).toBe('Completed');
      const messages = sent[0].body.messages as Array<{ role: string; content: unknown }>;
      const part = (url: string) => ({ type: 'image_url', image_url: { url, detail: 'auto' } });
      expect(messages[0]).toEqual({
        role: 'system',
        content: [{ type: 'text', text: 'Look at the stamp: ' }, part(dataUrl)],
      }); // text lines are not stripped (§2.4)
      expect(messages[1]).toEqual({ role: 'user', content: [{ type: 'text', text: 'first?' }, part(dataUrl)] });
      expect(messages[2]).toEqual({ role: 'assistant', content: 'a dot' });
      // An image that came from a URL is sent as its URL, as Prompt Flow does.
      expect(messages[3]).toEqual({
        role: 'user',
        content: [{ type: 'text', text: 'and now?' }, part(`${base}/other.png`)],
      });
    } finally {
      await ex.close();
      await srv.close();
    }
  });
});

test('image defaults that cannot be read are load warnings (file:line:col); lines giving the inputs still run', async () => {
  const flow = loadFlow(`${FIX}/image_defaults`);
  expect(flow.warnings.map((w) => `${w.line}:${w.column} ${w.message}`)).toEqual([
    '3:33 inputs.empty.default: found an empty text, expected an image (a file path relative to the flow folder, a URL or base64 data); every line that does not give empty will fail',
    '4:35 inputs.missing.default: found "pics/nope.png", but no such file exists; expected an image file relative to the flow folder; every line that does not give missing will fail',
    '5:34 inputs.folder.default: found "pics", a folder; expected an image file relative to the flow folder; every line that does not give folder will fail',
  ]);
  const ex = await createExecutor(flow);
  try {
    const ok = await ex.runLine({ empty: 'pics/dot.png', missing: 'pics/dot.png', folder: 'pics/dot.png' });
    expect(ok.outputs).toEqual({ size: dot.length * 4 });
    const bad = await ex.runLine({ missing: 'pics/dot.png', folder: 'pics/dot.png' });
    expect(bad.error?.message).toBe(
      "Failed to load image for input 'empty' (its default in the flow): found an empty text, expected an image: a file path, a URL or base64 data",
    );
  } finally {
    await ex.close();
  }
});

test("an image URL that does not answer fails the line after the model calls' time limit", async () => {
  const ex = await createExecutor(loadFlow(`${FIX}/images`), { llm: new LlmService({ client: { timeoutMs: 300 } }) });
  try {
    const started = performance.now();
    const r = await ex.runLine({ question: 'slow', picture: `${base}/slow.png` });
    expect(r.error?.message).toBe(
      `Failed to load image for input 'picture': Failed to fetch image from URL: ${base}/slow.png: no answer within 300 ms`,
    );
    expect(performance.now() - started).toBeLessThan(5000);
  } finally {
    await ex.close();
  }
});

test('a flex entry gets the images inside a list input as Image objects; the image it returns is saved', async () => {
  const root = mkdtempSync(join(tmpdir(), 'llmops-flex-images-'));
  const ex = await createExecutor(loadFlow(`${FIX}/flex_images`), { images: { root, subdir: 'images' } });
  try {
    const r = await ex.runLine({ pictures: ['a caption', { 'data:image/png;path': 'dot.png' }, `${base}/other.png`] });
    expect(r.error?.message ?? r.status).toBe('Completed');
    expect(r.outputs).toMatchObject({ images: 1, texts: ['a caption', `${base}/other.png`] });
    const ref = (r.outputs!.first as Record<string, string>)['data:image/png;path'];
    expect(readFileSync(join(root, ref))).toEqual(dot);
  } finally {
    await ex.close();
  }
});

test('a served flow (imageUrls: public) does not fetch image URLs of private or loopback hosts', async () => {
  const ex = await createExecutor(loadFlow(`${FIX}/images`), { imageUrls: 'public' });
  try {
    const before = hits;
    for (const url of [
      `${base}/dot.png`,
      base.replace('127.0.0.1', 'localhost') + '/dot.png',
      'http://[::1]:9/x.png',
      'http://169.254.169.254/latest/meta-data',
    ]) {
      const r = await ex.runLine({ question: 'q', picture: { 'data:image/png;url': url } });
      expect(r.error?.message).toBe(
        `Failed to load image for input 'picture': Failed to fetch image from URL: ${url}: its host is a private, loopback or link-local address, which a served flow does not fetch`,
      );
    }
    expect(hits).toBe(before);
  } finally {
    await ex.close();
  }
});
