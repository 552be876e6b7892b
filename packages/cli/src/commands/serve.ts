/**
 * `herald serve`: runs the embedded broker as a Kafka-protocol server until SIGINT or SIGTERM,
 * then shuts down gracefully (in-flight requests answered, data synced, directory unlocked).
 */
import { parseArgs } from 'node:util';
import { registerBrokerMetrics, startMetricsServer } from '@herald/broker';
import {
  KafkaServerConfigError,
  type KafkaServerOptions,
  listUsers,
  type SaslMechanism,
  startKafkaServer,
} from '@herald/kafka-server';
import { Registry } from 'prom-client';
import { type Command, type CommandIo, UsageError } from '../cli.ts';
import { CliError, EXIT } from '../errors.ts';
import { type HealthEndpoint, startHealthEndpoint } from '../health-endpoint.ts';

const USAGE = `Usage: herald serve [options]

Runs Herald's embedded broker as a single-node Kafka-protocol server, so Kafka clients
(kcat/librdkafka, kafka-python, kafkajs, @platformatic/kafka) produce and consume unmodified.

Options:
  --port N               TCP port (default 9092; 0 picks a free one and prints it)
  --data DIR             data directory (default $HERALD_DATA_DIR or ./.herald)
  --partitions N         partitions of auto-created topics (default 4)
  --host H               interface to bind (default 127.0.0.1)
  --advertised-host H    host clients are told to connect to (default: the bind host)
  --tls-cert FILE        serve TLS with this PEM certificate chain (reloaded when the file changes)
  --tls-key FILE         the certificate's PEM private key (required with --tls-cert)
  --tls-ca FILE          also require client certificates signed by this CA bundle (mutual TLS)
  --sasl                 require SASL: SCRAM-SHA-512, SCRAM-SHA-256 (and PLAIN with TLS), users from
                         \`herald users add\` in the data directory
  --sasl-mechanisms LIST comma-separated subset of SCRAM-SHA-512,SCRAM-SHA-256,PLAIN (implies --sasl)
  --acls                 enforce the ACLs of \`herald acls\` (Kafka's semantics: without a matching
                         allow a request is denied); off by default
  --super-users LIST     comma-separated principals allowed everything (User:admin; implies --acls)
  --insecure             allow binding a non-loopback interface without TLS and SASL (trusted networks)
  --connections-max N    most open connections (default 1024)
  --connections-per-ip-max N
                         most open connections from one address (default: --connections-max)
  --auth-timeout-ms N    close connections not authenticated (TLS + SASL) within this (default 10000)
  --idle-timeout-ms N    close idle connections after this (default 600000)
  --request-bytes-max N  largest request frame (default 104857600)
  --in-flight-max N      requests one connection may have in flight (default 64)
  --produce-quota-bytes-per-second N, --fetch-quota-bytes-per-second N
                         byte rate per principal (default unlimited); above it responses carry
                         throttle_time_ms and the connection is muted that long, as Kafka does
  --metrics-port N       also serve Prometheus metrics at http://HOST:N/metrics (kafka_exporter's
                         names: kafka_topic_partition_current_offset, kafka_consumergroup_lag, ...)
  --health-port N        serve GET /live, /ready and /health over HTTP on this port of --host
                         (0 picks a free one and prints it); ready while serving, not once stopping
  -h, --help             show this help

Example:
  herald serve --port 9092 --data ./data
  echo hello | kcat -b 127.0.0.1:9092 -P -t greetings
  kcat -b 127.0.0.1:9092 -C -t greetings -e
  herald serve --metrics-port 9308 && curl -s 127.0.0.1:9308/metrics
  echo s3cret | herald users add alice --data ./data
  herald serve --data ./data --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --sasl
`;

function integer(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return parsed;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

type Values = Record<string, string | boolean | undefined>;

/** TLS, SASL and limits from the flags. */
function securityOptions(values: Values): KafkaServerOptions {
  const text = (name: string) => values[name] as string | undefined;
  const certFile = text('tls-cert');
  const keyFile = text('tls-key');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together: give the certificate and its private key');
  }
  if (text('tls-ca') !== undefined && certFile === undefined) {
    throw new UsageError('--tls-ca needs --tls-cert and --tls-key');
  }
  const mechanisms = text('sasl-mechanisms')
    ?.split(',')
    .map((mechanism) => mechanism.trim().toUpperCase())
    .filter((mechanism) => mechanism.length > 0) as SaslMechanism[] | undefined;
  const sasl = values.sasl === true || mechanisms !== undefined;
  const superUsers = text('super-users')
    ?.split(',')
    .map((principal) => principal.trim())
    .filter((principal) => principal.length > 0);
  const acls = values.acls === true || superUsers !== undefined;
  const limit = (name: string, min: number, max: number) => integer(text(name), name, min, max);
  const limits = {
    connectionsMax: limit('connections-max', 1, 1_000_000),
    connectionsPerIpMax: limit('connections-per-ip-max', 1, 1_000_000),
    authTimeoutMs: limit('auth-timeout-ms', 100, 3_600_000),
    idleTimeoutMs: limit('idle-timeout-ms', 1_000, 86_400_000),
    requestBytesMax: limit('request-bytes-max', 1024, 1024 * 1024 * 1024),
    inFlightRequestsMax: limit('in-flight-max', 1, 4096),
    produceQuotaBytesPerSecond: limit('produce-quota-bytes-per-second', 1024, 1024 ** 4),
    fetchQuotaBytesPerSecond: limit('fetch-quota-bytes-per-second', 1024, 1024 ** 4),
  };
  return {
    ...(certFile === undefined || keyFile === undefined
      ? {}
      : { tls: { certFile, keyFile, ...(text('tls-ca') === undefined ? {} : { caFile: text('tls-ca')! }) } }),
    ...(sasl ? { sasl: mechanisms === undefined ? {} : { mechanisms } } : {}),
    ...(acls ? { acls: superUsers === undefined ? {} : { superUsers } } : {}),
    ...Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined)),
  };
}

