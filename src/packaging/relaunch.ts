/**
 * The heavy steps (bulk-run, evaluate, report) run in a node started with a smaller young generation.
 *
 * Node 24 lets V8 grow each semi-space of the young generation to 64 MB, and a busy step commits it all: about
 * 100 MB of a million-line step's peak memory. V8 reads `--max-semi-space-size` only when the heap is made
 * (`v8.setFlagsFromString` after start-up changes nothing, measured), and a GitHub action or an Azure DevOps task
 * is started by the runner's node without flags. So these steps start node again with the flag, once: the same
 * script and arguments, the host's environment, inherited stdio, signals passed on, the child's exit code (or
 * signal) as this process's. The second start-up (about 50–200 ms) is small beside a step that reads a dataset;
 * the small steps keep their cold-start budget and are never relaunched.
 * @module
 */
import { spawn } from 'node:child_process';

/** The steps whose memory grows with the data: the ones worth a second start-up. */
export const HEAVY_STEPS: ReadonlySet<string> = new Set(['bulk-run', 'evaluate', 'report']);
/** Each semi-space's limit in MB (the young generation is about three of them). */
export const SEMI_SPACE_MB = 16;
/** Set for the child (which also has the flag in its execArgv: never relaunched twice). `LLMOPS_RELAUNCH=0` turns the relaunch off. */
const MARK = 'LLMOPS_RELAUNCHED';

/** Why the relaunch is not done, or undefined when it should be. */
export function relaunchSkipReason(
  step: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): string | undefined {
  if (!step || !HEAVY_STEPS.has(step)) return 'not a heavy step';
  if (env[MARK]) return 'already relaunched';
  if (env.LLMOPS_RELAUNCH === '0') return 'LLMOPS_RELAUNCH=0';
  // The user (or the CLI image) chose the young generation: keep theirs.
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (given.some((a) => /^--max[-_]semi[-_]space[-_]size/.test(a))) return 'young generation set by the caller';
  return undefined;
}

/** Signals a CI runner or a user sends to stop a step: passed on to the child, which handles them itself. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGBREAK'];

/**
 * Starts this same script again in a node with `--max-semi-space-size` when `step` is a heavy one and the
 * process was not started so. Returns the child's exit code to come (this process then only waits for it; its
 * own `process.exitCode` is set, or it ends by the child's signal), or undefined when the caller should run the
 * step itself. In the child it ties the child's life to this process's and returns undefined.
 */
export function relaunchForStep(step: string | undefined): Promise<number> | undefined {
  if (process.env[MARK]) {
    // Not passed on: a node this child starts (with the flag in its own execArgv, or not) decides for itself.
    delete process.env[MARK];
    exitWithParent();
    return undefined;
  }
  if (relaunchSkipReason(step) !== undefined) return undefined;
  const args = [...process.execArgv, `--max-semi-space-size=${SEMI_SPACE_MB}`, ...process.argv.slice(1)];
  // The IPC channel is only a lifeline: when this process is killed outright (SIGKILL cannot be passed on), the
  // child sees the channel close and stops too, instead of writing on into a store another session resumes.
  const child = spawn(process.execPath, args, {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [MARK]: '1' },
  });
  // A terminal's Ctrl+C reaches the whole foreground process group, the child included: passing it on too would
  // deliver it twice. Signals sent to this process alone (a runner's cancel) are passed on.
  const fromTerminal = (signal: NodeJS.Signals) => signal === 'SIGINT' && process.stdin.isTTY === true;
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of FORWARDED) {
    if (process.platform !== 'win32' && signal === 'SIGBREAK') continue;
    const handler = () => {
      if (!fromTerminal(signal) && child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  return new Promise<number>((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`llmops: could not start node again with a smaller young generation: ${e.message}\n`);
      process.exitCode = 70;
      resolve(70);
    });
    child.on('exit', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      // Ended by a signal: end the same way, so our caller sees what the child's caller would have seen.
      if (signal) process.kill(process.pid, signal);
      process.exitCode = code ?? 70;
      resolve(code ?? 70);
    });
  });
}

/** The relaunched child: stop at once when the parent is gone (its end of the IPC channel closed). */
function exitWithParent(): void {
  if (!process.channel) return;
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}
