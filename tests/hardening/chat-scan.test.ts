/**
 * The chat-prompt scans (role markers, `name:`/`tool_call_id:` headers, `tool_calls:`) give exactly what Prompt
 * Flow's regexes give, in linear time: the regexes, run by a backtracking engine, took minutes on a few thousand
 * newlines of users' data (issue 11).
 */
import fc from 'fast-check';
import { findRoleLines, parseChat, VALID_ROLES } from '../../src/shared/engine/template/index.js';
import { keyAndContent, toolCallsText } from '../../src/shared/engine/template/chat-parser.js';
import { PY_WHITESPACE_CLASS } from '../../src/shared/engine/template/image.js';

// Prompt Flow's patterns (promptflow-tools common.py), as regexes: the reference the scans must equal.
const WS = `[${PY_WHITESPACE_CLASS}]`;
const NWS = `[^${PY_WHITESPACE_CLASS}]`;
const ROLE = new RegExp(`(?<![^\\n])${WS}*#?${WS}*(${VALID_ROLES.join('|')})${WS}*:${WS}*\\n`, 'giu');
const header = (key: string) =>
  new RegExp(
    `\\n*#{0,2}${WS}*${key}${WS}*:${WS}*\\n+${WS}*(${NWS}+)${WS}*\\n*#{0,2}${WS}*content${WS}*:${WS}*\\n?([\\s\\S]*)`,
  );
const TOOL_CALLS = new RegExp(`\\n*#{0,2}${WS}*tool_calls${WS}*:${WS}*\\n+${WS}*(\\[[\\s\\S]*?\\])`);

// Short texts over the characters that matter, so the regexes stay fast and every corner is reached.
const piece = fc.constantFrom(
  ' ',
  '  ',
  '\n',
  '\n\n',
  '\t',
  '#',
  '##',
  ':',
  'user',
  'User',
  'system',
  'tool',
  'name',
  'content',
  'tool_call_id',
  'tool_calls',
  'x',
  'ab',
  '[1]',
  '[',
  ']',
  '\r',
);
const text = fc.array(piece, { maxLength: 24 }).map((p) => p.join(''));

test('property: role markers found by the scan are the regex matches', () => {
  fc.assert(
    fc.property(text, (t) => {
      const expected = [...t.matchAll(ROLE)].map((m) => ({ start: m.index, end: m.index + m[0].length, role: m[1] }));
      expect(findRoleLines(t)).toEqual(expected);
    }),
    { numRuns: 3000 },
  );
});

test('property: name / tool_call_id headers and tool_calls lists equal the regex captures', () => {
  fc.assert(
    fc.property(text, (t) => {
      for (const key of ['name', 'tool_call_id']) {
        const m = header(key).exec(t);
        expect(keyAndContent(t, key)).toEqual(m ? [m[1], m[2]] : undefined);
      }
      expect(toolCallsText(t)).toEqual(TOOL_CALLS.exec(t)?.[1]);
    }),
    { numRuns: 3000 },
  );
});

test.each([
  ['64,000 spaces after a role marker', `user:\n${' '.repeat(64_000)}x`],
  ['64,000 newlines after name:', `user:\nname:${'\n'.repeat(64_000)}`],
  ['64,000 newlines between a name and its content', `user:\nname:\nx${'\n'.repeat(64_000)}y`],
  ['a million role markers', 'user:\nhi\n'.repeat(1_000_000)],
  ['4 MB of whitespace lines', ' \n'.repeat(2_000_000)],
])('parseChat over %s stays linear', (_name, prompt) => {
  const started = performance.now();
  try {
    parseChat(prompt);
  } catch (e) {
    expect((e as Error).name).toMatch(/^ChatAPI/);
  }
  // A linear scan of these inputs takes well under a second; a backtracking (quadratic) one takes hours. The bound
  // tells the two apart whatever the machine's load, without timing a figure.
  expect(performance.now() - started).toBeLessThan(30_000);
});
