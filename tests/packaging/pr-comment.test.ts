/** The one upserted pull-request comment, against a loopback server imitating the GitHub REST endpoints. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commentMarker, GitHubHost, postPrComment } from '../../src/shared/host/github.js';
import { captureStdout, gitHubEnv } from './capture.js';

interface Comment {
  id: number;
  body: string;
  html_url: string;
}

let server: Server;
let api: string;
let comments: Comment[];
const requests: string[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-pr-'));
const prEvent = path.join(dir, 'pr.json');
const pushEvent = path.join(dir, 'push.json');
writeFileSync(prEvent, JSON.stringify({ pull_request: { number: 7 } }));
writeFileSync(pushEvent, JSON.stringify({ ref: 'refs/heads/main' }));

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      const send = (status: number, data: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
      const url = new URL(req.url!, 'http://x');
      if (req.method === 'GET' && url.pathname === '/repos/acme/app/issues/7/comments') return send(200, comments);
      if (req.method === 'POST' && url.pathname === '/repos/acme/app/issues/7/comments') {
        const c = {
          id: 100 + comments.length,
          body: JSON.parse(body).body,
          html_url: `https://github.test/c/${100 + comments.length}`,
        };
        comments.push(c);
        return send(201, c);
      }
      const m = /^\/repos\/acme\/app\/issues\/comments\/(\d+)$/.exec(url.pathname);
      if (req.method === 'PATCH' && m) {
        const c = comments.find((x) => x.id === Number(m[1]))!;
        c.body = JSON.parse(body).body;
        return send(200, c);
      }
      send(404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  comments = [{ id: 1, body: 'LGTM', html_url: 'https://github.test/c/1' }];
  requests.length = 0;
});

const env = (eventPath: string) => ({
  GITHUB_API_URL: api,
  GITHUB_REPOSITORY: 'acme/app',
  GITHUB_EVENT_PATH: eventPath,
});

test('creates the comment once, then updates the same comment in place', async () => {
  const first = await postPrComment({
    token: 'tok',
    markdown: '## Report v1',
    marker: 'web_classification',
    env: env(prEvent),
  });
  expect(first).toMatchObject({ action: 'created', id: 101 });
  const second = await postPrComment({
    token: 'tok',
    markdown: '## Report v2',
    marker: 'web_classification',
    env: env(prEvent),
  });
  expect(second).toMatchObject({ action: 'updated', id: 101 });
  expect(comments).toHaveLength(2);
  expect(comments[1].body).toBe(`${commentMarker('web_classification')}\n## Report v2`);
  expect(requests.every((r) => r.endsWith('token tok'))).toBe(true);
  // Another use case's marker is another comment.
  await postPrComment({ token: 'tok', markdown: 'other', marker: 'chat', env: env(prEvent) });
  expect(comments).toHaveLength(3);
});

test('skips events that are not about a pull request', async () => {
  expect(await postPrComment({ token: 'tok', markdown: 'x', marker: 'm', env: env(pushEvent) })).toEqual({
    action: 'skipped',
    reason: 'this event is not about a pull request',
  });
  expect(requests).toEqual([]);
});

test("a comment is cut below GitHub's 65,536-character limit", async () => {
  await postPrComment({ token: 'tok', markdown: 'x'.repeat(80_000), marker: 'big', env: env(prEvent) });
  expect(comments[1].body.length).toBeLessThan(65_536);
  expect(comments[1].body).toContain('(truncated');
});

test('the host posts with the github-token input and redacts masked values from the comment', async () => {
  const secret = 'sk-comment-secret-1';
  const gh = gitHubEnv({ 'github-token': 'tok-from-input' });
  Object.assign(process.env, env(prEvent));
  const out = captureStdout();
  try {
    const host = new GitHubHost();
    host.mask(secret);
    await host.publishComment(`key ${secret} leaked?`, 'web_classification');
    expect(comments[1].body).toContain('key *** leaked?');
    expect(comments.map((c) => c.body).join()).not.toContain(secret);
    expect(requests.at(-1)).toContain('token tok-from-input');
    expect(out.shown()).toContain('pull-request comment created: https://github.test/c/101');
  } finally {
    out.restore();
    gh.cleanup();
  }
});
