/**
 * Names of the exchanges and queues Herald declares. One topic exchange per topic; per consumer
 * group a headers exchange that spreads messages over the group's shard queues, a fanout exchange
 * that catches messages without a shard header (foreign producers) for shard 0, and retry queues.
 * `:` separates the parts because topic and group names cannot contain it, so two different
 * (topic, group) pairs never share a name.
 */
import { createHash } from 'node:crypto';
import { ConfigurationError } from '@herald/bus';

/** AMQP 0-9-1 short strings (exchange and queue names) hold at most 255 bytes. */
export const AMQP_NAME_BYTES_MAX = 255;
/** Longest accepted `exchangePrefix`, so prefixed names keep room for the topic. */
export const EXCHANGE_PREFIX_LENGTH_MAX = 64;
const PREFIX_LEGAL = /^[A-Za-z0-9._:-]*$/;

/** Throws a {@link ConfigurationError} unless `prefix` is a usable name prefix. */
export function assertExchangePrefix(prefix: string): void {
  if (
    typeof prefix !== 'string' ||
    prefix.length > EXCHANGE_PREFIX_LENGTH_MAX ||
    !PREFIX_LEGAL.test(prefix)
  ) {
    throw new ConfigurationError(
      `rabbitMqTransport: exchangePrefix "${String(prefix)}" is invalid; use at most ` +
        `${EXCHANGE_PREFIX_LENGTH_MAX} characters from A-Z a-z 0-9 . _ : -`,
    );
  }
}

/**
 * `name` if it fits in an AMQP short string; otherwise its head plus a hash of the whole, so long
 * topic and group names still map to distinct, stable names.
 */
function boundedName(name: string): string {
  if (Buffer.byteLength(name) <= AMQP_NAME_BYTES_MAX) return name;
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 16);
  return `${name.slice(0, AMQP_NAME_BYTES_MAX - digest.length - 1)}~${digest}`;
}

/** The exchange a topic is published to. */
export function topicExchangeName(prefix: string, topic: string): string {
  const name = boundedName(`${prefix}${topic}`);
  if (name.startsWith('amq.')) {
    throw new ConfigurationError(
      `rabbitmq transport: exchange name "${name}" starts with "amq.", which RabbitMQ reserves; ` +
        'set exchangePrefix (default "herald.") or rename the topic',
    );
  }
  return name;
}

/**
 * The stream queue of a replay topic. Group queues are `<topic>:<group>:<n>` (two separators), so
 * this one-separator name never collides with them.
 */
export function streamQueueName(prefix: string, topic: string): string {
  return boundedName(`${prefix}${topic}:stream`);
}

/** Every name of one consumer group on one topic. */
export interface GroupNames {
  /** Headers exchange bound to the topic exchange; routes on the shard header. */
  readonly groupExchange: string;
  /** Fanout exchange (the group exchange's alternate) that sends unsharded messages to shard 0. */
  readonly unshardedExchange: string;
  /** Shard queues, index = shard number. */
  readonly shardQueues: readonly string[];
  /** The retry queue holding messages for `bucketMs` before they return to the group. */
  retryQueue(bucketMs: number): string;
}

/** The names of `group` on `topic` with `shards` shard queues. */
export function groupNames(prefix: string, topic: string, group: string, shards: number): GroupNames {
  const base = `${prefix}${topic}:${group}`;
  return {
    groupExchange: boundedName(base),
    unshardedExchange: boundedName(`${base}:unsharded`),
    shardQueues: Array.from({ length: shards }, (_, index) => boundedName(`${base}:${index}`)),
    retryQueue: (bucketMs) => boundedName(`${base}:retry-${bucketMs}ms`),
  };
}
