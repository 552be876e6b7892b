/**
 * The contract between the `peers` harness and the systems it measures.
 *
 * Adding a system (say Herald-on-NATS) is one new file in `bench/peers/systems/` that exports a
 * {@link SystemEntry}, plus one line in the registry (`bench/peers/systems/index.ts`) placing it
 * in the report's row order. The entry's `open` gets a {@link SystemContext}: a scratch directory,
 * the run id to prefix what it declares, servers shared with other rows (started once, stopped at
 * the end) and the peer servers `scripts/setup.sh` starts. It returns a {@link System}, whose
 * `topic` declares a {@link Topic} per scenario; the scenarios, report and charts need nothing
 * else. When `open` throws, the row is skipped and the report prints the error's message.
 */
import type { PeerServer } from '../_servers.ts';
import type { ScenarioId } from './scenarios.ts';

/** How far a row's acknowledgement goes before the publisher hears "accepted". */
export type DurabilityClass = 'fsync' | 'page cache' | 'memory';

/** Consumer prefetch / in-flight window in every system. */
export const CONSUMER_WINDOW = 256;

/** The topic a scenario asks a system for. */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly groups: readonly string[];
  readonly payloadBytes: number;
}

/** A topic (queue, stream…) on one system, declared with its groups so published messages are kept. */
export interface Topic {
  /** Publishes message `index` (key `k-index`, partition `index % partitions`) stamped with `stampMs`; resolves on the ack. */
  publish(index: number, stampMs: number): Promise<void>;
  /**
   * Starts `consumersPerGroup` consumers in each group; `onMessage(group, stampMs)` for each
   * message, which the consumer then acks. Resolves once every consumer is started.
   */
  consume(
    consumersPerGroup: number,
    onMessage: (group: number, stampMs: number) => void,
  ): Promise<{ close(): Promise<void> }>;
  /** Deletes what the topic declared on the system. */
  remove(): Promise<void>;
}

/** What the report says about a row. */
export interface SystemRow {
  readonly id: string;
  readonly label: string;
  readonly durability: DurabilityClass;
  /** What exactly is durable when the ack arrives. */
  readonly durabilityNote: string;
  /**
   * A Herald transport row's raw-client row on the same server (its id): the report prints
   * Herald ÷ raw for each scenario, against the overhead target.
   */
  readonly rawPeer?: string;
  /**
   * The emulator the row runs against instead of the real service (e.g. `moto`): such a row is
   * printed in the scenario tables but left out of the headline, the goals and the charts.
   */
  readonly emulator?: string;
}

/** One measured row: a system ready to declare topics. */
export interface System extends SystemRow {
  readonly topic: (spec: TopicSpec) => Promise<Topic>;
  /** Releases what `open` acquired (connections, transports); shared servers are the context's. */
  readonly close: () => Promise<void>;
  /** Messages each `publish` sends (default 1). */
  readonly messagesPerPublish?: number;
  /** The scenarios this row runs (default all). */
  readonly scenarios?: readonly ScenarioId[];
}

/** A system that could not run, and why. */
export interface Skipped {
  readonly id: string;
  readonly label: string;
  readonly reason: string;
}

/** A server several rows share, as {@link SystemContext.shared} starts it. */
export interface SharedServer<T> {
  readonly value: T;
  stop(): Promise<void>;
}

/** What a run gives each system's `open`. */
export interface SystemContext {
  /** A short random id: prefix everything declared on a shared server with it (and delete it). */
  readonly runId: string;
  /** A directory for this row's data under the run's scratch directory (deleted at the end). */
  directory(name: string): string;
  /**
   * Resolves once peer server `name` answers (starting it with `scripts/setup.sh` when down);
   * rejects with the reason when it cannot, which skips the row. Probed once per run.
   */
  peer(name: PeerServer): Promise<void>;
  /**
   * The server under `key`, started by `start` on first use and stopped when the run ends; rows
   * asking for the same key share it. A failed start rejects every row that asks.
   */
  shared<T>(key: string, start: () => Promise<SharedServer<T>>): Promise<T>;
  /** Records a component's version for the report's "Versions" line. */
  version(name: string, version: string): void;
  /** Adds a note the report prints under the systems table. */
  note(text: string): void;
}

/** A row of the registry: how to open one system. */
export interface SystemEntry {
  /** The row's id (`--systems` picks rows by it). */
  readonly id: string;
  /** A short name for progress lines and the "Skipped …" line. */
  readonly label: string;
  /** Opens the system; throws (the row is skipped, with the message as its reason) when it cannot run. */
  open(context: SystemContext): Promise<System>;
}

/** A `payloadBytes` body with `stampMs` in its first 8 bytes. */
export function stampedBody(payloadBytes: number, stampMs: number): Buffer {
  const body = Buffer.alloc(payloadBytes, 7);
  body.writeDoubleLE(stampMs, 0);
  return body;
}

/** The stamp {@link stampedBody} wrote. */
export function readStamp(body: Uint8Array): number {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).readDoubleLE(0);
}

/** The partition of message `index` (the warm-up message is -1). */
export function partitionOf(index: number, partitions: number): number {
  return ((index % partitions) + partitions) % partitions;
}

/** The consumer-side partition split: consumer `c` of `n` takes partitions p with p % n === c. */
export function partitionsOf(consumer: number, consumers: number, partitions: number): number[] {
  return Array.from({ length: partitions }, (_, p) => p).filter((p) => p % consumers === consumer);
}
