/**
 * Template input discovery (`get_inputs_for_prompt_template`): Jinja's `find_undeclared_variables` plus
 * `![image]({{name}})` image inputs, ordered by first occurrence in the text (promptflow-formats.md §2.1).
 * @module
 */
import type { Expr, Stmt, Target } from './ast.js';
import { findImageInputs } from './image.js';
import { parseTemplate } from './parser.js';
import { TemplateSyntaxError } from './errors.js';

/** One input a template reads. */
export interface TemplateVariable {
  name: string;
  /** `image` when used as `![image]({{name}})`, else `string`. */
  type: 'string' | 'image';
}

/**
 * The variables a template reads from its inputs, in Prompt Flow's order (first position of the name in the
 * text). Throws `TemplateSyntaxError` for an invalid template. Used at load time to detect clashes between
 * template variables and a tool's own parameters.
 */
export function findTemplateVariables(template: string): TemplateVariable[] {
  const names = findUndeclaredVariables(template);
  const byName = new Map<string, TemplateVariable>();
  for (const name of [...names].sort((a, b) => template.indexOf(a) - template.indexOf(b) || (a < b ? -1 : 1))) {
    byName.set(name, { name, type: 'string' });
  }
  for (const name of findImageInputs(template)) byName.set(name, { name, type: 'image' });
  return [...byName.values()];
}

/** Jinja's `meta.find_undeclared_variables`: names read before (or without) being assigned by `for`/`set`. */
export function findUndeclaredVariables(template: string): Set<string> {
  const found = new Set<string>();
  const scopes: Array<Set<string>> = [new Set()];
  const declared = (name: string): boolean => scopes.some((s) => s.has(name));
  const declare = (target: Target): void => {
    const top = scopes[scopes.length - 1]!;
    if (target.kind === 'name') top.add(target.name);
    else target.names.forEach((n) => top.add(n));
  };
  const expr = (e: Expr | undefined): void => {
    if (!e) return;
    switch (e.t) {
      case 'name':
        if (!declared(e.name)) found.add(e.name);
        return;
      case 'getattr':
        return expr(e.obj);
      case 'getitem':
        expr(e.obj);
        return expr(e.key);
      case 'slice':
        [e.obj, e.start, e.stop, e.step].forEach(expr);
        return;
      case 'call':
        expr(e.fn);
        e.args.forEach(expr);
        e.kwargs.forEach(([, v]) => expr(v));
        return;
      case 'filter':
      case 'test':
        expr(e.value);
        e.args.forEach(expr);
        e.kwargs.forEach(([, v]) => expr(v));
        return;
      case 'binary':
      case 'and':
      case 'or':
        expr(e.left);
        return expr(e.right);
      case 'unary':
      case 'not':
        return expr(e.operand);
      case 'compare':
        expr(e.first);
        e.rest.forEach(([, x]) => expr(x));
        return;
      case 'cond':
        expr(e.test);
        expr(e.then);
        return expr(e.orElse);
      case 'list':
        return e.items.forEach(expr);
      case 'dict':
        return e.entries.forEach(([k, v]) => (expr(k), expr(v)));
      case 'concat':
        return e.parts.forEach(expr);
      case 'const':
        return;
    }
  };
  const stmts = (body: Stmt[]): void => {
    for (const s of body) {
      switch (s.t) {
        case 'text':
          break;
        case 'output':
          expr(s.expr);
          break;
        case 'set':
          expr(s.value);
          declare(s.target);
          break;
        case 'if':
          // Names set inside a branch are not certain to exist afterwards: Jinja still reports them.
          for (const b of s.branches) {
            expr(b.test);
            scopes.push(new Set());
            stmts(b.body);
            scopes.pop();
          }
          scopes.push(new Set());
          stmts(s.orElse);
          scopes.pop();
          break;
        case 'for':
          expr(s.iter);
          scopes.push(new Set(['loop']));
          declare(s.target);
          expr(s.filter);
          stmts(s.body);
          scopes.pop();
          scopes.push(new Set());
          stmts(s.orElse);
          scopes.pop();
          break;
      }
    }
  };
  try {
    stmts(parseTemplate(template).body);
  } catch (err) {
    // As in compileTemplate: a chain such as `1+1+…+1` of 100,000 terms is within the nesting limits but too deep to walk.
    if (err instanceof RangeError)
      throw new TemplateSyntaxError(`the template is too deeply nested to compile (${err.message})`, 1, 1);
    throw err;
  }
  return found;
}
