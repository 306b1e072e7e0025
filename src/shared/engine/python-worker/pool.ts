/**
 * PythonWorkerPool: the engine's one door to a flow's Python code. Workers are started lazily
 * (up to `workers`), requests go to the least busy one and are pipelined by id, a crashed
 * worker fails its in-flight requests and is replaced on the next request, a timed-out one
 * is drained and recycled.
 * @module
 */
import path from 'node:path';
import { assetPath } from '../../assets.js';
import { PythonCodeError, PythonPoolClosed } from './errors.js';
import type {
  FlexEntryInfo,
  PyAggregateResult,
  PyCallResult,
  PyCodeCheck,
  PyReply,
  PyToolInfo,
  PythonCallbacks,
  ReadyMessage,
  RuntimeConnection,
} from './protocol.js';
import { LIST_PART, WorkerProcess, type RequestOptions } from './worker-process.js';

/** How the pool starts and drives its workers. */
export interface PythonWorkerPoolOptions {
  /** The flow's working directory: cwd of every worker and first entry of sys.path. */
  workingDir: string;
  /** Maximum number of worker processes (default 1). */
  workers?: number;
  /** Python executable (default: env LLMOPS_PYTHON, else `python3`). */
  python?: string;
  /** Threads per worker running requests concurrently (default 16). */
  threadsPerWorker?: number;
  /** Extra environment variables for the workers (e.g. the flow's environment_variables). */
  env?: Record<string, string>;
  /** Runtime connections by name (§3.2), used for connection-typed parameters. */
  connections?: Record<string, RuntimeConnection>;
  /** Stands in for connection names that are not defined, as for llm nodes (e.g. the environment's). */
  fallbackConnection?: RuntimeConnection;
  /** What flow code reads from `OperationContext.get_instance()` during every call (flow_id, root_run_id). */
  operationContext?: Record<string, string>;
  /** Handlers for the worker's requests back to the engine (Prompty, LLM tools, render, parse_chat). */
  callbacks?: PythonCallbacks;
  /** Default per-request timeout in ms (default 600000; 0 = none). */
  callTimeoutMs?: number;
  /** How long a worker may take to start (default 30000 ms). */
  startTimeoutMs?: number;
  /** Path of worker.py (default: the copy shipped in src/shared/engine/python). */
  workerScript?: string;
  /** Receives anything workers write to stderr outside captured calls. */
  onStderr?: (text: string, pid: number) => void;
}

/** Options of one call. */
export interface CallOptions {
  /** Node name for Prompt Flow's "Execution failure in '<node>'" message. */
  node?: string;
  /** An aggregation node: log_metric calls are collected and returned as `metrics`. */
  aggregation?: boolean;
  timeoutMs?: number;
  /** Stream a generator result: each piece is passed here (the result still has the joined string). */
  onChunk?: (text: string) => void;
  /** Handed to callbacks made during this call (CallbackContext.context). */
  context?: unknown;
  /** Flex calls returning an evaluation: its rows, in parts, when there are many (RequestOptions.onRows). */
  onRows?: (rows: unknown[]) => void;
}

interface FlexSpec {
  entry: string;
  init: Record<string, unknown>;
  workingDir?: string;
  /** Init names whose values are command-line text, converted by the parameter's annotation. */
  initText?: string[];
}

export class PythonWorkerPool {
  private readonly size: number;
  private readonly live: WorkerProcess[] = [];
  private readonly load = new Map<WorkerProcess, number>();
  private readonly setups = new Map<WorkerProcess, Promise<ReadyMessage>>();
  private readonly draining = new Set<WorkerProcess>();
  private readonly flexSpecs = new Map<string, FlexSpec>();
  private readonly flexReady = new Map<WorkerProcess, Map<string, Promise<FlexEntryInfo>>>();
  private readonly inspected = new Map<string, Promise<PyToolInfo>>();
  private connections: Record<string, RuntimeConnection>;
  private closed = false;
  private started = 0;
  private crashed = 0;
  private flexCounter = 0;

