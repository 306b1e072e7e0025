/** A flex input whose Python default is None, left out of a request: the line gets None, as flow test and bulk-run give it. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFlowServer, type FlowServer } from '../../src/shared/serve/index.js';
import { post } from './helpers.js';

let dir: string;
let server: FlowServer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-flex-none-'));
  writeFileSync(path.join(dir, 'flow.flex.yaml'), 'entry: chat:respond\n');
  writeFileSync(
    path.join(dir, 'chat.py'),
    [
      'def respond(question: str, chat_history: list = None, limit: int = 2) -> dict:',
      '    return {"turns": None if chat_history is None else len(chat_history), "limit": limit, "question": question}',
      '',
    ].join('\n'),
  );
  server = await startFlowServer({ flow: dir, port: 0, log: () => undefined });
}, 30_000);
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a list input left out (default None) runs with None; given, it is still type-checked', async () => {
  const left = await post(`${server.url}/score`, JSON.stringify({ question: 'Hi' }));
  expect(left.status).toBe(200);
  expect(left.json()).toEqual({ turns: null, limit: 2, question: 'Hi' });
  const explicitNull = await post(`${server.url}/score`, JSON.stringify({ question: 'Hi', chat_history: null }));
  expect(explicitNull.json()).toEqual({ turns: null, limit: 2, question: 'Hi' });
  const given = await post(`${server.url}/score`, JSON.stringify({ question: 'Hi', chat_history: [{}, {}] }));
  expect(given.json()).toEqual({ turns: 2, limit: 2, question: 'Hi' });
  const wrong = await post(`${server.url}/score`, JSON.stringify({ question: 'Hi', chat_history: 'x' }));
  expect(wrong.status).toBe(400);
  expect((wrong.json() as { error: { message: string } }).error.message).toMatch(
    /flow input 'chat_history' must be of type list, found "x"/,
  );
});
