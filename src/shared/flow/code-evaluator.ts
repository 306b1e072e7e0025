/**
 * Code-only evaluators: a folder without a flow file whose `eval_*.py` files define `eval_*`
 * functions, which the seed template calls as `f(run_name, data_path, column_mapping,
 * output_path[, azure_service])` and which usually call an evaluation SDK's `evaluate()`.
 * Loading reads every such file with Python's own `ast` module (no import, no user code runs, no
 * model call), so syntax errors and unusable signatures are reported at file:line before anything
 * runs.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Problem } from '../errors.js';
import { displayPath } from './resolve-path.js';

const FLOW_FILE = /^flow\.(dag|flex)\.ya?ml$|\.prompty$/;
const EVAL_PREFIX = /^eval_/i;

/** One `eval_*` function of an `eval_*.py` file. */
export interface CodeEvaluatorFunction {
  /** Absolute path of the file. */
  file: string;
  /** Module name the worker imports (the file's stem; the folder is first on sys.path). */
  module: string;
  name: string;
  line: number;
  /** Names of its first four parameters (run_name, data_path, column_mapping, output_path). */
  params: [string, string, string, string];
  isAsync: boolean;
}

/** A loaded code-only evaluator folder. */
export interface CodeEvaluatorRef {
  /** Absolute path of the folder. */
  path: string;
  functions: CodeEvaluatorFunction[];
}

/** True when `dir` is a folder with no flow file and at least one `eval_*.py` file. */
export function isCodeEvaluatorFolder(dir: string): boolean {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return false;
  const names = readdirSync(dir);
  return !names.some((n) => FLOW_FILE.test(n)) && names.some((n) => EVAL_PREFIX.test(n) && n.endsWith('.py'));
}

// Reads each file with ast (never imports it) and prints one JSON line per file.
const INSPECT = String.raw`
import ast, json, sys
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except SyntaxError as exc:
        print(json.dumps({"file": path, "syntax": {"line": exc.lineno, "column": exc.offset, "message": exc.msg}}))
        continue
    functions = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.lower().startswith("eval_"):
            a = node.args
            positional = [p.arg for p in a.posonlyargs] + [p.arg for p in a.args]
            functions.append({"name": node.name, "line": node.lineno, "column": node.col_offset + 1,
                              "async": isinstance(node, ast.AsyncFunctionDef),
                              "posonly": len(a.posonlyargs), "positional": positional,
                              "defaults": len(a.defaults),
                              "kwonlyRequired": [p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]})
    print(json.dumps({"file": path, "functions": functions}))
`;

interface InspectedFunction {
  name: string;
  line: number;
  column: number;
  async: boolean;
  posonly: number;
  positional: string[];
  defaults: number;
  kwonlyRequired: string[];
}

const EXPECTED = 'expected def eval_<name>(run_name, data_path, column_mapping, output_path[, azure_service=...])';

/**
 * Loads a code-only evaluator folder: every `eval_*` function of every `eval_*.py` file, with its
 * signature checked. Throws ConfigError (exit 2) listing every problem at file:line.
 */
