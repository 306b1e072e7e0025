/**
 * Errors in a flow's own Python code are the user's: this turns what the worker reports (a load failure, a
 * syntax error, a module that is not installed) into ConfigErrors naming the user's file and line, the node or
 * entry, and — for a missing module — the flow's requirements.txt line that lists it.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Problem, type SourceLocation } from '../../errors.js';
import { PythonCodeError, PythonWorkerCrashed } from './errors.js';
import type { PyCodeCheck } from './protocol.js';

/** One requirement of a requirements.txt: its distribution name (normalised) and where it is written. */
export interface Requirement {
  name: string;
  line: number;
  text: string;
}

export interface Requirements {
  file: string;
  entries: Requirement[];
}

/** Where messages show a file: relative to the working directory when below it, else absolute. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** PEP 503 normalisation (lower case, runs of -_. as one), with `_` so it compares with module names. */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '_');
}

/** The distribution named by one requirements.txt line (a name, `name @ url`, a wheel or a package folder). */
function requirementName(spec: string): string | undefined {
  const direct = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*@/.exec(spec);
  if (direct) return direct[1];
  const wheel = /([A-Za-z0-9][A-Za-z0-9_.]*?)-\d[^/\\]*\.whl$/.exec(spec);
  if (wheel) return wheel[1];
  if (/^(\.{0,2}\/|[A-Za-z]:\\|file:)/.test(spec) || /\.(tar\.gz|zip)$/.test(spec)) {
    const base = path
      .basename(spec.replace(/^file:(\/\/)?/, '').replace(/[\\/]+$/, ''))
      .replace(/\.(tar\.gz|zip)$/, '');
    return base.replace(/-\d.*$/, '') || undefined;
  }
  const egg = /#egg=([A-Za-z0-9_.-]+)/.exec(spec);
  if (egg) return egg[1];
  return /^([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(spec)?.[1];
}

/** Reads a requirements.txt (undefined when it does not exist). Options lines (-r, --index-url) are skipped. */
export function readRequirements(file: string): Requirements | undefined {
  if (!existsSync(file)) return undefined;
  const entries: Requirement[] = [];
  readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const text = raw.replace(/(^|\s)#.*$/, '').trim();
      if (!text || (text.startsWith('-') && !/^-e\s/.test(text))) return;
      const name = requirementName(text.replace(/^-e\s+/, ''));
      if (name) entries.push({ name: normaliseName(name), line: i + 1, text });
    });
  return { file, entries };
}

/** Import names whose distribution is named otherwise. */
const DISTRIBUTIONS: Record<string, string[]> = {
  sklearn: ['scikit_learn'],
  yaml: ['pyyaml'],
  pil: ['pillow'],
  cv2: ['opencv_python', 'opencv_python_headless', 'opencv_contrib_python'],
  bs4: ['beautifulsoup4'],
  dotenv: ['python_dotenv'],
  docx: ['python_docx'],
  pptx: ['python_pptx'],
  fitz: ['pymupdf'],
  jwt: ['pyjwt'],
  dateutil: ['python_dateutil'],
  attr: ['attrs'],
  magic: ['python_magic'],
  crypto: ['pycryptodome'],
  serpapi: ['google_search_results'],
  faiss: ['faiss_cpu', 'faiss_gpu'],
  google_protobuf: ['protobuf'],
  git: ['gitpython'],
  win32api: ['pywin32'],
  jose: ['python_jose'],
  multipart: ['python_multipart'],
  openai_whisper: ['openai_whisper'],
  tiktoken_ext: ['tiktoken'],
  pkg_resources: ['setuptools'],
};

/** The requirement that provides `module` (dotted), if the file lists one. */
export function requirementFor(module: string, requirements: Requirements | undefined): Requirement | undefined {
  if (!requirements) return undefined;
  const parts = module.split('.');
  const candidates = new Set<string>();
  for (let i = parts.length; i >= 1; i--) candidates.add(normaliseName(parts.slice(0, i).join('_')));
  for (const c of [...candidates]) for (const d of DISTRIBUTIONS[c] ?? []) candidates.add(d);
  return requirements.entries.find((r) => candidates.has(r.name));
}

/** The requirements.txt of a flow: `environment.python_requirements_txt` of its YAML, else requirements.txt beside it. */
export function requirementsFileOf(flow: {
  file: string;
  workingDir: string;
  environment?: Record<string, unknown>;
}): string {
  const declared = flow.environment?.python_requirements_txt;
  if (typeof declared === 'string' && declared.trim()) return path.resolve(path.dirname(flow.file), declared);
  return path.join(path.dirname(flow.file), 'requirements.txt');
}

function missingModuleAdvice(module: string, requirements: Requirements | undefined): string {
  const req = requirementFor(module, requirements);
  if (req && requirements) {
    const where = displayPath(requirements.file);
    return `; ${where}:${req.line} lists it (${req.text}): install it (pip install -r ${where}) or set execution.python_requirements: install`;
  }
  if (requirements) return `; ${displayPath(requirements.file)} does not list it by name: add it there and install it`;
  return "; install it in the Python environment the flow runs with (or list it in the flow's requirements.txt and set execution.python_requirements: install)";
}

/** Problems of a `check_code` result: every syntax error and every missing module, each at its file and line. */
export function codeCheckProblems(
  check: PyCodeCheck,
  requirements?: Requirements,
  subjects: Record<string, string> = {},
  original: (file: string) => string = (f) => f,
): Problem[] {
  const problems: Problem[] = [];
  const who = (entry?: string) => (entry && subjects[entry] ? `${subjects[entry]}: ` : '');
  const shown = (file: string) => displayPath(original(file));
  for (const s of check.syntax)
    problems.push({
      file: shown(s.file),
      line: s.line,
      column: s.column,
      message: `${who(s.entry)}${s.message} (the flow's Python code does not compile)`,
    });
  for (const m of check.missing) {
    problems.push({
      file: shown(m.file),
      line: m.line,
      message: `${who(m.entry)}module ${JSON.stringify(m.module)} is imported but not installed${missingModuleAdvice(m.module, requirements)}`,
    });
  }
  return problems;
}

export interface LoadContext {
  /** What was being loaded, for the message: `node summarize`, `entry flow:ChatFlow`. */
  subject: string;
  /** Where to point when the error has no place in the user's code (the flow file, its entry line). */
  fallback: SourceLocation;
  requirements?: Requirements;
  /** Said after a missing __init__ argument: where init values come from. */
  initHint?: string;
  /** The connections the flow can name (for a connection that is not defined). */
  connectionNames?: string[];
}

/** A Python failure while loading a flow's code (import, syntax, missing entry, failing __init__) as a ConfigError. */
export function pythonLoadError(err: PythonCodeError, ctx: LoadContext): ConfigError {
  const info = err.info;
  const place: SourceLocation = info.location
    ? { file: displayPath(info.location.file), line: info.location.line, column: info.location.column }
    : ctx.fallback;
  let message: string;
  if (info.missingInit?.length) {
    message = `${ctx.subject}: ${info.excMessage.replace(/\.$/, '')}${ctx.initHint ? `; ${ctx.initHint}` : ''}`;
    return ConfigError.at(ctx.fallback, message);
  }
  if (
    info.code === 'EntryNotFound' ||
    info.code === 'InvalidFlexFlowEntry' ||
    info.code === 'InvalidAggregationFunction'
  ) {
    return ConfigError.at(
      info.code === 'InvalidAggregationFunction' && info.location ? place : ctx.fallback,
      `${ctx.subject}: ${info.excMessage} (${info.code})`,
    );
  }
  if (info.code === 'ConnectionNotFound' && ctx.connectionNames) {
    // Worded as for an llm node's connection: the same names, the same ways to give one.
    const name = /'([^']*)'/.exec(info.excMessage)?.[1] ?? '';
    const known = ctx.connectionNames;
    return ConfigError.at(
      ctx.fallback,
      `${ctx.subject}: connection ${JSON.stringify(name)} is not defined; expected one of: ${known.length ? known.join(', ') : '(no connections given: use --connections, experiment.yaml connections, or AZURE_OPENAI_*/OPENAI_API_KEY)'}`,
    );
  }
  if (info.code === 'ConnectionNotFound' || info.code === 'NodeInputValidationError') {
    return ConfigError.at(ctx.fallback, `${ctx.subject}: ${info.excMessage} (${info.code})`);
  }
  if (info.code === 'NoToolDefined' || info.code === 'MultipleToolsDefined' || info.code === 'FileNotFound') {
    return ConfigError.at(ctx.fallback, `${ctx.subject}: ${info.excMessage} (${info.code})`);
  }
  if (info.code === 'FlowEntryInitializationError' && info.type === 'WorkerUserError') {
    // Found before the constructor ran (an argument it does not take, text that does not convert).
    return ConfigError.at(ctx.fallback, `${ctx.subject}: ${info.excMessage}`);
  }
  if (info.code === 'FlowEntryInitializationError') {
    message = `${ctx.subject}: __init__ failed: (${info.type}) ${info.excMessage}`;
  } else {
    message = `${ctx.subject}: (${info.type}) ${info.excMessage}`;
  }
  if (info.missingModule && /^promptflow(\.|$)/.test(info.missingModule)) {
    message += `; llmops runs flows without the promptflow package, and its stand-in does not provide ${info.missingModule}: install the promptflow package in the flow's Python environment to use it`;
  } else if (info.missingModule) {
    message += missingModuleAdvice(info.missingModule, ctx.requirements);
  }
  const problems: Problem[] = [{ ...place, message }];
  return new ConfigError(problems);
}

/**
 * What loading a flow's Python code threw, as the user's error: the code's own failure (pythonLoadError), or the
 * interpreter dying while it ran the user's module (os._exit, a crashing C extension) or not starting at all.
 * Anything else is rethrown as it is.
 */
export function asLoadError(err: unknown, ctx: LoadContext): unknown {
  if (err instanceof PythonCodeError) return pythonLoadError(err, ctx);
  if (err instanceof PythonWorkerCrashed) return ConfigError.at(ctx.fallback, `${ctx.subject}: ${err.message}`);
  return err;
}