  constructor(private readonly options: PythonWorkerPoolOptions) {
    this.size = Math.max(1, options.workers ?? 1);
    this.connections = options.connections ?? {};
  }

  /** The `@tool` of a python file (path relative to workingDir or absolute); cached per file. */
  inspect(file: string): Promise<PyToolInfo> {
    const abs = path.resolve(this.options.workingDir, file);
    let cached = this.inspected.get(abs);
    if (!cached) {
      cached = this.send({ op: 'inspect', file: abs }, `inspect of ${file}`, {}).then((r) => r.result as PyToolInfo);
      cached.catch(() => this.inspected.delete(abs));
      this.inspected.set(abs, cached);
    }
    return cached;
  }

  /** Call the tool of a python file. Inputs are already converted by declared type (§1.6);
   *  connection-typed inputs may be connection names. Rejects with PythonCodeError on user failure. */
  async call(file: string, inputs: Record<string, unknown>, opts: CallOptions = {}): Promise<PyCallResult> {
    const abs = path.resolve(this.options.workingDir, file);
    const message = { op: 'call', file: abs, inputs, node: opts.node, aggregation: opts.aggregation === true };
    const reply = await this.send(message, `python node ${opts.node ?? file}`, opts, undefined, longLists(inputs));
    return toCallResult(reply);
  }

  /** A package tool (`package_tools` entry points of the flow's Python environment) by key; cached per key. */
  inspectPackage(tool: string): Promise<PyToolInfo> {
    const cacheKey = `package:${tool}`;
    let cached = this.inspected.get(cacheKey);
    if (!cached) {
      cached = this.send({ op: 'inspect', package: tool }, `inspect of package tool ${tool}`, {}).then(
        (r) => r.result as PyToolInfo,
      );
      cached.catch(() => this.inspected.delete(cacheKey));
      this.inspected.set(cacheKey, cached);
    }
    return cached;
  }

  /** Call a package tool by key; inputs as for {@link call}. */
  async callPackage(tool: string, inputs: Record<string, unknown>, opts: CallOptions = {}): Promise<PyCallResult> {
    const message = { op: 'call', package: tool, inputs, node: opts.node, aggregation: opts.aggregation === true };
    const reply = await this.send(message, `python node ${opts.node ?? tool}`, opts, undefined, longLists(inputs));
    return toCallResult(reply);
  }

  /** Initialise a flex entry (`module:function` or `module:Class` with init kwargs) in every worker
   *  that will serve it (lazily, replayed after restarts). Returns its signature and handle. */
  async flexInit(
    entry: string,
    init: Record<string, unknown> = {},
    opts: { workingDir?: string; initText?: string[] } = {},
  ): Promise<FlexEntryInfo> {
    const key = `flex${++this.flexCounter}`;
    this.flexSpecs.set(key, { entry, init, workingDir: opts.workingDir, initText: opts.initText });
    const worker = this.acquire();
    try {
      return await this.ensureFlex(worker, key);
    } catch (err) {
      this.flexSpecs.delete(key);
      throw err;
    } finally {
      this.release(worker);
    }
  }

  /** Run one line through a flex entry; output normalised to an object ({output: v} for non-dicts). */
  async flexCall(
    key: string,
    inputs: Record<string, unknown>,
    opts: Omit<CallOptions, 'node' | 'aggregation'> = {},
  ): Promise<PyCallResult> {
    const reply = await this.send({ op: 'flex_call', key, inputs }, `flex entry ${this.describeFlex(key)}`, opts, key);
    return toCallResult(reply);
  }

  /**
   * Call `__aggregate__` with the outputs of the succeeded lines, given as a list or read from a stream of them
   * (then sent in parts as they are read: nothing of the lines is held here).
   */
  async flexAggregate(
    key: string,
    lineResults: unknown[] | AsyncIterable<unknown>,
    opts: Omit<CallOptions, 'node' | 'aggregation' | 'onChunk'> = {},
  ): Promise<PyAggregateResult> {
    const long = !Array.isArray(lineResults) || lineResults.length > LIST_PART;
    const reply = await this.send(
      { op: 'flex_aggregate', key, lineResults: long ? [] : lineResults },
      `__aggregate__ of ${this.describeFlex(key)}`,
      opts,
      key,
      long ? new Map([['lineResults', lineResults]]) : undefined,
    );
    const result = toCallResult(reply) as PyAggregateResult;
    result.metrics ??= {};
    result.warning = (reply.result as { warning?: string }).warning;
    return result;
  }