async function serve(args: readonly string[], io: CommandIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        port: { type: 'string' },
        data: { type: 'string' },
        partitions: { type: 'string' },
        host: { type: 'string' },
        'advertised-host': { type: 'string' },
        insecure: { type: 'boolean' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-ca': { type: 'string' },
        sasl: { type: 'boolean' },
        'sasl-mechanisms': { type: 'string' },
        acls: { type: 'boolean' },
        'super-users': { type: 'string' },
        'connections-max': { type: 'string' },
        'connections-per-ip-max': { type: 'string' },
        'auth-timeout-ms': { type: 'string' },
        'idle-timeout-ms': { type: 'string' },
        'request-bytes-max': { type: 'string' },
        'in-flight-max': { type: 'string' },
        'produce-quota-bytes-per-second': { type: 'string' },
        'fetch-quota-bytes-per-second': { type: 'string' },
        'metrics-port': { type: 'string' },
        'health-port': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const port = integer(values.port as string | undefined, 'port', 0, 65535) ?? 9092;
  const healthPort = integer(values['health-port'] as string | undefined, 'health-port', 0, 65535);
  const partitions = integer(values.partitions as string | undefined, 'partitions', 1, 1024);
  const metricsPort = integer(values['metrics-port'] as string | undefined, 'metrics-port', 0, 65535);
  const dir = (values.data as string | undefined) ?? process.env.HERALD_DATA_DIR ?? './.herald';
  const security = securityOptions(values);
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  if (
    values.insecure === true &&
    !isLoopback(host) &&
    (security.tls === undefined || security.sasl === undefined)
  ) {
    io.stderr(
      `herald serve: WARNING: --insecure: listening on ${host} without ${security.tls === undefined ? 'TLS' : ''}` +
        `${security.tls === undefined && security.sasl === undefined ? ' and ' : ''}${security.sasl === undefined ? 'SASL' : ''}; ` +
        'anyone who reaches the port can read and write every topic\n',
    );
  }
  let server: Awaited<ReturnType<typeof startKafkaServer>>;
  try {
    server = await startKafkaServer({
      ...security,
      dir,
      port,
      ...(partitions === undefined ? {} : { partitions }),
      ...(values.host === undefined ? {} : { host: values.host as string }),
      ...(values['advertised-host'] === undefined
        ? {}
        : { advertisedHost: values['advertised-host'] as string }),
      insecure: values.insecure === true,
      onError: (error) => io.stderr(`herald serve: ${(error as Error).stack ?? String(error)}\n`),
      ...(security.acls === undefined
        ? {}
        : { acls: { ...security.acls, onDenied: (line: string) => io.stderr(`herald serve: ${line}\n`) } }),
    });
  } catch (error) {
    // A refused configuration (an open bind without TLS and SASL, PLAIN without TLS, unreadable
    // certificate) is a usage error whose message says what to configure: no stack trace.
    if (error instanceof KafkaServerConfigError) throw new UsageError(error.message);
    throw error;
  }
  let stopping = false;
  let health: HealthEndpoint | undefined;
  if (healthPort !== undefined) {
    try {
      health = await startHealthEndpoint(server.host, healthPort, () => ({
        live: true,
        ready: !stopping && !server.broker.closed,
        listening: `${server.host}:${server.port}`,
        connections: server.connectionCount,
        data: dir,
      }));
    } catch (error) {
      await server.close();
      // A runtime failure (exit 1), like the Kafka port in use.
      throw new CliError(
        `--health-port ${healthPort}: ${(error as Error).message}; pick a free port, or 0 for any`,
        EXIT.failure,
        { cause: error },
      );
    }
  }
  if (security.sasl !== undefined && (await listUsers(dir)).length === 0) {
    io.stderr(
      `herald serve: WARNING: --sasl but no users yet: nobody can log in; add one with herald users add NAME --data ${dir}\n`,
    );
  }
  const protections = [
    ...(security.tls === undefined ? [] : ['TLS']),
    ...(security.sasl === undefined ? [] : ['SASL']),
    ...(security.acls === undefined ? [] : ['ACLs']),
  ];
  io.stdout(
    `herald serve: listening on ${server.host}:${server.port} (data ${dir}` +
      `${protections.length === 0 ? '' : `, ${protections.join(' + ')}`})\n`,
  );
  let metrics: { port: number; close(): Promise<void> } | undefined;
  if (metricsPort !== undefined) {
    const registry = new Registry();
    registerBrokerMetrics(server.broker, registry, { committedGroupMembers: server.groupMemberCount });
    try {
      metrics = await startMetricsServer({ registry, port: metricsPort, host: server.host });
    } catch (error) {
      await server.close();
      throw error;
    }
    io.stdout(`herald serve: metrics on http://${server.host}:${metrics.port}/metrics\n`);
  }
  if (health !== undefined) {
    io.stdout(`herald serve: health on http://${server.host}:${health.port} (/live, /ready, /health)\n`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.stdout('herald serve: shutting down\n');
  stopping = true;
  await metrics?.close();
  await server.close();
  await health?.close();
  io.stdout('herald serve: stopped\n');
  return 0;
}

/** The `serve` command. */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the embedded broker as a Kafka-protocol server',
  usage: USAGE,
  run: serve,
};
