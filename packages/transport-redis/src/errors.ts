/** Turns ioredis and socket errors into Herald's typed errors, with messages that say what to do. */
import { ConfigurationError, type HeraldError, TransportError } from '@herald/bus';

/** `host:port/db` of `url`, without credentials, for error messages. */
export function describeEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    const db = parsed.pathname.slice(1) || '0';
    return `${parsed.hostname}:${parsed.port || '6379'} (db ${db})`;
  } catch {
    return 'the configured url';
  }
}

/** A failed connection attempt (or a server that stayed away) as a Herald error. */
export function connectError(error: unknown, url: string): HeraldError {
  const where = describeEndpoint(url);
  const text = String((error as Error)?.message ?? error);
  if (/WRONGPASS|NOAUTH|NOPERM/.test(text)) {
    return new ConfigurationError(
      `Redis at ${where} refused the login (${text}); check the user and password in url`,
      { cause: error },
    );
  }
  if (/ENOTFOUND|EAI_AGAIN/.test(text)) {
    return new ConfigurationError(`cannot resolve the Redis host of ${where}; check the host name in url`, {
      cause: error,
    });
  }
  return new TransportError(
    `cannot reach Redis at ${where} (${text}). Is the server running? Start it with ` +
      '"redis-server --appendonly yes --appendfsync always" (or "npm run setup" for the tests), ' +
      'or point url at the right host and port',
    { retriable: true, cause: error },
  );
}

/** A publish Redis did not confirm. */
export function publishError(topic: string, cause: unknown): TransportError {
  return new TransportError(
    `redis transport: a message for topic "${topic}" was not confirmed by Redis ` +
      `(${String((cause as Error)?.message ?? cause)}); it may or may not have been stored: publish it ` +
      'again (consumers deduplicate by id)',
    { retriable: true, cause },
  );
}

/** The server is not configured for the durability `requireFsyncAlways` asks for. */
export function fsyncError(url: string, appendonly: string, appendfsync: string): ConfigurationError {
  return new ConfigurationError(
    `Redis at ${describeEndpoint(url)} runs with appendonly ${appendonly} and appendfsync ${appendfsync}, ` +
      'so a confirmed message may be lost if the server crashes; start it with "--appendonly yes ' +
      '--appendfsync always" (or CONFIG SET both), or drop requireFsyncAlways',
  );
}

/** Another process uses the topic with a different partition count. */
export function partitionsMismatch(topic: string, stored: number, configured: number): ConfigurationError {
  return new ConfigurationError(
    `redis transport: topic "${topic}" has ${stored} partitions in Redis but this transport is configured ` +
      `with ${configured}; use partitions: ${stored} (a key must map to the same stream everywhere), or a new ` +
      'keyPrefix',
  );
}