export function loadCodeEvaluator(
  dir: string,
  options: { python?: string; displayBase?: string; display?: (absolute: string) => string } = {},
): CodeEvaluatorRef {
  const abs = path.resolve(dir);
  const shown = options.display ?? ((p: string) => displayPath(p, options.displayBase));
  const files = readdirSync(abs)
    .filter((n) => EVAL_PREFIX.test(n) && n.endsWith('.py'))
    .sort()
    .map((n) => path.join(abs, n));
  const python = options.python ?? process.env.LLMOPS_PYTHON ?? 'python3';
  const run = spawnSync(python, ['-c', INSPECT, ...files], { encoding: 'utf8', timeout: 60_000 });
  // Steps that never run the evaluator (deploy, smoke-test) may run where Python is absent: read the
  // definitions as text then; the evaluate step still imports them before any model call.
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    run.stdout = files.map((f) => JSON.stringify({ file: f, functions: scanAsText(f) })).join('\n');
  else if (run.error || run.status !== 0) {
    const why = run.error ? run.error.message : (run.stderr || '').trim().split('\n').slice(-1)[0];
    throw ConfigError.at(
      { file: shown(abs) },
      `could not read the eval_*.py files with ${python} (${why}), expected a working Python 3 (execution.python)`,
    );
  }
  const problems: Problem[] = [];
  const functions: CodeEvaluatorFunction[] = [];
  for (const line of run.stdout.split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as {
      file: string;
      syntax?: { line: number; column: number; message: string };
      functions?: InspectedFunction[];
    };
    if (r.syntax) {
      problems.push({
        file: shown(r.file),
        line: r.syntax.line,
        column: r.syntax.column,
        message: `Python syntax error: ${r.syntax.message}`,
      });
      continue;
    }
    for (const f of r.functions ?? []) {
      const at = { file: shown(r.file), line: f.line, column: f.column };
      const problem = signatureProblem(f);
      if (problem) problems.push({ ...at, message: `${f.name}: ${problem}, ${EXPECTED}` });
      else
        functions.push({
          file: r.file,
          module: path.basename(r.file, '.py'),
          name: f.name,
          line: f.line,
          params: f.positional.slice(0, 4) as CodeEvaluatorFunction['params'],
          isAsync: f.async,
        });
    }
  }
  if (problems.length === 0 && functions.length === 0) {
    problems.push({
      file: shown(abs),
      message: `found eval_*.py files (${files.map((f) => path.basename(f)).join(', ')}) but no top-level eval_* function in them, ${EXPECTED}`,
    });
  }
  if (problems.length) throw new ConfigError(problems);
  return { path: abs, functions };
}

/** Why the template's call `f(run_name, data_path, column_mapping, output_path)` cannot work, if it cannot. */
function signatureProblem(f: InspectedFunction): string | undefined {
  const n = f.positional.length;
  if (n < 4)
    return `takes ${n} positional parameter${n === 1 ? '' : 's'} (${f.positional.join(', ') || 'none'}), but it is called with 4`;
  if (f.posonly > 0) return 'has positional-only parameters (/), but its arguments are passed by name';
  const required = n - f.defaults;
  if (required > 4)
    return `parameter${required - 4 > 1 ? 's' : ''} ${f.positional.slice(4, required).join(', ')} ha${required - 4 > 1 ? 've' : 's'} no default, but only 4 arguments are passed`;
  if (f.kwonlyRequired.length)
    return `keyword-only parameter${f.kwonlyRequired.length > 1 ? 's' : ''} ${f.kwonlyRequired.join(', ')} without a default`;
  return undefined;
}

/** Top-level `def eval_*(...)` read as text (no Python available): parameter names split at top-level commas. */
function scanAsText(file: string): InspectedFunction[] {
  const text = readFileSync(file, 'utf8');
  const out: InspectedFunction[] = [];
  for (const m of text.matchAll(/^(async[ \t]+)?def[ \t]+(eval_\w*)[ \t]*\(/gim)) {
    const params: string[] = [];
    let depth = 0;
    let current = '';
    for (let i = m.index! + m[0].length; i < text.length; i++) {
      const c = text[i];
      if (depth === 0 && (c === ',' || c === ')')) {
        params.push(current.trim());
        current = '';
        if (c === ')') break;
        continue;
      }
      if ('([{'.includes(c)) depth++;
      if (')]}'.includes(c)) depth--;
      current += c;
    }
    const named = params.filter((p) => p !== '' && p !== '/' && !p.startsWith('*'));
    const star = params.findIndex((p) => p.startsWith('*'));
    const positional = (star < 0 ? params : params.slice(0, star)).filter((p) => p !== '' && p !== '/');
    const line = text.slice(0, m.index).split('\n').length;
    out.push({
      name: m[2],
      line,
      column: 1,
      async: Boolean(m[1]),
      posonly: params.includes('/') ? params.indexOf('/') : 0,
      positional: positional.map(paramName),
      defaults: positional.filter((p) => p.includes('=')).length,
      kwonlyRequired: star < 0 ? [] : named.filter((p, i) => i >= positional.length && !p.includes('=')).map(paramName),
    });
  }
  return out;
}

const paramName = (p: string) => p.split(/[:=]/)[0].trim();
