/** Graceful shutdown for services: drain the bus on SIGTERM/SIGINT, then let the process exit. */
import type { Bus } from './bus-api.ts';
import type { LogFields, Logger } from './logger.ts';

/** Options of {@link stopOnSignals}. */
export interface StopOnSignalsOptions {
  /** Signals to handle (default SIGTERM and SIGINT). */
  readonly signals?: readonly NodeJS.Signals[];
  /** Drain deadline passed to `bus.stop` (default 10 s). */
  readonly timeoutMs?: number;
  /** Runs after the bus stopped (close HTTP servers, pools…). */
  readonly onStopped?: () => Promise<void> | void;
  /** Where to say what is happening (default: stderr). */
  readonly logger?: Pick<Logger, 'info' | 'error'>;
}

/**
 * On the first signal, stops `bus` (draining running handlers), runs `onStopped`, and sets
 * `process.exitCode` (0, or 1 if stopping failed) so the process exits once idle. A second signal
 * exits at once with 130, for an operator who will not wait. Returns a function that removes the
 * handlers.
 */
export function stopOnSignals(bus: Bus, options: StopOnSignalsOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const logger = options.logger ?? {
    info: (_fields: LogFields, message: string) => process.stderr.write(`herald: ${message}\n`),
    error: (_fields: LogFields, message: string) => process.stderr.write(`herald: ${message}\n`),
  };
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.error({ signal }, `${signal} again: exiting without waiting for handlers`);
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, `${signal}: draining handlers (send ${signal} again to exit at once)`);
    void (async () => {
      try {
        await bus.stop({ timeoutMs: options.timeoutMs ?? 10_000 });
        await options.onStopped?.();
        process.exitCode ??= 0;
      } catch (error) {
        logger.error({ signal, error: String(error) }, `stopping failed: ${String(error)}`);
        process.exitCode = 1;
      } finally {
        remove();
      }
    })();
  };
  const remove = () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
  for (const signal of signals) process.on(signal, onSignal);
  return remove;
}
