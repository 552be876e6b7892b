/**
 * `herald`: the package applications import. Everything from `@herald/bus`, with `createBus()`
 * defaulting to the embedded durable broker (`./.herald`, or `HERALD_DATA_DIR`) or the transport
 * `HERALD_TRANSPORT` names, plus the embedded transport itself.
 */

import { join } from 'node:path';
import { type EmbeddedTransportOptions, embeddedTransport } from '@herald/broker';
import {
  type Bus,
  type BusOptions,
  createBus as createBusOn,
  memoryTransport,
  SCHEDULE_HORIZON_MS_MAX,
  type Transport,
  type TransportFeatures,
} from '@herald/bus';
import { lazyTransport } from './lazy-transport.ts';
import { sqliteIdempotencyStore } from './sqlite-idempotency-store.ts';
import { lazyTransportFromEnv, transportNameFromEnv } from './transport-from-env.ts';

export {
  BrokerError,
  type BrokerMetricsOptions,
  DirectoryLockedError,
  type EmbeddedTransport,
  type EmbeddedTransportOptions,
  embeddedTransport,
  GroupActiveError,
  METRIC_SERIES_MAX,
  type MetricsServer,
  TopicInUseError,
  TopicNotFoundError,
} from '@herald/broker';
export * from '@herald/bus';
export {
  HEALTH_ROUTE_TIMEOUT_MS_DEFAULT,
  type HealthRoute,
  type HealthServer,
  type HealthServerOptions,
  startHealthServer,
} from './health-server.ts';
export {
  type PrometheusMetrics,
  type PrometheusMetricsOptions,
  prometheusMetrics,
  type ServeMetricsOptions,
  serveMetrics,
} from './metrics.ts';
export {
  type SqliteIdempotencyStore,
  type SqliteIdempotencyStoreOptions,
  sqliteIdempotencyStore,
} from './sqlite-idempotency-store.ts';
export type { RememberWriterStats } from './sqlite-remember-writer.ts';
export { SQLITE_SAGA_SCHEMA, type SqliteSagaStoreOptions, sqliteSagaStore } from './sqlite-saga-store.ts';
export {
  DEFAULT_NATS_URL,
  DEFAULT_RABBITMQ_URL,
  DEFAULT_REDIS_URL,
  type ImportPackage,
  type LazyTransportName,
  lazyTransportFromEnv,
  TRANSPORT_NAMES,
  TRANSPORT_PACKAGES,
  type TransportFromEnvOptions,
  type TransportName,
  transportFromEnv,
  transportNameFromEnv,
} from './transport-from-env.ts';

/** Options of {@link createBus}: as `@herald/bus`'s, with `transport` optional. */
export interface CreateBusOptions extends Omit<BusOptions, 'transport'> {
  /** Where messages go (default: the embedded durable broker). */
  readonly transport?: Transport;
  /** Options of the default embedded broker, when no `transport` is given (e.g. `{dir}`). */
  readonly embedded?: EmbeddedTransportOptions;
}

/** Largest message the embedded broker accepts by default (its record limit). */
const EMBEDDED_MESSAGE_BYTES_MAX = 1024 * 1024;

/**
 * Creates a bus. Without a `transport` it runs on the transport `HERALD_TRANSPORT` names
 * (`embedded`, `kafka`, `rabbitmq`, `redis`, `memory`; see `transportFromEnv`), by default the embedded
 * durable broker: acknowledged means fsync'ed to disk in `./.herald` (or `HERALD_DATA_DIR`, or
 * `embedded.dir`), and messages and consumer positions survive a kill -9 and restart. Consumed
 * messages are then also deduplicated per group by a SQLite store in the same directory
 * (`idempotency.sqlite`), unless `idempotency` says otherwise.
 *
 * An explicit `transport` (or `embedded` options) wins over the environment. An unknown `HERALD_TRANSPORT` throws
 * `ConfigurationError` here; the Kafka, RabbitMQ, NATS, Redis or AWS package is loaded on first use, and if it is
 * not installed the first `start`, `publish` or `subscribe` rejects with a `ConfigurationError`
 * saying what to install.
 *
 * @example
 * const bus = createBus({ source: '/shop/order' });
 */
export function createBus(options: CreateBusOptions = {}): Bus {
  const { transport, embedded, ...rest } = options;
  if (transport !== undefined) return createBusOn({ ...rest, transport });
  // Options for the embedded broker are an explicit choice too: they win over HERALD_TRANSPORT.
  const name = embedded === undefined ? transportNameFromEnv() : 'embedded';
  if (name === 'memory') return createBusOn({ ...rest, transport: memoryTransport() });
  if (name === 'kafka' || name === 'rabbitmq' || name === 'nats' || name === 'redis' || name === 'aws') {
    return createBusOn({ ...rest, transport: lazyTransportFromEnv(name) });
  }
  const dir = embedded?.dir ?? process.env.HERALD_DATA_DIR ?? './.herald';
  return createBusOn({
    idempotency: sqliteIdempotencyStore({ path: join(dir, 'idempotency.sqlite') }),
    ...rest,
    transport: defaultTransport({ ...embedded, dir }),
  });
}

function defaultTransport(options: EmbeddedTransportOptions): Transport {
  const features = {
    consumerGroups: true,
    persistent: true,
    replaysToNewGroups: true,
    orderedPerKey: true,
    exactlyOnce: false,
    messageBytesMax: options.messageBytesMax ?? EMBEDDED_MESSAGE_BYTES_MAX,
    // Replaced by the opened transport's own declaration; the same, so a scheduled publish
    // before anything opened the broker is accepted.
    scheduling: {
      mode: 'native',
      guarantee: 'the embedded broker keeps a persisted schedule (see @herald/broker)',
      horizonMsMax: SCHEDULE_HORIZON_MS_MAX,
    },
    // As the opened transport declares (see @herald/broker's embedded transport).
    topicPatterns: {
      mode: 'supported',
      guarantee: 'the embedded broker subscribes each matching topic as it is opened',
      newTopicsMsMax: 0,
    },
  } satisfies TransportFeatures;
  return lazyTransport('embedded', features, () => embeddedTransport(options));
}
