/** Turns client and socket errors into Herald's typed errors, with messages that say what to do. */
import { ConfigurationError, type HeraldError, TransportError } from '@herald/bus';

/** `host:port/vhost` of `url`, without credentials, for error messages. */
export function describeEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    const port = parsed.port || (parsed.protocol === 'amqps:' ? '5671' : '5672');
    const vhost = decodeURIComponent(parsed.pathname.slice(1)) || '/';
    return `${parsed.hostname}:${port} (vhost "${vhost}")`;
  } catch {
    return 'the configured url';
  }
}

function userOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).username) || 'guest';
  } catch {
    return 'guest';
  }
}

/** True when retrying the same connection attempt cannot help (bad credentials, unknown vhost or host). */
export function isPermanentConnectError(error: unknown): boolean {
  return connectError(error, 'amqp://localhost') instanceof ConfigurationError;
}

/** A failed connection attempt as a Herald error. */
export function connectError(error: unknown, url: string): HeraldError {
  const where = describeEndpoint(url);
  const text = String((error as Error)?.message ?? error);
  const code = (error as { code?: unknown })?.code;
  if (code === 'ECONNREFUSED') {
    return new TransportError(
      `cannot connect to RabbitMQ at ${where}: connection refused. Is RabbitMQ running? ` +
        'Start it with "rabbitmq-server -detached" (or "systemctl start rabbitmq-server"), ' +
        'or point url at the right host and port',
      { retriable: true, cause: error },
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ConfigurationError(
      `cannot resolve the RabbitMQ host of ${where}; check the host name in url`,
      { cause: error },
    );
  }
  if (/ACCESS[-_]REFUSED|403/.test(text)) {
    return new ConfigurationError(
      `RabbitMQ at ${where} refused the login of user "${userOf(url)}"; check the user and password ` +
        'in url (the "guest" user may only log in from localhost)',
      { cause: error },
    );
  }
  if (/NOT[-_]ALLOWED|530/.test(text)) {
    return new ConfigurationError(
      `RabbitMQ at ${where} refused access to the vhost; create it ("rabbitmqctl add_vhost") and ` +
        'grant the user permissions ("rabbitmqctl set_permissions"), or fix the vhost in url',
      { cause: error },
    );
  }
  return new TransportError(`cannot connect to RabbitMQ at ${where}: ${text}`, {
    retriable: true,
    cause: error,
  });
}

/** A failed declaration (exchange, queue, binding) as a Herald error. */
export function declareError(error: unknown, what: string): HeraldError {
  const text = String((error as Error)?.message ?? error);
  if (/PRECONDITION[-_]FAILED|406/.test(text)) {
    return new ConfigurationError(
      `RabbitMQ refused to declare ${what}: it already exists with other settings (${text}). ` +
        'Make queueType, shards, fanoutTopics and the stream retention options match what exists, or delete the old one ' +
        '("rabbitmqctl delete_queue <name>")',
      { cause: error },
    );
  }
  return new TransportError(`RabbitMQ failed to declare ${what}: ${text}`, { retriable: true, cause: error });
}

/** A publish the broker did not confirm. */
export function publishError(topic: string, reason: string, cause?: unknown): TransportError {
  return new TransportError(
    `rabbitmq transport: a message for topic "${topic}" was not confirmed by RabbitMQ (${reason}); ` +
      'it may or may not have been stored: publish it again (consumers deduplicate by id)',
    { retriable: true, cause },
  );
}
