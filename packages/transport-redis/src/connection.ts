/**
 * ioredis connections as the transport uses them. ioredis reconnects by itself (with the backoff
 * below, forever, until closed) and queues commands while the server is away; this module adds the
 * first connect with a deadline, a deadline per command (a command never waits longer than
 * `connectTimeoutMs`, so a publish or ack fails visibly while the server is down) and a reconnect
 * counter.
 *
 * Two kinds of connection: the transport's command connection (publishes, acks, leases) and one
 * reader connection per subscription for its blocking `XREADGROUP`. Both re-send what was in flight
 * when the connection dropped; a read whose reply was lost is recovered by reading the member's
 * pending entries again (see `subscription.ts`).
 */
import { TransportError } from '@herald/bus';
import { Redis } from 'ioredis';
import { connectError, describeEndpoint } from './errors.ts';
import type { ResolvedOptions } from './options.ts';

/** A connection and what the transport tracks about it. */
export interface Connection {
  readonly redis: Redis;
  /** Times it came back after a loss. */
  readonly reconnects: () => number;
  /** The last connection error seen, for messages. */
  readonly lastError: () => unknown;
}

/** How a connection is used. */
export type ConnectionRole = 'commands' | 'reader';

/**
 * Opens a connection; rejects with a Herald error if it is not ready within `connectTimeoutMs`.
 * The `commands` connection pipelines automatically; a `reader` (whose reads block) does not.
 */
export async function openConnection(options: ResolvedOptions, role: ConnectionRole): Promise<Connection> {
  const { reconnectDelayMsMin: min, reconnectDelayMsMax: max } = options;
  const redis = new Redis(options.url, {
    lazyConnect: true,
    connectionName: options.connectionName,
    connectTimeout: options.connectTimeoutMs,
    // Commands wait for the reconnection instead of failing after N attempts; `command()` bounds the wait.
    maxRetriesPerRequest: null,
    // A command in flight when the connection dropped is sent again after reconnecting (without
    // this ioredis drops it and its promise never settles). For the reader that re-sent read is
    // harmless: the subscription reads its pending entries again after every reconnection.
    autoResendUnfulfilledCommands: true,
    // Commands issued in the same event-loop turn (concurrent publishes, the acks of one read) go
    // out in one socket write instead of one each: the write is most of a command's client CPU.
    // Replies, errors and order stay per command. Never on the reader: a blocking read in a
    // pipeline would hold back the commands queued behind it.
    enableAutoPipelining: role === 'commands',
    // Exponential backoff minus up to 20% jitter, so restarted members do not reconnect in step.
    retryStrategy: (times) =>
      Math.round(Math.min(max, min * 2 ** Math.min(times - 1, 20)) * (1 - 0.2 * Math.random())),
  });
  let lastError: unknown;
  let readyCount = 0;
  // Without an error listener ioredis logs every failed reconnect attempt; the error is kept instead.
  redis.on('error', (error: unknown) => {
    lastError = error;
  });
  redis.on('ready', () => {
    readyCount += 1;
  });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(connectError(lastError ?? 'no answer', options.url)),
      options.connectTimeoutMs,
    );
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  redis.connect().catch(() => {}); // Retried by ioredis; the deadline above decides.
  try {
    await ready;
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return { redis, reconnects: () => Math.max(0, readyCount - 1), lastError: () => lastError };
}

/**
 * Runs `send` with a deadline of `timeoutMs`: rejects with a retriable `TransportError` naming
 * `what` when the server does not answer in time (the command may still run later).
 */
export function command<T>(
  options: ResolvedOptions,
  what: string,
  send: () => Promise<T>,
  timeoutMs = options.connectTimeoutMs,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TransportError(
            `redis transport: ${what} got no answer from Redis at ${describeEndpoint(options.url)} within ` +
              `${timeoutMs} ms; check that the server is running (it is retried after reconnecting)`,
            { retriable: true },
          ),
        ),
      timeoutMs,
    );
  });
  return Promise.race([send(), timeout]).finally(() => clearTimeout(timer));
}

/** Closes a connection politely, or drops it if the server does not answer in time. */
export async function closeConnection(connection: Connection, timeoutMs: number): Promise<void> {
  const redis = connection.redis;
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await Promise.race([redis.quit(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  } catch {
    // Already closing.
  }
  redis.disconnect();
}
