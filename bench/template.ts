/**
 * Template-layer benchmark: renders/s of a typical chat template (compile once, render per line), and of the
 * full chat-message build (escape + render + parse + unescape).
 *
 * Run:  npx esbuild bench/template.ts --bundle --platform=node --format=esm --outfile=/tmp/bench-template.mjs && node /tmp/bench-template.mjs
 */
import { buildChatMessages, compileTemplate, pyFloat } from '../src/shared/engine/template/index.js';

const TEMPLATE = `# system:
You are a helpful assistant. Temperature hint: {{ temperature }}.

{% for item in chat_history %}
# user:
{{ item.inputs.question }}
# assistant:
{{ item.outputs.answer }}
{% endfor %}

# user:
{{ question }}
`;

const LINES = 10_000;
const RUNS = 7;

function lineInputs(i: number): Record<string, unknown> {
  return {
    temperature: pyFloat(0.7),
    question: `Question number ${i}: what is ${i} + ${i}?`,
    chat_history: [
      { inputs: { question: 'Hi' }, outputs: { answer: 'Hello! How can I help?' } },
      { inputs: { question: 'What is 2+2?' }, outputs: { answer: '4' } },
      { inputs: { question: "And it's square?" }, outputs: { answer: '16' } },
    ],
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function measure(label: string, fn: (i: number) => unknown): { label: string; perSecond: number; usPerLine: number } {
  for (let i = 0; i < 2000; i++) fn(i % LINES); // warm-up
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    for (let i = 0; i < LINES; i++) fn(i);
    times.push(performance.now() - start);
  }
  const ms = median(times);
  return { label, perSecond: Math.round((LINES / ms) * 1000), usPerLine: Number(((ms * 1000) / LINES).toFixed(2)) };
}

const compileStart = performance.now();
const template = compileTemplate(TEMPLATE);
const compileMs = performance.now() - compileStart;
const inputs = Array.from({ length: LINES }, (_, i) => lineInputs(i));

const rows = [
  measure('render (prompt node)', (i) => template.render(inputs[i]!)),
  measure('render, ChatInputList (AOAI chat)', (i) => template.render(inputs[i]!, { chatInputList: true })),
  measure('buildChatMessages, escaping 2 inputs', (i) =>
    buildChatMessages(template, inputs[i]!, { inputsToEscape: ['question', 'chat_history'], chatInputList: true }),
  ),
];

console.log(`compile once: ${compileMs.toFixed(2)} ms; ${LINES} lines per run, median of ${RUNS} runs`);
console.table(
  rows.map((r) => ({
    step: r.label,
    'renders/s': r.perSecond,
    'µs/line': r.usPerLine,
    [`ms per ${LINES}`]: Number(((LINES / r.perSecond) * 1000).toFixed(1)),
  })),
);
