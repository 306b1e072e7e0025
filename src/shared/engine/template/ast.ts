/**
 * Syntax tree of a parsed template. `pos` fields are offsets in the normalised source (for error positions).
 * @module
 */

/** Assignment target of `for` / `set`: one name or a tuple of names. */
export type Target = { kind: 'name'; name: string } | { kind: 'tuple'; names: string[] };

export type Stmt =
  | { t: 'text'; value: string }
  | { t: 'output'; expr: Expr }
  | { t: 'for'; target: Target; iter: Expr; filter?: Expr; body: Stmt[]; orElse: Stmt[]; pos: number }
  | { t: 'if'; branches: Array<{ test: Expr; body: Stmt[] }>; orElse: Stmt[] }
  | { t: 'set'; target: Target; value: Expr; pos: number };

export interface CallArgs {
  args: Expr[];
  kwargs: Array<[string, Expr]>;
}

export type Expr =
  | { t: 'const'; value: unknown }
  | { t: 'name'; name: string; pos: number }
  | { t: 'getattr'; obj: Expr; name: string; pos: number }
  | { t: 'getitem'; obj: Expr; key: Expr; pos: number }
  | { t: 'slice'; obj: Expr; start?: Expr; stop?: Expr; step?: Expr; pos: number }
  | ({ t: 'call'; fn: Expr; pos: number } & CallArgs)
  | ({ t: 'filter'; name: string; value: Expr; pos: number } & CallArgs)
  | ({ t: 'test'; name: string; value: Expr; negate: boolean; pos: number } & CallArgs)
  | { t: 'binary'; op: string; left: Expr; right: Expr; pos: number }
  | { t: 'unary'; op: '-' | '+'; operand: Expr; pos: number }
  | { t: 'not'; operand: Expr }
  | { t: 'and' | 'or'; left: Expr; right: Expr }
  | { t: 'compare'; first: Expr; rest: Array<[string, Expr]>; pos: number }
  | { t: 'cond'; test: Expr; then: Expr; orElse?: Expr }
  | { t: 'list'; items: Expr[] }
  | { t: 'dict'; entries: Array<[Expr, Expr]> }
  | { t: 'concat'; parts: Expr[] };
