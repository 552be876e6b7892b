/**
 * The Jepsen-style checker: reads a recorded history of a queue workload (producers' invocations
 * and completions, group consumers' deliveries and commits, and a final read of every partition)
 * and reports what a Kafka-protocol server must never do. Pure: the same history gives the same
 * report, so a failing run can be checked again from its saved history.
 *
 * - lost: a value the server acknowledged (producer `ok`) that the final read does not hold, or
 *   that no group consumer ever received (the group's at-least-once promise).
 * - duplicates: a value stored at more than one offset (beyond at-least-once: the producer is
 *   idempotent), and deliveries of a value to the group after its first (allowed by at-least-once,
 *   counted).
 * - per-key reorderings: for one producer and one key, a later send stored before an earlier one,
 *   or a consumer receiving a value it had never been delivered to anybody after a later one of
 *   the same producer and key (a record skipped and filled in afterwards).
 * - offsets that disagree between clients: the acknowledged position of a value is not where the
 *   final read finds it, or a consumer received it at another position.
 */

/**
 * One line of a history, as `scripts/jepsen/client.py` prints it and the run records it: `f` names
 * the operation (`invoke`, `ok`, `info`, `recv`, `read`, `commit`, `assign`, `nemesis`, ...); `p`
 * and `c` name the producer and consumer, `v` and `k` the value and key, `partition` and `offset`
 * where it was stored or read.
 */
export interface HistoryEvent {
  readonly f: string;
  readonly [field: string]: unknown;
}

/** How many examples of each anomaly a report keeps (the counts are exact). */
export const EXAMPLES_MAX = 10;

/** What {@link checkHistory} found. */
export interface CheckReport {
  /** True when nothing was lost, reordered, or placed at disagreeing offsets. */
  readonly valid: boolean;
  /** Sends invoked. */
  readonly invoked: number;
  /** Sends acknowledged (producer `ok`). */
  readonly acknowledged: number;
  /** Sends whose outcome is unknown (`info`): they may or may not be stored. */
  readonly indeterminate: number;
  /** Records the final read returned. */
  readonly read: number;
  /** Deliveries to group consumers. */
  readonly delivered: number;
  /** Acknowledged values missing from the final read. */
  readonly lost: number;
  /** Acknowledged values no group consumer received. */
  readonly lostByGroup: number;
  /** Stored copies beyond the first (the same value at more than one offset). */
  readonly duplicatesStored: number;
  /** Deliveries to the group beyond a value's first (at-least-once redelivery). */
  readonly redeliveries: number;
  /** Per-key order violations, in the log or at a consumer. */
  readonly reorderings: number;
  /** Positions of one value that disagree between producer, consumers and the final read. */
  readonly offsetDisagreements: number;
  /** Values read or received that no producer sent. */
  readonly unexpected: number;
  /** Nemesis actions by kind. */
  readonly nemesis: Readonly<Record<string, number>>;
  /** Up to {@link EXAMPLES_MAX} examples per anomaly, for the failure message. */
  readonly examples: Readonly<Record<string, readonly string[]>>;
}

interface Position {
  readonly partition: number;
  readonly offset: number;
}

const where = (position: Position) => `${position.partition}:${position.offset}`;

/** `"<producer>-<seq>"` → the producer and the sequence number. */
function parseValue(value: string): { producer: string; seq: number } {
  const dash = value.lastIndexOf('-');
  return { producer: value.slice(0, dash), seq: Number(value.slice(dash + 1)) };
}

class Anomalies {
  readonly counts = new Map<string, number>();
  readonly examples: Record<string, string[]> = {};
  add(kind: string, example: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    const list = this.examples[kind] ?? [];
    this.examples[kind] = list;
    if (list.length < EXAMPLES_MAX) list.push(example);
  }
  count(kind: string): number {
    return this.counts.get(kind) ?? 0;
  }
}

/** Checks the stored log: every acknowledged value once, at its acknowledged offset, in order. */
function checkLog(
  acked: ReadonlyMap<string, Position>,
  sent: ReadonlySet<string>,
  reads: readonly Position[] & readonly { v: string; k: string }[],
  anomalies: Anomalies,
): Map<string, Position> {
  const stored = new Map<string, Position>();
  // The last sequence stored per producer and key, per partition in offset order.
  const lastSeq = new Map<string, { seq: number; at: string }>();
  const ordered = [...reads].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  for (const record of ordered) {
    if (!sent.has(record.v)) anomalies.add('unexpected', `${record.v} read at ${where(record)}`);
    const first = stored.get(record.v);
    if (first === undefined) stored.set(record.v, record);
    else anomalies.add('duplicatesStored', `${record.v} at ${where(first)} and again at ${where(record)}`);
    const { producer, seq } = parseValue(record.v);
    const stream = `${producer}/${record.k}/${record.partition}`;
    const last = lastSeq.get(stream);
    if (last !== undefined && seq <= last.seq && first === undefined) {
      anomalies.add(
        'reorderings',
        `log: ${record.v} at ${where(record)} after seq ${last.seq} at ${last.at}`,
      );
    }
    if (last === undefined || seq > last.seq) lastSeq.set(stream, { seq, at: where(record) });
  }
  for (const [value, position] of acked) {
    const found = stored.get(value);
    if (found === undefined) anomalies.add('lost', `${value} acknowledged at ${where(position)}, not read`);
    else if (found.partition !== position.partition || found.offset !== position.offset) {
      anomalies.add(
        'offsetDisagreements',
        `${value} acknowledged at ${where(position)}, read at ${where(found)}`,
      );
    }
  }
  return stored;
}

