/**
 * The bus's metrics hook: a {@link BusMetrics} receives one call per publish, handler run, retry
 * and dead-letter, with the labels it needs. The bus depends on no metrics library: `herald`'s
 * `prometheusMetrics()` implements this hook with prom-client, and anything else (OpenTelemetry
 * meters, StatsD) can too. Without a hook the bus makes no calls at all.
 */
import type { DeadLetterReason } from './dead-letter.ts';

/** How one handler run ended. */
export type HandlerOutcome = 'handled' | 'failed';

/**
 * Receives what a bus does, as it happens. Calls are synchronous and on the hot path: keep them
 * cheap and never throw (a throwing hook is a bug in the hook; the bus does not catch it).
 *
 * Label values come from the bus's own configuration, never from message contents: `topic` and
 * `type` from registered contracts, `group` from `on`/`handle`, `reason` from
 * {@link DeadLetterReason}. So the series are bounded by contracts × groups of the bus.
 */
export interface BusMetrics {
  /** A publish, send or request of `type` to `topic` was accepted by the transport after `durationMs`. */
  published(topic: string, type: string, durationMs: number): void;
  /** A publish of `type` to `topic` was rejected (by validation or the transport). */
  publishFailed(topic: string, type: string): void;
  /** A handler of `type` for `group` on `topic` started a run. */
  handlerStarted(topic: string, group: string, type: string): void;
  /** That run ended after `durationMs`: `'failed'` when it threw or timed out. */
  handlerEnded(topic: string, group: string, type: string, outcome: HandlerOutcome, durationMs: number): void;
  /** A failed message of `group` on `topic` was handed back for another attempt (nack with delay). */
  retried(topic: string, group: string): void;
  /** A message of `group` on `topic` was dead-lettered for `reason`. */
  deadLettered(topic: string, group: string, reason: DeadLetterReason): void;
  /**
   * The outbox of the bus with CloudEvents source `source` has `unsentCount` rows not yet
   * published, the oldest staged `oldestUnsentAgeMs` ago. Reported by the relay at every fallback
   * pass (default each second); optional, so hooks written before the outbox stay valid.
   */
  outboxLag?(source: string, unsentCount: number, oldestUnsentAgeMs: number): void;
}
