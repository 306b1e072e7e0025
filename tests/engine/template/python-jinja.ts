/**
 * Test helper: renders templates with the real Python Jinja2, configured as Prompt Flow configures it
 * (SandboxedEnvironment, trim_blocks=True, keep_trailing_newline=True; ChatInputList for AzureOpenAI chat tools),
 * so our renderer's output can be compared with the reference. Absent python3/jinja2 → `pythonJinjaAvailable` false.
 */
import { spawnSync } from 'node:child_process';
import { ChatInputList, PromptResult, PyFloat } from '../../../src/shared/engine/template/index.js';

const SCRIPT = String.raw`
import json, math, sys
from jinja2.sandbox import SandboxedEnvironment

class ChatInputList(list):
    def __str__(self):
        return "\n".join(map(str, self))

def to_chat_list(o):
    if isinstance(o, dict):
        return {k: to_chat_list(v) for k, v in o.items()}
    if isinstance(o, list):
        return ChatInputList([to_chat_list(x) for x in o])
    return o

def hook(pairs):
    if len(pairs) == 1 and pairs[0][0] == "$float":
        return float(pairs[0][1])
    if len(pairs) == 1 and pairs[0][0] == "$int":
        return int(pairs[0][1])
    if len(pairs) == 1 and pairs[0][0] == "$chatlist":
        return ChatInputList(pairs[0][1])
    return dict(pairs)

cases = json.loads(sys.stdin.read(), object_pairs_hook=hook)
out = []
for case in cases:
    try:
        variables = case["vars"]
        if case.get("chat"):
            variables = {k: to_chat_list(v) for k, v in variables.items()}
        env = SandboxedEnvironment(trim_blocks=True, keep_trailing_newline=True)
        out.append({"ok": True, "text": env.from_string(case["template"]).render(**variables)})
    except Exception as e:
        out.append({"ok": False, "type": type(e).__name__, "message": str(e)})
sys.stdout.write(json.dumps(out))
`;

/** Whether `python3` with `jinja2` is importable here (the comparison tests skip otherwise). */
export const pythonJinjaAvailable: boolean = (() => {
  const r = spawnSync('python3', ['-c', 'import jinja2'], { encoding: 'utf8' });
  return r.status === 0;
})();

export type PythonResult = { ok: true; text: string } | { ok: false; type: string; message: string };

export interface PythonCase {
  template: string;
  vars: Record<string, unknown>;
  chat?: boolean;
}

function encode(value: unknown): unknown {
  if (value instanceof PyFloat) return { $float: Object.is(value.value, -0) ? '-0.0' : String(value.value) };
  if (typeof value === 'number' && !Number.isFinite(value)) return { $float: String(value).replace('Infinity', 'inf') };
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) >= 1e21)
    return { $int: BigInt(value).toString() };
  if (value instanceof PromptResult) return value.text;
  if (value instanceof ChatInputList) return { $chatlist: value.map(encode) };
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  return value;
}

/** Renders every case in one python3 process. */
export function renderWithPython(cases: PythonCase[]): PythonResult[] {
  const input = JSON.stringify(
    cases.map((c) => ({ template: c.template, vars: encode(c.vars), chat: c.chat ?? false })),
  );
  const r = spawnSync('python3', ['-c', SCRIPT], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PythonResult[];
}
