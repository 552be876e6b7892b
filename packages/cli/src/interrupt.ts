/**
 * Ctrl-C handling: the first SIGINT (or SIGTERM) aborts a signal the command watches, so it stops
 * reading, commits what it printed and closes the target; a second one exits at once with 130
 * for a user who does not want to wait.
 */

/** An abort signal for SIGINT/SIGTERM, and `dispose` to stop listening. */
export interface Interrupt {
  readonly signal: AbortSignal;
  dispose(): void;
}

/** Listens for SIGINT and SIGTERM until `dispose()`. */
export function onInterrupt(): Interrupt {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
