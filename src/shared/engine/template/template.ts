/**
 * Compile-once, render-many Jinja templates with Prompt Flow's environment (promptflow-formats.md §2.1).
 * @module
 */
import type { Problem } from '../../errors.js';
import { beginRender, endRender } from './budget.js';
import { JinjaTemplateError, TemplateEvalError, TemplateSyntaxError } from './errors.js';
import { RenderContext } from './context.js';
import { compileBody, type CompiledStmt } from './evaluator.js';
import { parseTemplate } from './parser.js';
import { toChatInputList } from './py-value.js';

export interface RenderOptions {
  /**
   * AzureOpenAI chat/vision tools wrap every list input so `str(list)` is its items joined by `"\n"`
   * (`convert_to_chat_list`). Set this for those tools; leave it off for prompt nodes and the OpenAI tools.
   */
  chatInputList?: boolean;
}

/** A parsed and compiled template. Rendering is synchronous and reentrant. */
export class CompiledTemplate {
  /** @internal use `compileTemplate`. */
  constructor(
    private readonly run: CompiledStmt,
    readonly source: string,
  ) {}

  /**
   * Renders with `vars` as the template's variables. Values follow the mapping in `py-value.ts`
   * (use `pyFloat(n)` for Python floats). Throws `JinjaTemplateError` ("Failed to render jinja template: …").
   */
  render(vars: Record<string, unknown>, options: RenderOptions = {}): string {
    const input = options.chatInputList ? (toChatInputList(vars) as Record<string, unknown>) : vars;
    const out = { text: '' };
    const previous = beginRender(out);
    try {
      this.run(new RenderContext(input), out);
    } catch (err) {
      throw toJinjaError(err);
    } finally {
      endRender(previous);
    }
    return out.text;
  }
}

/** Converts any failure while rendering into Prompt Flow's `JinjaTemplateError`. */
export function toJinjaError(err: unknown): JinjaTemplateError {
  if (err instanceof JinjaTemplateError) return err;
  if (err instanceof TemplateEvalError) return new JinjaTemplateError(err.pyType, err.reason, { cause: err });
  if (err instanceof TemplateSyntaxError) return new JinjaTemplateError(err.pyType, err.reason, { cause: err });
  if (err instanceof RangeError) return new JinjaTemplateError('MemoryError', err.message, { cause: err });
  throw err;
}

/**
 * Parses and compiles a template. Throws `TemplateSyntaxError` (reason, 1-based line and column) when the template
 * is not valid Jinja or uses an unknown filter/test — report it at load time with `syntaxProblem`.
 */
export function compileTemplate(source: string): CompiledTemplate {
  try {
    const parsed = parseTemplate(source);
    const withLoop = parsed.source.includes('loop');
    return new CompiledTemplate(compileBody(parsed.body, parsed.map, withLoop), parsed.source);
  } catch (err) {
    // Past the nesting limits, only a chain such as `1+1+…+1` of 100,000 terms is still too deep to compile.
    if (err instanceof RangeError)
      throw new TemplateSyntaxError(`the template is too deeply nested to compile (${err.message})`, 1, 1);
    throw err;
  }
}

/** A load-time `Problem` (for `ConfigError`) from a template syntax error, positioned in the template file. */
export function syntaxProblem(err: TemplateSyntaxError, file: string, lineOffset = 0): Problem {
  return { file, line: err.line + lineOffset, column: err.column, message: `invalid Jinja template: ${err.reason}` };
}

const cache = new Map<string, CompiledTemplate | TemplateSyntaxError>();
const CACHE_LIMIT = 256;

/**
 * Renders a template given as text, compiling it once per distinct source (a small cache): how the engine
 * renders templates that arrive at run time (a node input named `prompt`). A syntax error becomes a
 * `JinjaTemplateError`, as in Prompt Flow, which compiles templates when rendering.
 */
export function renderTemplate(source: string, vars: Record<string, unknown>, options?: RenderOptions): string {
  let entry = cache.get(source);
  if (!entry) {
    try {
      entry = compileTemplate(source);
    } catch (err) {
      if (!(err instanceof TemplateSyntaxError)) throw err;
      entry = err;
    }
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(source, entry);
  }
  if (entry instanceof TemplateSyntaxError) throw toJinjaError(entry);
  return entry.render(vars, options);
}
