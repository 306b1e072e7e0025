/**
 * Reference-free judges run on a sample of served requests: the use case's built-in LLM judges that need no
 * ground truth (groundedness, relevance, coherence, fluency), with their experiment mappings read from the
 * request log's columns (`${data.x}` → `inputs.x`, `${run.outputs.y}` → `outputs.y`), through the same judge
 * prompts, connection and model the evaluation used, so their scores compare with the last evaluation's.
 * @module
 */
import { assetPath } from '../assets.js';
import type { Connection } from '../config/connections.js';
import type { Evaluator } from '../config/types.js';
import { createExecutor, type LlmServiceOptions } from '../engine/index.js';
import { loadPrompty } from '../flow/index.js';
import { createRandom, DEFAULT_SEED, randomIndex } from '../eval/stats/random.js';
import type { RequestRecord } from './records.js';

/** Built-in judges that read no reference answer. */
export const REFERENCE_FREE_JUDGES = ['groundedness', 'relevance', 'coherence', 'fluency'];

export interface JudgedSample {
  evaluator: string;
  /** The judge's 1–5 scores, one per sampled request it scored. */
  scores: number[];
  /** Sampled requests the judge failed on (model error, unparsable answer). */
  failed: number;
}

/**
 * Up to `size` requests drawn at random without replacement, from a fixed seed (the same ones every time for
 * the same log). Not evenly spaced: traffic with a period (alternating callers, a split's round robin) would
 * alias with the spacing and bias the sample.
 */
export function sampleRequests(requests: readonly RequestRecord[], size: number, seed = DEFAULT_SEED): RequestRecord[] {
  if (requests.length <= size) return [...requests];
  const random = createRandom(seed);
  const pool = [...requests];
  for (let i = 0; i < size; i++) {
    const j = i + randomIndex(random, pool.length - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, size).sort((a, b) => a.time - b.time);
}

/** A mapping's value for a logged request; undefined when the log does not hold what it names. */
function mapped(value: unknown, r: RequestRecord): { ok: boolean; value?: unknown } {
  if (typeof value !== 'string' || !value.includes('${')) return { ok: true, value };
  const data = /^\$\{data\.([^}]+)\}$/.exec(value);
  if (data) return r.inputs && data[1] in r.inputs ? { ok: true, value: r.inputs[data[1]] } : { ok: false };
  const out = /^\$\{run\.outputs\.([^}]+)\}$/.exec(value);
  if (out) return r.outputs && out[1] in r.outputs ? { ok: true, value: r.outputs[out[1]] } : { ok: false };
  return { ok: false };
}

export async function judgeSample(o: {
  evaluators: readonly Evaluator[];
  connections: readonly Connection[];
  requests: readonly RequestRecord[];
  llm?: LlmServiceOptions;
  concurrency?: number;
}): Promise<{ judged: JudgedSample[]; skipped: { figure: string; reason: string }[] }> {
  const judged: JudgedSample[] = [];
  const skipped: { figure: string; reason: string }[] = [];
  for (const ev of o.evaluators) {
    if (!ev.builtin || !REFERENCE_FREE_JUDGES.includes(ev.builtin)) continue;
    const { connection, deployment } = ev.options as { connection?: unknown; deployment?: unknown };
    const mappings = ev.datasets[0]?.mappings ?? {};
    if (typeof connection !== 'string' || typeof deployment !== 'string') {
      skipped.push({ figure: ev.name, reason: 'the evaluator has no options.connection and options.deployment' });
      continue;
    }
    const type =
      o.connections.find((c) => c.name === connection)?.type === 'OpenAIConnection' ? 'openai' : 'azure_openai';
    const flow = loadPrompty(assetPath(`src/shared/eval/judges/${ev.builtin}.prompty`), {
      overrides: {
        model: { configuration: { type, connection, [type === 'openai' ? 'model' : 'azure_deployment']: deployment } },
      },
    });
    const rows = o.requests
      .map((r) => {
        const inputs: Record<string, unknown> = {};
        for (const name of Object.keys(flow.inputs)) {
          if (!(name in mappings)) continue;
          const m = mapped(mappings[name], r);
          if (!m.ok) return undefined;
          inputs[name] = m.value;
        }
        return inputs;
      })
      .filter((x): x is Record<string, unknown> => x !== undefined);
    if (rows.length < 2) {
      skipped.push({
        figure: ev.name,
        reason: `its mappings (${Object.entries(mappings)
          .map(([k, v]) => `${k}: ${String(v)}`)
          .join(', ')}) name columns the request log does not hold (it has inputs.* and outputs.* of the flow)`,
      });
      continue;
    }
    const executor = await createExecutor(flow, { connections: [...o.connections], llm: o.llm });
    const scores: number[] = [];
    let failed = 0;
    try {
      let next = 0;
      const worker = async () => {
        while (next < rows.length) {
          const r = await executor.runLine(rows[next++], {});
          const score = r.outputs?.score;
          if (r.status === 'Completed' && typeof score === 'number' && Number.isFinite(score)) scores.push(score);
          else failed++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, rows.length) }, worker));
    } finally {
      await executor.close();
    }
    judged.push({ evaluator: ev.name, scores, failed });
  }
  return { judged, skipped };
}
