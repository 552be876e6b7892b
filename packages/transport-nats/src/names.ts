/**
 * How Herald names map onto NATS names. Subjects keep the topic as it is (`herald.orders.3`), so
 * foreign clients can publish and subscribe by topic; stream, consumer and key-value names may not
 * contain dots, so there the name is escaped one-to-one (`_` → `__`, `.` → `_d`).
 */
import { ConfigurationError } from '@herald/bus';

/** Escapes a topic or group name into the characters stream, consumer and bucket names allow. */
export function escapeName(name: string): string {
  return name.replaceAll('_', '__').replaceAll('.', '_d');
}

/** Throws a {@link ConfigurationError} for a topic that makes an invalid subject (an empty token). */
export function assertSubjectSafeTopic(topic: string, context: string): void {
  if (topic.startsWith('.') || topic.endsWith('.') || topic.includes('..')) {
    throw new ConfigurationError(
      `${context}: topic "${topic}" cannot be a NATS subject: it has an empty token (a leading, trailing or ` +
        'double dot); rename it, e.g. "orders.created"',
    );
  }
}

/** The names of one topic's stream and subjects. */
export interface TopicNames {
  /** The stream, e.g. `herald_orders`. */
  readonly stream: string;
  /** The subject filter the stream captures, e.g. `herald.orders.*`. */
  readonly subjects: string;
  /** The subject of partition `partition`, e.g. `herald.orders.3`. */
  subject(partition: number): string;
}

/** Names of `topic`'s stream and subjects under `prefix`. */
export function topicNames(prefix: string, topic: string): TopicNames {
  return {
    stream: `${prefix}_${escapeName(topic)}`,
    subjects: `${prefix}.${topic}.*`,
    subject: (partition) => `${prefix}.${topic}.${partition}`,
  };
}

/** The durable consumer of `group` on `partition`, e.g. `billing_p3`. */
export function consumerName(group: string, partition: number): string {
  return `${escapeName(group)}_p${partition}`;
}

/** The key-value bucket holding the leases; its TTL is the lease, so it is part of the name. */
export function leaseBucketName(prefix: string, leaseMs: number): string {
  return `${prefix}_leases_${leaseMs}`;
}

/** The lease keys of one group on one stream. */
export interface GroupKeys {
  /** Prefix of the members' keys, e.g. `herald_orders.billing.m.`. */
  readonly memberPrefix: string;
  /** The heartbeat key of member `memberId`. */
  member(memberId: string): string;
  /** The lease key of `partition`. */
  partition(partition: number): string;
  /** Core NATS subject on which members announce a change, so the others rebalance at once. */
  readonly rebalanceSubject: string;
}

/** Keys of `group` on `stream`. */
export function groupKeys(prefix: string, stream: string, group: string): GroupKeys {
  const base = `${stream}.${escapeName(group)}`;
  return {
    memberPrefix: `${base}.m.`,
    member: (memberId) => `${base}.m.${memberId}`,
    partition: (partition) => `${base}.p.${partition}`,
    rebalanceSubject: `${prefix}-control.rebalance.${base}`,
  };
}
