/**
 * Declares what a topic and its groups need, idempotently (every declaration may run again after a
 * reconnect). For one group on one topic:
 *
 *   topic exchange ──(binding per type pattern)──▶ group exchange (headers, on `herald-shard`)
 *        ──▶ shard queue 0 … shard queue N-1   (single active consumer each)
 *   group exchange ──(alternate exchange: no shard header matched)──▶ unsharded (fanout) ──▶ shard 0
 *   retry queue (TTL) ──(dead-lettered on expiry)──▶ group exchange
 *
 * The topic binding is declared last, so no message is routed to the group before its queues exist.
 *
 * A replay topic (by default a dead-letter topic, `*.dlq`) also gets a stream queue bound to its
 * exchange with `#`, declared with the exchange, before anything is published to it; its
 * subscriptions read the stream instead of group queues.
 *
 * With `topicPatterns` on, every topic exchange is also bound, with its topic key `@t.<topic>`, to
 * the prefix's pattern exchange, before anything is published to it; a pattern group is the same
 * group exchange and shard queues, bound to the pattern exchange instead of a topic exchange:
 *
 *   topic exchange ──(@t.<topic>)──▶ <prefix>:patterns ──(@t.<pattern>)──▶ group exchange …
 *
 * (see `topic-patterns.ts`).
 */
import { isTopicPattern } from '@herald/bus';
import type { Channel } from 'amqplib';
import { declareError } from './errors.ts';
import { SHARD_HEADER } from './headers.ts';
import { type GroupNames, groupNames, streamQueueName, topicExchangeName } from './names.ts';
import type { ResolvedOptions } from './options.ts';
import { patternBindingKey, patternExchangeName, topicRoutingKey } from './topic-patterns.ts';

/** Names this transport declared, so tests and operators can delete them. */
export interface DeclaredTopology {
  readonly exchanges: Set<string>;
  readonly queues: Set<string>;
}

/** Retry-queue delays: a nack delay waits in the smallest bucket at least as long. */
export const RETRY_BUCKETS_MS = [1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000] as const;

/** The retry bucket for `delayMs`: the smallest at least as long, or the largest. */
export function retryBucketMs(delayMs: number): number {
  return RETRY_BUCKETS_MS.find((bucket) => bucket >= delayMs) ?? RETRY_BUCKETS_MS.at(-1)!;
}

/** Largest stream segment: RabbitMQ's default `x-stream-max-segment-size-bytes`. */
const STREAM_SEGMENT_BYTES_MAX = 500_000_000;

/** Arguments of a replay topic's stream queue: bounded by size and age. */
export function streamArguments(options: ResolvedOptions): Record<string, unknown> {
  return {
    'x-queue-type': 'stream',
    'x-max-length-bytes': options.streamBytesMax,
    'x-max-age': options.streamAgeMax,
    // Retention drops whole segments; smaller segments keep the bound close.
    'x-stream-max-segment-size-bytes': Math.min(
      STREAM_SEGMENT_BYTES_MAX,
      Math.ceil(options.streamBytesMax / 8),
    ),
  };
}

/**
 * Declares the exchange of `topic` (topic type, or fanout for broadcast topics), its binding to the
 * pattern exchange (with `topicPatterns` on) and, for a replay topic, its stream queue bound to
 * it. Returns the exchange name.
 */
export async function declareTopic(
  channel: Channel,
  options: ResolvedOptions,
  declared: DeclaredTopology,
  topic: string,
): Promise<string> {
  const exchange = topicExchangeName(options.exchangePrefix, topic);
  const type = options.fanoutTopics.has(topic) ? 'fanout' : 'topic';
  try {
    await channel.assertExchange(exchange, type, { durable: true });
  } catch (error) {
    throw declareError(error, `${type} exchange "${exchange}"`);
  }
  declared.exchanges.add(exchange);
  if (options.topicPatterns) {
    const patterns = await declarePatternExchange(channel, options, declared);
    try {
      await channel.bindExchange(patterns, exchange, topicRoutingKey(topic));
    } catch (error) {
      throw declareError(error, `binding "${topicRoutingKey(topic)}" from "${exchange}" to "${patterns}"`);
    }
  }
  if (options.replays(topic)) await declareStream(channel, options, declared, topic, exchange);
  return exchange;
}

