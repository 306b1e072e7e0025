/**
 * One Python worker process: spawn, read replies by id, answer its callbacks, and fail every
 * in-flight request with a clear error when it dies (a request never hangs on a dead process).
 * @module
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { asRepetition, currentRepetition } from '../../llm/cache.js';
import { PythonWorkerCrashed, PythonWorkerTimeout } from './errors.js';
import type { PyReply, PythonCallbacks, ReadyMessage } from './protocol.js';
import { parsePyJson, stringifyPyJson } from './py-json.js';

/** How to start one worker. */
export interface WorkerProcessOptions {
  python: string;
  script: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  threads: number;
  callbacks: PythonCallbacks;
  startTimeoutMs: number;
  onStderr?: (text: string, pid: number) => void;
}

/** Per-request knobs. */
export interface RequestOptions {
  timeoutMs?: number;
  onChunk?: (text: string) => void;
  /**
   * A flex call whose result is an evaluation (`{rows, metrics}`): rows beyond `LIST_PART` come here in parts
   * before the reply, whose `rows` is then `{"$llmops_rows_sent": n}`.
   */
  onRows?: (rows: unknown[]) => void;
  context?: unknown;
}

interface Pending {
  resolve(reply: PyReply): void;
  reject(err: Error): void;
  what: string;
  timer?: NodeJS.Timeout;
  onChunk?: (text: string) => void;
  onRows?: (rows: unknown[]) => void;
  context?: unknown;
  /** The repetition (`repeat: K`) of the line that sent it: its model callbacks are cached as that repetition. */
  repetition?: number;
}

const CALLBACK_HANDLERS = {
  prompty_call: 'prompty',
  llm_call: 'llm',
  embedding: 'embedding',
  render: 'render',
  parse_chat: 'parseChat',
  code_evaluator: 'codeEvaluator',
} as const;
const STDERR_TAIL = 4000;
/** Items per `list_part` message: a long list is never one JSON text, on either side. */
export const LIST_PART = 2048;

/** What stands in a request for a list sent ahead in parts (PROTOCOL.md, "Long lists"). */
export interface ListMarker {
  $llmops_list: number;
}

export class WorkerProcess {
  private child?: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffered = '';
  private stderrTail = '';
  private exited = false;
  private exitWaiters: Array<() => void> = [];
  /** Resolved with the worker's hello once it can take requests. */
  readonly ready: Promise<ReadyMessage>;
  private settleReady!: { resolve(m: ReadyMessage): void; reject(e: Error): void };
  /** Called once when the process is gone (crash or stop). */
  onExit?: (worker: WorkerProcess) => void;
  /** Called when a request timed out: the owner decides to recycle the worker. */
  onTimeout?: (worker: WorkerProcess) => void;

  constructor(private readonly options: WorkerProcessOptions) {
    this.ready = new Promise<ReadyMessage>((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => undefined);
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }
  get inFlight(): number {
    return this.pending.size;
  }
  get alive(): boolean {
    return !this.exited;
  }

  /** Spawn the process; `ready` settles when it has said hello (or failed to). */
  start(): this {
    const { python, script, cwd, env, threads, startTimeoutMs } = this.options;
    const child = spawn(python, [script, '--threads', String(threads)], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onData(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL);
      this.options.onStderr?.(text, this.pid);
    });
    child.stdin.on('error', () => undefined); // EPIPE after a crash: the exit handler reports it
    child.on('error', (err) =>
      this.onGone(`could not start ${python}: ${err.message} (set LLMOPS_PYTHON to the Python 3 executable)`),
    );
    child.on('close', (code, signal) => this.onGone(signal ? `was killed by ${signal}` : `exited with code ${code}`));
    const timer = setTimeout(() => {
      this.settleReady.reject(new PythonWorkerCrashed(`Python worker did not start within ${startTimeoutMs} ms`));
      this.kill();
    }, startTimeoutMs);
    this.ready.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    return this;
  }