  /** Parses (never runs) the Python files reached from `entries` through local imports: syntax errors, and
   *  imported modules that cannot be found (when `imports`). Paths absolute or relative to workingDir. */
  async checkCode(entries: string[], opts: { root?: string; imports?: boolean } = {}): Promise<PyCodeCheck> {
    const reply = await this.send(
      {
        op: 'check_code',
        root: opts.root ?? this.options.workingDir,
        entries: entries.map((e) => path.resolve(this.options.workingDir, e)),
        imports: opts.imports !== false,
      },
      'check of the Python code',
      {},
    );
    return reply.result as PyCodeCheck;
  }

  /** Replace the connections map in every worker (and for workers started later). */
  async setConnections(connections: Record<string, RuntimeConnection>): Promise<void> {
    this.connections = connections;
    await Promise.all(
      this.live.map(async (w) => {
        await this.setups.get(w);
        checkOk(
          await w.request(
            {
              op: 'configure',
              connections,
              fallback: this.options.fallbackConnection,
              operationContext: this.options.operationContext,
            },
            'configure',
          ),
        );
      }),
    );
  }

  /** Counters for logs and tests. */
  stats(): { workers: number; started: number; crashed: number; inFlight: number; pids: number[] } {
    let inFlight = 0;
    for (const n of this.load.values()) inFlight += n;
    return {
      workers: this.live.length,
      started: this.started,
      crashed: this.crashed,
      inFlight,
      pids: this.live.map((w) => w.pid),
    };
  }

