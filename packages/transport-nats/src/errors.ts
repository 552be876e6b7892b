/** Turns NATS client errors into Herald's typed errors, with messages that say what to do. */
import { ConfigurationError, type HeraldError, TransportError } from '@herald/bus';

/** The servers without credentials, for error messages. */
export function describeServers(servers: readonly string[]): string {
  return servers
    .map((server) => {
      try {
        const parsed = new URL(server.includes('://') ? server : `nats://${server}`);
        return `${parsed.hostname}:${parsed.port || '4222'}`;
      } catch {
        return 'the configured server';
      }
    })
    .join(', ');
}

function textOf(error: unknown): string {
  return String((error as Error)?.message ?? error);
}

/** A failed connection attempt as a Herald error; `permanent` when retrying cannot help. */
export function connectError(error: unknown, servers: readonly string[]): HeraldError {
  const where = describeServers(servers);
  const text = textOf(error);
  const cause = (error as { cause?: { code?: unknown } })?.cause;
  const code = (error as { code?: unknown })?.code ?? cause?.code;
  if (/authorization|authentication|permissions/i.test(text)) {
    return new ConfigurationError(
      `NATS at ${where} refused the credentials (${text}); check user/pass or token`,
      { cause: error },
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /ENOTFOUND|EAI_AGAIN/.test(text)) {
    return new ConfigurationError(
      `cannot resolve the NATS host of ${where}; check the host names in servers`,
      {
        cause: error,
      },
    );
  }
  if (code === 'ECONNREFUSED' || /ECONNREFUSED|connection refused/i.test(text)) {
    return new TransportError(
      `cannot connect to NATS at ${where}: connection refused. Is nats-server running with JetStream? ` +
        'Start it with "nats-server -js -sd <dir>" (or run npm run setup), or point servers at the right host and port',
      { retriable: true, cause: error },
    );
  }
  return new TransportError(`cannot connect to NATS at ${where}: ${text}`, { retriable: true, cause: error });
}

/** A server without JetStream. */
export function jetStreamMissingError(where: string, cause: unknown): ConfigurationError {
  return new ConfigurationError(
    `NATS at ${where} has no JetStream: start nats-server with -js (and a storage directory, -sd <dir>), ` +
      'or enable it in the account',
    { cause },
  );
}

/** A publish the server did not acknowledge. */
export function publishError(topic: string, cause: unknown): TransportError {
  return new TransportError(
    `nats transport: a message for topic "${topic}" was not acknowledged by JetStream (${textOf(cause)}); ` +
      'it may or may not have been stored: publish it again (the stream drops an exact copy within ' +
      'its duplicate window, and consumers deduplicate by CloudEvents id)',
    { retriable: true, cause },
  );
}

/** A stream or consumer that could not be created. */
export function setupError(what: string, cause: unknown): HeraldError {
  const text = textOf(cause);
  if (/subjects overlap|already in use|different configuration/i.test(text)) {
    return new ConfigurationError(
      `NATS refused to create ${what}: ${text}. A stream with another configuration or overlapping subjects ` +
        'exists; make prefix and partitions match it, or delete it ("nats stream rm <name>")',
      { cause },
    );
  }
  if (/insufficient resources|no suitable peers/i.test(text)) {
    return new ConfigurationError(
      `NATS cannot create ${what}: ${text}. Raise the JetStream storage limits (max_file_store) or lower streamBytesMax`,
      { cause },
    );
  }
  return new TransportError(`NATS failed to create ${what}: ${text}`, { retriable: true, cause });
}
