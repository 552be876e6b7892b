/**
 * TLS and SASL of the `--broker` target: kcat's `-X` properties first, then the variables the
 * Kafka transport reads (`HERALD_KAFKA_TLS=1`, `HERALD_KAFKA_TLS_CA`, `HERALD_KAFKA_SASL_MECHANISM`,
 * `HERALD_KAFKA_SASL_USERNAME`, `HERALD_KAFKA_SASL_PASSWORD`), so one environment configures both.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { ClientConfig } from './client-config.ts';
import { UsageError } from './errors.ts';

/** What `@platformatic/kafka` takes. */
export interface ClientSecurity {
  readonly tls?: ConnectionOptions;
  readonly sasl?: {
    readonly mechanism: 'SCRAM-SHA-512' | 'SCRAM-SHA-256' | 'PLAIN';
    readonly username: string;
    readonly password: string;
  };
}

/** Resolves the client's TLS and SASL settings; throws a UsageError when they are incomplete. */
export function clientSecurity(config: ClientConfig, env: NodeJS.ProcessEnv = process.env): ClientSecurity {
  const mechanism = config.saslMechanism ?? env.HERALD_KAFKA_SASL_MECHANISM?.toUpperCase();
  const caFile = config.sslCaLocation ?? env.HERALD_KAFKA_TLS_CA;
  const protocol =
    config.securityProtocol ??
    `${mechanism === undefined ? '' : 'sasl_'}${env.HERALD_KAFKA_TLS === '1' || caFile !== undefined ? 'ssl' : 'plaintext'}`;
  const useTls = protocol === 'ssl' || protocol === 'sasl_ssl';
  const useSasl = protocol.startsWith('sasl_');
  let tls: ConnectionOptions | undefined;
  if (useTls) {
    try {
      tls = caFile === undefined ? {} : { ca: readFileSync(caFile) };
    } catch (error) {
      throw new UsageError(`cannot read the CA file ${caFile}: ${(error as Error).message}`);
    }
  }
  if (!useSasl) return tls === undefined ? {} : { tls };
  if (mechanism !== 'SCRAM-SHA-512' && mechanism !== 'SCRAM-SHA-256' && mechanism !== 'PLAIN') {
    throw new UsageError(
      `${protocol} needs a SASL mechanism: -X sasl.mechanisms=SCRAM-SHA-512 (or HERALD_KAFKA_SASL_MECHANISM)`,
    );
  }
  const username = config.saslUsername ?? env.HERALD_KAFKA_SASL_USERNAME;
  const password = config.saslPassword ?? env.HERALD_KAFKA_SASL_PASSWORD;
  if (username === undefined || password === undefined) {
    throw new UsageError(
      'SASL needs a user and password: -X sasl.username=… and HERALD_KAFKA_SASL_PASSWORD (or -X sasl.password=…)',
    );
  }
  return { ...(tls === undefined ? {} : { tls }), sasl: { mechanism, username, password } };
}
