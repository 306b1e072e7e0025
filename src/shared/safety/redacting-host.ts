/**
 * Personal data kept out of the CI log the way secrets are: a host whose log lines, annotations, failure
 * message, job summary and pull-request comment go through the use case's redactor first. The Host API is
 * synchronous and the redactor is not, so lines wait in one chain (their order is kept) and the step's runner
 * settles the chain before it reports the outcome or exits.
 * @module
 */
import { redact as maskSecrets, type Host } from '../host/host.js';
import type { Redactor } from './redactor.js';

/** The parts of a host that carry text out; a partial host (a config loader's) gets what it has redacted. */
type Writers = Partial<
  Pick<Host, 'info' | 'debug' | 'warning' | 'error' | 'fail' | 'appendSummary' | 'publishComment' | 'mask'>
>;

/** Shown instead of a line the redactor could not process: a line is never written unredacted. */
const WITHHELD = '[line withheld: personal data redaction failed]';

/** The pending work of each redacting host. */
const chains = new WeakMap<object, { tail: Promise<void> }>();

/** Each write runs after the ones before it; a write that throws does not stop the ones after it. */
function queueOn(chain: { tail: Promise<void> }) {
  return <T>(write: () => Promise<T>): Promise<T> => {
    const done = chain.tail.then(write);
    chain.tail = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  };
}

/**
 * Redacts every text `host` writes from now on with `redactor`, in place (like masking, it holds for the rest
 * of the run). A host already redacting is left as it is.
 */
export function redactHostOutput(host: Writers, redactor: Redactor): void {
  if (chains.has(host)) return;
  const chain = { tail: Promise.resolve() };
  chains.set(host, chain);
  // Secrets are masked first, so that a placeholder replacing part of a secret cannot leave the rest of it showing.
  const secrets = new Set<string>();
  if (host.mask) {
    const mask = host.mask.bind(host);
    host.mask = (secret) => {
      if (secret) secrets.add(secret);
      mask(secret);
    };
  }
  const clean = (text: string) => redactor.redact(maskSecrets(text, secrets)).catch(() => WITHHELD);
  const queue = queueOn(chain);
  const line =
    <A extends unknown[]>(write: ((message: string, ...rest: A) => void) | undefined) =>
    (message: string, ...rest: A): void => {
      void queue(async () => write?.(await clean(message), ...rest));
    };
  if (host.info) host.info = line(host.info.bind(host));
  if (host.debug) host.debug = line(host.debug.bind(host));
  if (host.warning) host.warning = line(host.warning.bind(host));
  if (host.error) host.error = line(host.error.bind(host));
  if (host.fail) host.fail = line(host.fail.bind(host));
  if (host.appendSummary) {
    const append = host.appendSummary.bind(host);
    host.appendSummary = (markdown) => queue(async () => append(await clean(markdown)));
  }
  if (host.publishComment) {
    const publish = host.publishComment.bind(host);
    host.publishComment = (markdown, marker) => queue(async () => publish(await clean(markdown), marker));
  }
}

/** Resolves once every line `host` was given so far is written (at once for a host that does not redact). */
export async function settleHostOutput(host: object): Promise<void> {
  const chain = chains.get(host);
  if (!chain) return;
  let tail: Promise<void>;
  do {
    tail = chain.tail;
    await tail;
  } while (tail !== chain.tail);
}

/** Text writers (a command's own stdout and stderr) redacted in the order written, and how to wait for them. */
export interface RedactingWriters {
  wrap(write: (text: string) => unknown): (text: string) => void;
  settled(): Promise<void>;
}

/** Writers through `redactor` sharing one order, for output that does not go through a host. */
export function redactingWriters(redactor: Redactor): RedactingWriters {
  const chain = { tail: Promise.resolve() };
  const queue = queueOn(chain);
  const writers: RedactingWriters = {
    wrap: (write) => (text) => {
      void queue(async () => write(await redactor.redact(text).catch(() => WITHHELD)));
    },
    settled: () => settleHostOutput(writers),
  };
  chains.set(writers, chain);
  return writers;
}