  /** Send one request; resolves with the worker's reply (ok or not), rejects if the process fails. */
  request(message: Record<string, unknown>, what: string, opts: RequestOptions = {}): Promise<PyReply> {
    if (this.exited) return Promise.reject(new PythonWorkerCrashed(`Python worker (pid ${this.pid}) is not running`));
    const id = this.nextId++;
    return new Promise<PyReply>((resolve, reject) => {
      const entry: Pending = {
        resolve,
        reject,
        what,
        onChunk: opts.onChunk,
        onRows: opts.onRows,
        context: opts.context,
        repetition: currentRepetition(),
      };
      if (opts.timeoutMs && opts.timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new PythonWorkerTimeout(opts.timeoutMs!, what));
          this.onTimeout?.(this);
        }, opts.timeoutMs);
      }
      this.pending.set(id, entry);
      const payload: Record<string, unknown> = opts.onChunk ? { ...message, id, stream: true } : { ...message, id };
      if (opts.onRows) payload.rowsOut = true;
      this.child!.stdin.write(stringifyPyJson(payload) + '\n');
    });
  }

  /**
   * Sends a long list ahead of the request that uses it, `LIST_PART` items a message, waiting for the pipe to
   * drain between parts: the items are read (from an array or a stream of them) and written a part at a time, so
   * neither the list's whole JSON text nor, for a stream, the list itself is ever held here. Returns the marker
   * to put in the request in the list's place; the worker replaces it with the list.
   */
  async sendList(items: Iterable<unknown> | AsyncIterable<unknown>): Promise<ListMarker> {
    const list = this.nextId++;
    let part: unknown[] = [];
    const flush = async () => {
      if (this.exited) throw new PythonWorkerCrashed(`Python worker (pid ${this.pid}) is not running`);
      const text = stringifyPyJson({ op: 'list_part', list, items: part }) + '\n';
      part = [];
      if (!this.child!.stdin.write(text)) await Promise.race([once(this.child!.stdin, 'drain'), this.gone()]);
    };
    try {
      if (Array.isArray(items)) {
        for (let i = 0; i < items.length; i += LIST_PART) {
          part = items.slice(i, i + LIST_PART);
          await flush();
        }
      } else {
        for await (const item of items) {
          part.push(item);
          if (part.length >= LIST_PART) await flush();
        }
        if (part.length > 0) await flush();
      }
    } catch (e) {
      if (!this.exited) this.child!.stdin.write(stringifyPyJson({ op: 'list_drop', list }) + '\n');
      throw e;
    }
    return { $llmops_list: list };
  }

  /** Settles when the process is gone. */
  private gone(): Promise<void> {
    return this.exited ? Promise.resolve() : new Promise<void>((resolve) => this.exitWaiters.push(resolve));
  }

  /** Ask the worker to finish its requests and exit; kill it after graceMs. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exited || !this.child) return;
    const gone = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    this.child.stdin.end(stringifyPyJson({ op: 'shutdown' }) + '\n');
    const timer = setTimeout(() => this.kill(), graceMs);
    await gone;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.child?.kill('SIGKILL');
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let newline = this.buffered.indexOf('\n');
    while (newline >= 0) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      if (line.length > 0) this.onMessage(line);
      newline = this.buffered.indexOf('\n');
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = parsePyJson(line) as Record<string, unknown>;
    } catch {
      this.options.onStderr?.(`[llmops] unreadable worker message: ${line.slice(0, 200)}\n`, this.pid);
      return;
    }
    if (msg.ready === true) return this.settleReady.resolve(msg as unknown as ReadyMessage);
    if (typeof msg.cb === 'number') return void this.answerCallback(msg);
    const entry = this.pending.get(msg.id as number);
    if (!entry) return; // a request that already timed out
    if (typeof msg.chunk === 'string') return entry.onChunk?.(msg.chunk);
    if (Array.isArray(msg.rows_part)) return entry.onRows?.(msg.rows_part);
    this.pending.delete(msg.id as number);
    if (entry.timer) clearTimeout(entry.timer);
    entry.resolve(msg as unknown as PyReply);
  }

  private async answerCallback(msg: Record<string, unknown>): Promise<void> {
    const op = String(msg.op) as keyof typeof CALLBACK_HANDLERS;
    const handlerName = CALLBACK_HANDLERS[op];
    const handler = handlerName ? this.options.callbacks[handlerName] : undefined;
    const caller = this.pending.get(msg.call as number);
    const context = caller?.context;
    let answer: Record<string, unknown>;
    try {
      if (!handler)
        throw Object.assign(new Error(`The engine does not handle '${op}' callbacks`), { name: 'NotSupported' });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const call = () => (handler as (req: any, ctx: any) => Promise<unknown>)(msg.payload, { context, pid: this.pid });
      // The callback arrives on the worker's pipe, outside the line's async context: the line's repetition is restored.
      const result = await (caller?.repetition ? asRepetition(caller.repetition, call) : call());
      answer = { cb: msg.cb, ok: true, result: result ?? null };
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      answer = { cb: msg.cb, ok: false, error: { type: e.name, message: e.message } };
    }
    if (!this.exited) this.child!.stdin.write(stringifyPyJson(answer) + '\n');
  }

  private onGone(how: string): void {
    if (this.exited) return;
    this.exited = true;
    const tail = this.stderrTail.trim();
    const detail = tail ? `; last stderr:\n${tail.split('\n').slice(-15).join('\n')}` : '';
    this.settleReady.reject(
      new PythonWorkerCrashed(`Python worker (pid ${this.pid}) ${how} before it was ready${detail}`),
    );
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      if (entry.timer) clearTimeout(entry.timer);
      entry.reject(
        new PythonWorkerCrashed(`Python worker (pid ${this.pid}) ${how} while running ${entry.what}${detail}`),
      );
    }
    for (const resolve of this.exitWaiters.splice(0)) resolve();
    this.onExit?.(this);
  }
}
