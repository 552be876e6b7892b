/**
 * `herald serve`: runs the embedded broker as a Kafka-protocol server until SIGINT or SIGTERM,
 * then shuts down gracefully (in-flight requests answered, data synced, directory unlocked).
 */
import { parseArgs } from 'node:util';
import { registerBrokerMetrics, startMetricsServer } from '@herald/broker';
import { startKafkaServer } from '@herald/kafka-server';
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
  --insecure             allow binding a non-loopback interface (there is no authentication)
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
`;

function integer(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return parsed;
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
  const server = await startKafkaServer({
    dir,
    port,
    ...(partitions === undefined ? {} : { partitions }),
    ...(values.host === undefined ? {} : { host: values.host as string }),
    ...(values['advertised-host'] === undefined
      ? {}
      : { advertisedHost: values['advertised-host'] as string }),
    insecure: values.insecure === true,
    onError: (error) => io.stderr(`herald serve: ${(error as Error).stack ?? String(error)}\n`),
  });
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
  io.stdout(`herald serve: listening on ${server.host}:${server.port} (data ${dir})\n`);
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