  /** Stop every worker (they finish what they run; killed after graceMs). Idempotent. */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    const all = [...this.live, ...this.draining];
    await Promise.all(all.map((w) => w.stop(graceMs)));
  }

  // --- dispatch ------------------------------------------------------------------------

  /**
   * `lists`: long lists of the message (a field of the message, or with `inputs.` an input) sent ahead in parts,
   * the message then carrying their markers (PROTOCOL.md, "Long lists").
   */
  private async send(
    message: Record<string, unknown>,
    what: string,
    opts: RequestOptions,
    flexKey?: string,
    lists?: Map<string, unknown[] | AsyncIterable<unknown>>,
  ): Promise<PyReply> {
    const worker = this.acquire();
    try {
      await this.setups.get(worker);
      if (flexKey !== undefined) await this.ensureFlex(worker, flexKey);
      const timeoutMs = opts.timeoutMs ?? this.options.callTimeoutMs ?? 600_000;
      if (lists?.size) {
        message = { ...message };
        const inputs = { ...(message.inputs as Record<string, unknown> | undefined) };
        for (const [field, items] of lists) {
          const marker = await worker.sendList(items);
          if (field.startsWith('inputs.')) inputs[field.slice(7)] = marker;
          else message[field] = marker;
        }
        if (message.inputs) message.inputs = inputs;
      }
      const reply = await worker.request(message, what, { ...opts, timeoutMs });
      return checkOk(reply);
    } finally {
      this.release(worker);
    }
  }

  private acquire(): WorkerProcess {
    if (this.closed) throw new PythonPoolClosed();
    let best: WorkerProcess | undefined;
    for (const w of this.live) if (!best || this.load.get(w)! < this.load.get(best)!) best = w;
    if (!best || (this.load.get(best)! > 0 && this.live.length < this.size)) best = this.spawn();
    this.load.set(best, this.load.get(best)! + 1);
    return best;
  }

  private release(worker: WorkerProcess): void {
    const n = (this.load.get(worker) ?? 1) - 1;
    this.load.set(worker, n);
    if (n === 0 && this.draining.has(worker)) void worker.stop(0);
  }

  private spawn(): WorkerProcess {
    const o = this.options;
    const worker = new WorkerProcess({
      python: o.python ?? process.env.LLMOPS_PYTHON ?? 'python3',
      script: o.workerScript ?? assetPath('src/shared/engine/python/worker.py'),
      cwd: o.workingDir,
      env: { PYTHONDONTWRITEBYTECODE: '1', ...process.env, ...o.env, PYTHONIOENCODING: 'utf-8' },
      threads: o.threadsPerWorker ?? 16,
      callbacks: o.callbacks ?? {},
      startTimeoutMs: o.startTimeoutMs ?? 30_000,
      onStderr: o.onStderr,
    }).start();
    this.started += 1;
    this.live.push(worker);
    this.load.set(worker, 0);
    this.flexReady.set(worker, new Map());
    worker.onExit = (w) => this.forget(w);
    worker.onTimeout = (w) => this.recycle(w);
    const setup = worker.ready.then(async (hello) => {
      checkOk(
        await worker.request(
          {
            op: 'configure',
            connections: this.connections,
            fallback: this.options.fallbackConnection,
            operationContext: this.options.operationContext,
          },
          'configure',
        ),
      );
      return hello;
    });
    setup.catch(() => worker.kill());
    this.setups.set(worker, setup);
    return worker;
  }

  private forget(worker: WorkerProcess): void {
    const index = this.live.indexOf(worker);
    if (index >= 0) {
      this.live.splice(index, 1);
      if (!this.closed) this.crashed += 1;
    }
    this.draining.delete(worker);
    this.setups.delete(worker);
    this.flexReady.delete(worker);
    this.load.delete(worker);
  }

  /** A worker with a timed-out request: no new work; stopped once its other requests are done. */
  private recycle(worker: WorkerProcess): void {
    const index = this.live.indexOf(worker);
    if (index < 0) return;
    this.live.splice(index, 1);
    this.draining.add(worker);
    if ((this.load.get(worker) ?? 0) <= 1)
      queueMicrotask(() => {
        if ((this.load.get(worker) ?? 0) === 0) void worker.stop(0);
      });
  }

  private ensureFlex(worker: WorkerProcess, key: string): Promise<FlexEntryInfo> {
    const spec = this.flexSpecs.get(key);
    if (!spec) return Promise.reject(new Error(`Unknown flex entry handle '${key}' (call flexInit first)`));
    const perWorker = this.flexReady.get(worker) ?? new Map<string, Promise<FlexEntryInfo>>();
    let ready = perWorker.get(key);
    if (!ready) {
      ready = (async () => {
        await this.setups.get(worker);
        const reply = checkOk(
          await worker.request({ op: 'flex_init', key, ...spec }, `init of flex entry ${spec.entry}`, {
            timeoutMs: this.options.callTimeoutMs ?? 600_000,
          }),
        );
        return { ...(reply.result as Omit<FlexEntryInfo, 'key'>), key };
      })();
      ready.catch(() => perWorker.delete(key));
      perWorker.set(key, ready);
    }
    return ready;
  }

  private describeFlex(key: string): string {
    return this.flexSpecs.get(key)?.entry ?? key;
  }
}

/** The inputs that are lists too long for one message (an aggregation node's columns). */
function longLists(inputs: Record<string, unknown>): Map<string, unknown[]> | undefined {
  let lists: Map<string, unknown[]> | undefined;
  for (const k in inputs) {
    const v = inputs[k];
    if (Array.isArray(v) && v.length > LIST_PART) (lists ??= new Map()).set(`inputs.${k}`, v);
  }
  return lists;
}

function checkOk(reply: PyReply): PyReply {
  if (!reply.ok) throw new PythonCodeError(reply.error!, reply.stdout, reply.stderr);
  return reply;
}

function toCallResult(reply: PyReply): PyCallResult {
  const result = reply.result as { output: unknown; metrics?: Record<string, unknown> };
  return {
    output: result.output,
    metrics: result.metrics,
    stdout: reply.stdout,
    stderr: reply.stderr,
    durationMs: reply.durationMs,
  };
}
