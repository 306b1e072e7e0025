/** No code outside the run store builds a path inside it: the layout is known in one place (runs/store.ts). */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const STORE = 'src/shared/runs/store.ts';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Store file names as string literals, and path joins onto the store's folders. */
const storePath = [
  /['"`](outputs\.jsonl|run\.json|metrics\.json|error\.json|runs\.json|evaluations\.json)['"`]/,
  /\brunDir\(/,
  /(join|resolve)\([^)]*,\s*['"`](runs|cache|venvs|experiments)['"`]/,
];

/** The lines of `text` that build a store path (comments and help text are prose, not paths). */
function offending(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l))
    .filter((l) => storePath.some((re) => re.test(l)));
}

test('no source file outside runs/store.ts builds a run store path', () => {
  const found: string[] = [];
  for (const file of sources('src')) {
    if (relative('.', file) === STORE) continue;
    for (const l of offending(readFileSync(file, 'utf8'))) found.push(`${file}: ${l.trim()}`);
  }
  expect(found).toEqual([]);
});

test('the check finds the ways a store path used to be built', () => {
  expect(offending("for await (const r of readLineRecords(path.join(dir, 'outputs.jsonl')))")).toHaveLength(1);
  expect(offending("rmSync(path.join(job.storeRoot, 'runs', job.runId))")).toHaveLength(1);
  expect(offending("new ResponseCache({ root: resolve(storeRoot, 'cache') })")).toHaveLength(1);
  expect(offending('const d = runDir(store, id);')).toHaveLength(1);
  expect(offending(" * lines land in .llmops/runs/<run-id>/outputs.jsonl ('outputs.jsonl')")).toHaveLength(0);
});