/** Declares the prefix's pattern exchange (topic type), which pattern groups bind to. */
async function declarePatternExchange(
  channel: Channel,
  options: ResolvedOptions,
  declared: DeclaredTopology,
): Promise<string> {
  const exchange = patternExchangeName(options.exchangePrefix);
  try {
    await channel.assertExchange(exchange, 'topic', { durable: true });
  } catch (error) {
    throw declareError(error, `topic exchange "${exchange}"`);
  }
  declared.exchanges.add(exchange);
  return exchange;
}

/** Declares the stream queue of a replay topic and binds it to every message of the exchange. */
async function declareStream(
  channel: Channel,
  options: ResolvedOptions,
  declared: DeclaredTopology,
  topic: string,
  exchange: string,
): Promise<string> {
  const queue = streamQueueName(options.exchangePrefix, topic);
  let what = `stream queue "${queue}"`;
  try {
    await channel.assertQueue(queue, { durable: true, arguments: streamArguments(options) });
    declared.queues.add(queue);
    what = `binding of "${queue}" to "${exchange}"`;
    await channel.bindQueue(queue, exchange, options.fanoutTopics.has(topic) ? '' : '#');
  } catch (error) {
    throw declareError(error, what);
  }
  return queue;
}

/** Queue arguments shared by shard and retry queues. */
function queueArguments(options: ResolvedOptions): Record<string, unknown> {
  return { 'x-queue-type': options.queueType };
}

/**
 * Declares a group's exchanges, shard queues and bindings; returns its names. `topic` may be a
 * topic pattern (the caller checked that `topicPatterns` is on): the group is then bound to the
 * pattern exchange, and `patterns` (type patterns) do not apply.
 */
export async function declareGroup(
  channel: Channel,
  options: ResolvedOptions,
  declared: DeclaredTopology,
  topic: string,
  group: string,
  patterns: readonly string[],
): Promise<GroupNames> {
  // A pattern never names a topic (`*` and `>` are illegal in topic names), so the names differ too.
  const pattern = isTopicPattern(topic);
  const source = pattern
    ? await declarePatternExchange(channel, options, declared)
    : await declareTopic(channel, options, declared, topic);
  const bindings = pattern ? [patternBindingKey(topic)] : options.fanoutTopics.has(topic) ? [''] : patterns;
  const names = groupNames(options.exchangePrefix, topic, group, options.shards);
  let what = `exchange "${names.unshardedExchange}"`;
  try {
    await channel.assertExchange(names.unshardedExchange, 'fanout', { durable: true });
    declared.exchanges.add(names.unshardedExchange);
    what = `exchange "${names.groupExchange}"`;
    await channel.assertExchange(names.groupExchange, 'headers', {
      durable: true,
      alternateExchange: names.unshardedExchange,
    });
    declared.exchanges.add(names.groupExchange);
    for (const [shard, queue] of names.shardQueues.entries()) {
      what = `${options.queueType} queue "${queue}"`;
      await channel.assertQueue(queue, {
        durable: true,
        arguments: { ...queueArguments(options), 'x-single-active-consumer': true },
      });
      declared.queues.add(queue);
      await channel.bindQueue(queue, names.groupExchange, '', {
        'x-match': 'all',
        [SHARD_HEADER]: String(shard),
      });
    }
    what = `binding of "${names.shardQueues[0]}" to "${names.unshardedExchange}"`;
    await channel.bindQueue(names.shardQueues[0]!, names.unshardedExchange, '');
    for (const binding of bindings) {
      what = `binding "${binding}" from "${source}" to "${names.groupExchange}"`;
      await channel.bindExchange(names.groupExchange, source, binding);
    }
  } catch (error) {
    throw declareError(error, what);
  }
  return names;
}

/**
 * Declares the retry queue of `bucketMs` for a group: messages expire after the bucket's delay and
 * are dead-lettered to the group exchange, which routes them back to their shard. On quorum queues
 * dead-lettering is at-least-once (it needs `reject-publish` overflow), so an expiring message is
 * not lost if the group exchange cannot take it at that moment.
 */
export async function declareRetryQueue(
  channel: Channel,
  options: ResolvedOptions,
  declared: DeclaredTopology,
  names: GroupNames,
  bucketMs: number,
): Promise<string> {
  const queue = names.retryQueue(bucketMs);
  const quorum =
    options.queueType === 'quorum'
      ? { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' }
      : {};
  try {
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        ...queueArguments(options),
        ...quorum,
        'x-message-ttl': bucketMs,
        'x-dead-letter-exchange': names.groupExchange,
      },
    });
  } catch (error) {
    throw declareError(error, `retry queue "${queue}"`);
  }
  declared.queues.add(queue);
  return queue;
}
