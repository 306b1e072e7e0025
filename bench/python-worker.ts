/**
 * Python node round trip through the worker (budget: < 1 ms, DESIGN.md).
 *
 * Run: npx esbuild bench/python-worker.ts --bundle --platform=node --format=esm --outfile=/tmp/bpw.mjs && node /tmp/bpw.mjs
 * (from the repository root: the worker script and the fixture are found from the current directory).
 *
 * Measures, for a trivial tool (`echo(text) -> text`): sequential round trips (one call at a time,
 * pure latency) at 1 and 4 workers, and pipelined throughput with 16 calls in flight.
 */
import path from 'node:path';
import { PythonWorkerPool } from '../src/shared/engine/python-worker/index.js';

const root = process.cwd();
const workerScript = path.join(root, 'src/shared/engine/python/worker.py');
const workingDir = path.join(root, 'bench/fixtures/python-worker');
const SEQUENTIAL = 3000;
const PIPELINED = 20000;
const IN_FLIGHT = 16;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(workers: number): Promise<string[]> {
  const pool = new PythonWorkerPool({ workingDir, workers, workerScript });
  try {
    // Warm every worker (start-up and module load are not part of the round trip).
    await Promise.all(Array.from({ length: workers * 4 }, () => pool.call('echo.py', { text: 'warm' })));
    const samples: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const t0 = process.hrtime.bigint();
      await pool.call('echo.py', { text: 'hello' });
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    samples.sort((a, b) => a - b);
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next++ < PIPELINED) await pool.call('echo.py', { text: 'hello' });
      }),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return [
      String(workers),
      percentile(samples, 50).toFixed(3),
      percentile(samples, 99).toFixed(3),
      Math.round(PIPELINED / seconds).toString(),
    ];
  } finally {
    await pool.close();
  }
}

const rows = [['workers', 'median ms', 'p99 ms', `calls/s (${IN_FLIGHT} in flight)`]];
for (const workers of [1, 4]) rows.push(await measure(workers));
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((cell, c) => cell.padStart(widths[c])).join('  '));
console.log(`\nbudget: python node round trip < 1 ms (median); ${SEQUENTIAL} sequential calls per row`);
