/**
 * kcat's `-X property=value`: client configuration in librdkafka's names. Herald is not built on
 * librdkafka, so it accepts the few properties that mean something to its own clients, validates
 * their values, and refuses every other name with an {@link UnsupportedConfigError} that lists
 * what is supported (a typo must not be silently ignored). `-X list` prints the table below.
 */
import { UsageError } from './errors.ts';

/** The client settings `-X` can change; every field has Herald's default when not given. */
export interface ClientConfig {
  /** How long a fetch waits for new records when there are none (librdkafka default 500). */
  readonly fetchWaitMs: number;
  /** Client id sent to the broker (`--broker` only). */
  readonly clientId: string;
  /** A request without an answer within this fails with exit code 5 (`--broker` only). */
  readonly requestTimeoutMs: number;
  /** Bytes a fetch asks for per partition (`--broker` only). */
  readonly partitionFetchBytesMax: number;
  /** plaintext, ssl, sasl_plaintext or sasl_ssl (`--broker` only; default from HERALD_KAFKA_TLS / _SASL_*). */
  readonly securityProtocol?: string;
  /** SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (default HERALD_KAFKA_SASL_MECHANISM). */
  readonly saslMechanism?: string;
  /** SASL user (default HERALD_KAFKA_SASL_USERNAME). */
  readonly saslUsername?: string;
  /** SASL password (default HERALD_KAFKA_SASL_PASSWORD). */
  readonly saslPassword?: string;
  /** PEM CA bundle that signed the broker's certificate (default HERALD_KAFKA_TLS_CA). */
  readonly sslCaLocation?: string;
}

/** Herald's defaults. */
export const DEFAULT_CLIENT_CONFIG: ClientConfig = {
  fetchWaitMs: 500,
  clientId: 'herald-cli',
  requestTimeoutMs: 10_000,
  partitionFetchBytesMax: 1024 * 1024,
};

interface Property {
  readonly description: string;
  /** Validates `value` and returns the settings it changes; throws a UsageError otherwise. */
  readonly apply: (value: string, property: string) => Partial<ClientConfig>;
}

function wholeNumber(value: string, property: string, min: number, max: number): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`-X ${property}: must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return parsed;
}

/** Every property `-X` accepts, by librdkafka name. */
export const CLIENT_PROPERTIES: Readonly<Record<string, Property>> = {
  'fetch.wait.max.ms': {
    description: 'how long a fetch waits for new records (0 to 300000; default 500)',
    apply: (value, property) => ({ fetchWaitMs: wholeNumber(value, property, 0, 300_000) }),
  },
  'client.id': {
    description: 'client id sent to the broker (default herald-cli; --broker only)',
    apply: (value, property) => {
      if (!/^[A-Za-z0-9._-]{1,255}$/.test(value)) {
        throw new UsageError(`-X ${property}: use 1 to 255 of A-Z a-z 0-9 . _ -, got "${value}"`);
      }
      return { clientId: value };
    },
  },
  'socket.timeout.ms': {
    description:
      'a request without an answer within this fails, exit 5 (10 to 300000; default 10000; --broker only)',
    apply: (value, property) => ({ requestTimeoutMs: wholeNumber(value, property, 10, 300_000) }),
  },
  'max.partition.fetch.bytes': {
    description: 'bytes a fetch asks for per partition (1024 to 67108864; default 1048576; --broker only)',
    apply: (value, property) => ({
      partitionFetchBytesMax: wholeNumber(value, property, 1024, 64 * 1024 * 1024),
    }),
  },
  'security.protocol': {
    description:
      'plaintext, ssl, sasl_plaintext or sasl_ssl (--broker only; default from HERALD_KAFKA_TLS and HERALD_KAFKA_SASL_*)',
    apply: (value, property) => {
      const protocol = value.toLowerCase();
      if (!['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'].includes(protocol)) {
        throw new UsageError(`-X ${property}=${value}: use plaintext, ssl, sasl_plaintext or sasl_ssl`);
      }
      return { securityProtocol: protocol };
    },
  },
  'sasl.mechanisms': {
    description:
      'SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (--broker only; default $HERALD_KAFKA_SASL_MECHANISM)',
    apply: (value, property) => {
      const mechanism = value.toUpperCase();
      if (!['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'].includes(mechanism)) {
        throw new UsageError(`-X ${property}=${value}: use SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN`);
      }
      return { saslMechanism: mechanism };
    },
  },
  'sasl.username': {
    description: 'SASL user (--broker only; default $HERALD_KAFKA_SASL_USERNAME)',
    apply: (value) => ({ saslUsername: value }),
  },
  'sasl.password': {
    description: 'SASL password (--broker only; default $HERALD_KAFKA_SASL_PASSWORD, which stays out of ps)',
    apply: (value) => ({ saslPassword: value }),
  },
  'ssl.ca.location': {
    description:
      "PEM file of the CA that signed the broker's certificate (--broker only; default $HERALD_KAFKA_TLS_CA)",
    apply: (value) => ({ sslCaLocation: value }),
  },
};

/** A `-X` property Herald does not know: says which ones it supports. Exit code 2. */
export class UnsupportedConfigError extends UsageError {
  /** The property as given. */
  readonly property: string;
  /** Every property Herald accepts. */
  readonly supported: readonly string[];

  constructor(property: string) {
    const supported = Object.keys(CLIENT_PROPERTIES);
    super(
      `-X ${property}: not a property Herald supports; use one of ${supported.join(', ')} ` +
        '(herald consume -X list describes them)',
    );
    this.name = 'UnsupportedConfigError';
    this.property = property;
    this.supported = supported;
  }
}

/** The settings of every `-X name=value` in `entries`, over the defaults. */
export function parseClientConfig(entries: readonly string[]): ClientConfig {
  let config: ClientConfig = DEFAULT_CLIENT_CONFIG;
  for (const entry of entries) {
    const split = entry.indexOf('=');
    if (split <= 0) {
      if (CLIENT_PROPERTIES[entry] !== undefined) throw new UsageError(`-X ${entry}: give ${entry}=VALUE`);
      throw new UnsupportedConfigError(entry);
    }
    const name = entry.slice(0, split);
    const property = Object.hasOwn(CLIENT_PROPERTIES, name) ? CLIENT_PROPERTIES[name] : undefined;
    if (property === undefined) throw new UnsupportedConfigError(name);
    config = { ...config, ...property.apply(entry.slice(split + 1), name) };
  }
  return config;
}

/** What `-X list` prints. */
export function clientConfigList(): string {
  const width = Math.max(...Object.keys(CLIENT_PROPERTIES).map((name) => name.length));
  const lines = Object.entries(CLIENT_PROPERTIES).map(
    ([name, property]) => `${name.padEnd(width)}  ${property.description}`,
  );
  return `${lines.join('\n')}\n`;
}
