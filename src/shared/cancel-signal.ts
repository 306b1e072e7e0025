/**
 * The signals a CI runner or a user sends to stop a step (GitHub's and Azure DevOps' cancel, Ctrl+C, `docker
 * stop`). A step that saves as it goes listens while it works, so it can end with what it saved written and say how
 * to continue; a second signal is node's default again and ends the process at once.
 * @module
 */

export type CancelSignal = 'SIGINT' | 'SIGTERM';

/** Calls `cancel` on the first SIGINT or SIGTERM. Returns the function that stops listening. */
export function onCancelSignal(cancel: (signal: CancelSignal) => void): () => void {
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((signal) => {
    const handler = () => {
      stop();
      cancel(signal);
    };
    process.once(signal, handler);
    return [signal, handler] as const;
  });
  const stop = () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
  return stop;
}
