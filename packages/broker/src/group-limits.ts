/**
 * A consumer group's bounds: the limits a broker gives each group, and the two fixed bounds on how
 * far a group runs ahead of its durable position (each with the measurement behind it).
 */

/** Bounds and timings of a group. */
export interface ConsumerGroupLimits {
  /** Most records one partition's window holds (delivered, waiting or acked ahead). */
  readonly windowRecordsMax: number;
  /** Most record bytes one partition's window holds (at least one record is always admitted). */
  readonly windowBytesMax: number;
  /**
   * Bytes asked of the log per read. What a read returns beyond the window's room waits, decoded,
   * in the partition's read-ahead buffer, so each record is decoded once.
   */
  readonly fetchBytesMax: number;
  /** A delivered message not settled within this time goes back to the group. */
  readonly visibilityTimeoutMs: number;
}

/**
 * Most acks whose position write has not finished, across the groups of a broker (a group made
 * alone counts its own; see unstored-acks.ts), before they stop admitting records from the log.
 * An ack settles its delivery at once (the member may take the next message) but resolves only
 * once the position is stored, so a handler awaiting `ack()` stays alive until then; without
 * this bound a group catching up on a backlog delivers it all while the first writes are pending,
 * and every waiting handler holds its message: 800,000 of them, 1.4 GB of heap, in a 1 M-message
 * catch-up. With it, at most this many plus what the windows hold (the windows' records are still
 * delivered) wait at once; admission resumes as writes finish. Counted per broker, not per group:
 * 10 groups catching up held 10 × 8,192 messages waiting, which outlived scavenges and cost 1.5 µs
 * of garbage collection per message more than one shared bound (docs/benchmarks.md).
 */
export const ACKS_UNSTORED_MAX = 8192;

/**
 * Most records a group admits from its read-ahead (counted since it last waited) before it waits
 * for a `setImmediate`, which runs after the poll phase, so pending I/O callbacks run first. Deliveries,
 * handlers that ack at once, and acks are all promise callbacks, so a group catching up on a
 * backlog would otherwise deliver until {@link ACKS_UNSTORED_MAX} without ever letting the
 * position writes (file I/O) finish: every message would wait out the whole burst, live long
 * enough to be promoted to the old generation, and garbage collection took half the CPU.
 */
export const ADMITTED_PER_TURN_MAX = 1024;