/** Checks the group's deliveries against the log: positions, order per key, and coverage. */
function checkDeliveries(
  acked: ReadonlyMap<string, Position>,
  stored: ReadonlyMap<string, Position>,
  sent: ReadonlySet<string>,
  deliveries: readonly (Position & { v: string; c?: string })[],
  anomalies: Anomalies,
): void {
  const seen = new Set<string>();
  // Per consumer, the highest sequence received per producer and key.
  const highest = new Map<string, { seq: number; value: string }>();
  for (const delivery of deliveries) {
    if (!sent.has(delivery.v)) anomalies.add('unexpected', `${delivery.v} received by ${delivery.c}`);
    const position = stored.get(delivery.v) ?? acked.get(delivery.v);
    if (
      position !== undefined &&
      (position.partition !== delivery.partition || position.offset !== delivery.offset)
    ) {
      anomalies.add(
        'offsetDisagreements',
        `${delivery.v} received by ${delivery.c} at ${where(delivery)}, stored at ${where(position)}`,
      );
    }
    const fresh = !seen.has(delivery.v);
    if (fresh) seen.add(delivery.v);
    else anomalies.add('redeliveries', `${delivery.v} again to ${delivery.c}`);
    const { producer, seq } = parseValue(delivery.v);
    const stream = `${delivery.c}/${producer}/${(delivery as { k?: string }).k}`;
    const top = highest.get(stream);
    if (fresh && top !== undefined && seq < top.seq) {
      anomalies.add('reorderings', `consumer ${delivery.c}: new ${delivery.v} after ${top.value}`);
    }
    if (top === undefined || seq > top.seq) highest.set(stream, { seq, value: delivery.v });
  }
  for (const value of acked.keys()) {
    if (!seen.has(value)) anomalies.add('lostByGroup', `${value} acknowledged, never received by the group`);
  }
}

/** Checks a complete history (see the module comment for what counts as what). */
export function checkHistory(history: readonly HistoryEvent[]): CheckReport {
  const anomalies = new Anomalies();
  const sent = new Set<string>();
  const acked = new Map<string, Position>();
  const indeterminate = new Set<string>();
  const reads: (Position & { v: string; k: string })[] = [];
  const deliveries: (Position & { v: string; k: string; c?: string })[] = [];
  const nemesis: Record<string, number> = {};
  for (const event of history) {
    const e = event as Record<string, unknown> & { f: string };
    if (e.f === 'invoke') sent.add(e.v as string);
    else if (e.f === 'ok') {
      const previous = acked.get(e.v as string);
      const position = { partition: e.partition as number, offset: e.offset as number };
      if (previous !== undefined && where(previous) !== where(position)) {
        anomalies.add(
          'offsetDisagreements',
          `${e.v} acknowledged at ${where(previous)} and ${where(position)}`,
        );
      }
      acked.set(e.v as string, position);
    } else if (e.f === 'info') indeterminate.add(e.v as string);
    else if (e.f === 'read') reads.push(e as unknown as Position & { v: string; k: string });
    else if (e.f === 'recv') deliveries.push(e as unknown as Position & { v: string; k: string; c?: string });
    else if (e.f === 'nemesis') nemesis[e.action as string] = (nemesis[e.action as string] ?? 0) + 1;
  }
  for (const value of acked.keys()) indeterminate.delete(value);
  const stored = checkLog(acked, sent, reads, anomalies);
  checkDeliveries(acked, stored, sent, deliveries, anomalies);
  const lost = anomalies.count('lost');
  const lostByGroup = anomalies.count('lostByGroup');
  const reorderings = anomalies.count('reorderings');
  const offsetDisagreements = anomalies.count('offsetDisagreements');
  const unexpected = anomalies.count('unexpected');
  return {
    valid: lost + lostByGroup + reorderings + offsetDisagreements + unexpected === 0,
    invoked: sent.size,
    acknowledged: acked.size,
    indeterminate: indeterminate.size,
    read: reads.length,
    delivered: deliveries.length,
    lost,
    lostByGroup,
    duplicatesStored: anomalies.count('duplicatesStored'),
    redeliveries: anomalies.count('redeliveries'),
    reorderings,
    offsetDisagreements,
    unexpected,
    nemesis,
    examples: anomalies.examples,
  };
}
