/**
 * The data reader's hostile-input corpus: each bad file is an exit-2 ConfigError naming file:line (and column
 * where there is one), found within a bounded time; good edge cases read as before. Plus a property: for any
 * bytes, the reader yields rows or throws our ConfigError, nothing else.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ConfigError, exitCodeOf, formatProblem } from '../../src/shared/errors.js';
import { readData, scanData } from '../../src/shared/runs/data.js';
import { findJsonFault } from '../../src/shared/data/json-scan.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'llmops-data-corpus-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
}

async function readAll(
  f: string,
  limits?: { maxLineBytes?: number; maxDepth?: number },
): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const r of readData(f, {
    maxLineBytes: limits?.maxLineBytes ?? 10 * 1024 * 1024,
    maxDepth: limits?.maxDepth ?? 100,
  }))
    rows.push(r);
  return rows;
}

/** The one-line error of a bad file, with the directory cut off. */
async function errorOf(work: Promise<unknown>): Promise<string> {
  const e = await work.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(e)}`);
  expect(exitCodeOf(e)).toBe(2);
  return e.problems.map(formatProblem).join('\n').split(`${dir}${path.sep}`).join('');
}

const deep = (n: number) => `{"q": ${'['.repeat(n)}${']'.repeat(n)}}`;

// name, file name, content, expected error (exact), limits
const BAD: [string, string, string | Buffer, string | RegExp, { maxLineBytes?: number; maxDepth?: number }?][] = [
  [
    'invalid UTF-8 in a JSON line',
    'utf8.jsonl',
    Buffer.concat([Buffer.from('{"q": "ok"}\n{"q": "caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]),
    'utf8.jsonl:2:11: invalid UTF-8: byte 11 of the line is 0xe9; expected UTF-8 text (re-save the file as UTF-8)',
  ],
  [
    'a lone continuation byte',
    'cont.jsonl',
    Buffer.concat([Buffer.from('{"q": "'), Buffer.from([0x80]), Buffer.from('"}\n')]),
    'cont.jsonl:1:8: invalid UTF-8: byte 8 of the line is 0x80; expected UTF-8 text (re-save the file as UTF-8)',
  ],
  [
    'an overlong encoding',
    'overlong.jsonl',
    Buffer.concat([Buffer.from('{"q": "'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}\n')]),
    'overlong.jsonl:1:8: invalid UTF-8: byte 8 of the line is 0xc0; expected UTF-8 text (re-save the file as UTF-8)',
  ],
  [
    'a UTF-16 surrogate in UTF-8',
    'surrogate.jsonl',
    Buffer.concat([Buffer.from('{"q": "ab'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\n')]),
    'surrogate.jsonl:1:10: invalid UTF-8: byte 10 of the line is 0xed; expected UTF-8 text (re-save the file as UTF-8)',
  ],
  [
    'a sequence cut by the end of the file',
    'cut.jsonl',
    Buffer.concat([Buffer.from('{"q": "x"}\n{"q": "'), Buffer.from([0xe2, 0x82])]),
    'cut.jsonl:2:8: invalid UTF-8: byte 8 of the line is 0xe2; expected UTF-8 text (re-save the file as UTF-8)',
  ],
  [
    'a UTF-16 file (BOM FF FE)',
    'utf16.jsonl',
    Buffer.from('\ufeff{"q": 1}\n', 'utf16le'),
    'utf16.jsonl:1:1: invalid UTF-8: byte 1 of the line is 0xff; expected UTF-8 text (re-save the file as UTF-8)',
  ],
  [
    'invalid UTF-8 in a CSV cell',
    'utf8.csv',
    Buffer.concat([Buffer.from('question,answer\nq1,a1\nq2,caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
    'utf8.csv:3:7: invalid UTF-8: byte 7 of the line is 0xe9; expected UTF-8 text (re-save the file as UTF-8)',
  ],
  [
    'Latin-1 in a .json file',
    'latin1.json',
    Buffer.concat([Buffer.from('[\n  {"q": "a"},\n  {"q": "'), Buffer.from([0xfc]), Buffer.from('"}\n]\n')]),
    'latin1.json:3:10: invalid UTF-8: byte 10 of the line is 0xfc; expected UTF-8 text (re-save the file as UTF-8)',
  ],
  [
    'a CSV row with an extra field',
    'extra.csv',
    'question,answer\nq1,a1\nq2,a2,oops\n',
    "extra.csv:3: found 3 fields, expected 2 (the header's: question, answer); quote a field that holds the delimiter",
  ],
  [
    'a CSV row with a missing field',
    'short.csv',
    'question,answer\nq1,a1\nq2\n',
    "short.csv:3: found 1 fields, expected 2 (the header's: question, answer); quote a field that holds the delimiter",
  ],
  [
    'a TSV row with an extra field',
    'extra.tsv',
    'question\tanswer\nq1\ta1\tx\n',
    "extra.tsv:2: found 3 fields, expected 2 (the header's: question, answer); quote a field that holds the delimiter",
  ],
  [
    'a CSV header naming a column twice',
    'dup.csv',
    'q,a,q\n1,2,3\n',
    'dup.csv:1: column "q" appears twice in the header (fields 1 and 3); expected unique column names',
  ],
  [
    'a CSV quote never closed',
    'quote.csv',
    'question,answer\nq1,"a1\n',
    /^quote\.csv:2: invalid CSV: Quote Not Closed/,
  ],
  [
    'invalid JSON in a line',
    'bad.jsonl',
    '{"q": 1}\n{"q": }\n',
    `bad.jsonl:2:7: invalid JSON: expected a value (object, array, string, number, true, false or null), found "}"; expected one JSON object per line`,
  ],
  [
    'a truncated JSON line',
    'trunc.jsonl',
    '{"q": "abc\n',
    'trunc.jsonl:1:11: invalid JSON: unterminated string, expected a closing "; expected one JSON object per line',
  ],
  [
    'a JSON line that is an array',
    'array.jsonl',
    '[1, 2]\n',
    'array.jsonl:1: found a JSON array, expected a JSON object per line',
  ],
  [
    'a JSON line that is a string',
    'string.jsonl',
    '{"q": 1}\n\n"text"\n',
    'string.jsonl:3: found a JSON string, expected a JSON object per line',
  ],
  [
    'a .json file with an error on line 3',
    'doc.json',
    '[\n  {"q": 1},\n  {"q": 2,}\n]\n',
    'doc.json:3:11: invalid JSON: expected a double-quoted property name, found "}\\n]\\n"; expected an array of records',
  ],
  [
    'a .json array with a non-object record',
    'scalars.json',
    '[\n  {"q": 1},\n  42\n]\n',
    'scalars.json:3: record 2 is a JSON number, expected an object per record',
  ],
  [
    'a JSON line nested 10,000 deep',
    'deep.jsonl',
    `{"q": 1}\n${deep(10_000)}\n`,
    'deep.jsonl:2:106: JSON nested deeper than 100 levels (the limit, LLMOPS_DATA_MAX_DEPTH); expected flatter records',
  ],
  [
    'nesting just over a configured limit',
    'deep5.jsonl',
    `${deep(5)}\n`,
    'deep5.jsonl:1:11: JSON nested deeper than 5 levels (the limit, LLMOPS_DATA_MAX_DEPTH); expected flatter records',
    { maxDepth: 5 },
  ],
  [
    'a .json file nested too deep',
    'deep.json',
    `[\n${deep(200)}\n]\n`,
    'deep.json:2:106: JSON nested deeper than 100 levels (the limit, LLMOPS_DATA_MAX_DEPTH); expected flatter records',
  ],
  [
    'a line over the size limit',
    'long.jsonl',
    `{"q": 1}\n{"q": "${'x'.repeat(5000)}"}\n`,
    'long.jsonl:2: line is longer than 1000 bytes (the limit, LLMOPS_DATA_MAX_LINE_BYTES); expected one record per line within the limit',
    { maxLineBytes: 1000 },
  ],
  [
    'a CSV line over the size limit',
    'long.csv',
    `q\n${'y'.repeat(5000)}\n`,
    'long.csv:2: line is longer than 1000 bytes (the limit, LLMOPS_DATA_MAX_LINE_BYTES); expected one record per line within the limit',
    { maxLineBytes: 1000 },
  ],
  [
    'a last line without a break over the limit',
    'tail.jsonl',
    `{"q": "${'z'.repeat(3000)}"}`,
    'tail.jsonl:1: line is longer than 1000 bytes (the limit, LLMOPS_DATA_MAX_LINE_BYTES); expected one record per line within the limit',
    { maxLineBytes: 1000 },
  ],
];

describe.each(BAD)('%s', (_name, name, content, expected, limits) => {
  test('is an exit-2 error at its line', async () => {
    const f = file(name, content);
    const started = performance.now();
    const message = await errorOf(readAll(f, limits));
    expect(performance.now() - started).toBeLessThan(5000);
    if (typeof expected === 'string') expect(message).toBe(expected);
    else expect(message).toMatch(expected);
  });
});

test('a 50 MB line fails at once, without reading the file whole', async () => {
  const f = file('huge.jsonl', `{"q": "${'x'.repeat(50 * 1024 * 1024)}"}\n`);
  const rss0 = process.memoryUsage().rss;
  const started = performance.now();
  const message = await errorOf(readAll(f, { maxLineBytes: 10 * 1024 * 1024 }));
  expect(message).toBe(
    'huge.jsonl:1: line is longer than 10485760 bytes (the limit, LLMOPS_DATA_MAX_LINE_BYTES); expected one record per line within the limit',
  );
  expect(performance.now() - started).toBeLessThan(3000);
  expect(process.memoryUsage().rss - rss0).toBeLessThan(150 * 1024 * 1024);
});

test('a mapped column missing from some rows is reported at the first such row, with the count', async () => {
  const f = file(
    'missing.jsonl',
    '{"question": "q1", "answer": "a"}\n{"answer": "b"}\n{"question": "q3"}\n{"answer": "d"}\n',
  );
  expect(await errorOf(scanData(f, { required: [{ column: 'question', input: 'q' }] }))).toBe(
    'missing.jsonl:2: column "question" (mapped to input "q") is missing from this row and 1 more of 4 rows; expected it in every row (available columns: question, answer)',
  );
  const json = file('missing.json', '[\n  {"question": "q1"},\n  {"other": 2}\n]\n');
  expect(await errorOf(scanData(json, { required: [{ column: 'question' }] }))).toBe(
    'missing.json:3: column "question" is missing from this row (1 of 2 rows); expected it in every row (available columns: question, other)',
  );
});

test('good edge cases read as before: BOM, CRLF, lone CR, blank lines, NaN, multi-line CSV cells, chunk boundaries', async () => {
  expect(await readAll(file('bom.jsonl', '\ufeff{"a": 1}\r\n\r\n{"a": 2}\r{"a": NaN}'))).toEqual([
    { a: 1 },
    { a: 2 },
    { a: NaN },
  ]);
  expect(await readAll(file('cell.csv', '\ufeffq,a\n"line 1\nline 2","x, y"\n\n'))).toEqual([
    { q: 'line 1\nline 2', a: 'x, y' },
  ]);
  expect(await readAll(file('one.json', '{"a": "é"}'))).toEqual([{ a: 'é' }]);
  // Multi-byte characters and CRLF breaks across the 256 KiB read chunks.
  const rows = Array.from({ length: 30_000 }, (_, i) => ({ i, t: `é€😀 ${'x'.repeat(i % 7)}` }));
  const text = rows.map((r) => JSON.stringify(r)).join('\r\n');
  expect(await readAll(file('big.jsonl', text))).toEqual(rows);
});

test('JSON fault finder agrees with JSON.parse on what is valid', () => {
  fc.assert(
    fc.property(fc.oneof(fc.json(), fc.string()), (text) => {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      const fault = findJsonFault(text);
      return valid ? fault === undefined : fault !== undefined || /NaN|Infinity/.test(text);
    }),
    { numRuns: 500 },
  );
});

test('property: for any bytes, in any of the four formats, the reader yields rows or throws our ConfigError', async () => {
  const exts = ['.jsonl', '.json', '.csv', '.tsv'];
  let n = 0;
  const piece = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc
      .constantFrom('{"a": 1}\n', '[', ']', '{', '"', ',', '\t', '\r', '\n', 'a,b\n', 'NaN', '\\', '\ufeff')
      .map((s) => Buffer.from(s)),
    fc.json().map((s) => Buffer.from(`${s}\n`)),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(piece, { maxLength: 20 }), fc.constantFrom(...exts), async (pieces, ext) => {
      const f = file(`prop-${n++}${ext}`, Buffer.concat(pieces));
      try {
        await readAll(f, { maxLineBytes: 256, maxDepth: 8 });
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        for (const p of e.problems)
          expect(p.file).toBe(path.relative(process.cwd(), f).startsWith('..') ? f : path.relative(process.cwd(), f));
      }
    }),
    { numRuns: 300 },
  );
});

test("register-data checks a folder dataset file by file, at each file's line, and hashes it", async () => {
  const { checkDataset } = await import('../../src/shared/data/check.js');
  const { mkdirSync } = await import('node:fs');
  const folder = path.join(dir, 'folder');
  mkdirSync(path.join(folder, 'sub'), { recursive: true });
  writeFileSync(path.join(folder, 'a.jsonl'), '{"q": 1}\n');
  writeFileSync(path.join(folder, 'sub', 'b.csv'), 'q\n2\n');
  const ok = await checkDataset(folder, 'folder', [{ input: 'q', column: 'q' }]);
  expect(ok).toMatchObject({ rows: 2, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  writeFileSync(path.join(folder, 'sub', 'b.csv'), 'q\n2,3\n');
  expect(await errorOf(checkDataset(folder, 'folder', [{ input: 'q', column: 'q' }]))).toBe(
    "folder/sub/b.csv:2: found 2 fields, expected 1 (the header's: q); quote a field that holds the delimiter",
  );
});
