/**
 * Prometheus metrics for a Herald process, with prom-client: `herald_*` counters, histograms, the
 * in-flight gauge and the outbox lag gauges fed by the bus's {@link BusMetrics} hook, and — when the bus runs on the
 * embedded broker — the broker's kafka_exporter-named gauges (offsets, consumer lag in messages
 * and seconds). `serveMetrics()` serves them at `/metrics`.
 */
import {
  type Broker,
  type BrokerMetricsOptions,
  type MetricsServer,
  registerBrokerMetrics,
  startMetricsServer,
} from '@herald/broker';
import type { Bus, BusMetrics, DeadLetterReason, HandlerOutcome, Transport } from '@herald/bus';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets of `herald_handler_duration_seconds`: 1 ms to 30 s. */
const HANDLER_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Buckets of `herald_publish_duration_seconds`: 0.5 ms (memory) to 2.5 s (a slow broker ack). */
const PUBLISH_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** A prom-client registry with Herald's metrics; pass `bus` to `createBus({ metrics })`. */
export interface PrometheusMetrics {
  /** Everything this process serves at `/metrics`; register your own metrics here too. */
  readonly registry: Registry;
  /** The hook for `createBus({ metrics })`: feeds the `herald_*` metrics. */
  readonly bus: BusMetrics;
  /**
   * Adds the kafka_exporter-named gauges of `source` (a broker, or a bus or transport on the
   * embedded broker, read on each scrape once it is open). Other transports add nothing: their
   * broker's lag is kafka_exporter's (or the broker's own exporter's) to report.
   */
  addBroker(source: Broker | Bus | Transport, options?: BrokerMetricsOptions): void;
}

/** Options of {@link prometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /** Registry to add to (default: a new one, so two buses in one process never collide). */
  readonly registry?: Registry;
}

/**
 * Creates Herald's Prometheus metrics:
 * `herald_messages_published_total{topic,type}`, `herald_publish_failures_total{topic,type}`,
 * `herald_publish_duration_seconds{topic}` (call to transport ack),
 * `herald_messages_handled_total{topic,group,type}`, `herald_messages_failed_total{topic,group,type}`
 * (each failed attempt), `herald_messages_retried_total{topic,group}`,
 * `herald_messages_dead_lettered_total{topic,group,reason}`,
 * `herald_handler_duration_seconds{topic,group,outcome}` and `herald_handlers_in_flight{topic,group}`.
 * Label values come from the bus's contracts and groups, so series are bounded by
 * contracts × groups (× 6 dead-letter reasons).
 *
 * @example
 * const metrics = prometheusMetrics();
 * const bus = createBus({ metrics: metrics.bus });
 * metrics.addBroker(bus);
 * const server = await serveMetrics({ port: 9464, metrics });
 */
export function prometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const published = new Counter({
    name: 'herald_messages_published_total',
    help: 'Messages published, sent or requested through the bus and accepted by the transport',
    labelNames: ['topic', 'type'],
    registers,
  });
  const publishFailures = new Counter({
    name: 'herald_publish_failures_total',
    help: 'Publishes rejected by validation or the transport',
    labelNames: ['topic', 'type'],
    registers,
  });
  const publishDuration = new Histogram({
    name: 'herald_publish_duration_seconds',
    help: 'Time from publish() to the transport accepting the message (its ack)',
    labelNames: ['topic'],
    buckets: PUBLISH_BUCKETS_SECONDS,
    registers,
  });
  const handled = new Counter({
    name: 'herald_messages_handled_total',
    help: 'Handler runs that succeeded',
    labelNames: ['topic', 'group', 'type'],
    registers,
  });
  const failed = new Counter({
    name: 'herald_messages_failed_total',
    help: 'Handler runs that failed or timed out (each attempt counts)',
    labelNames: ['topic', 'group', 'type'],
    registers,
  });
  const retried = new Counter({
    name: 'herald_messages_retried_total',
    help: 'Failed messages handed back for another attempt',
    labelNames: ['topic', 'group'],
    registers,
  });
  const deadLettered = new Counter({
    name: 'herald_messages_dead_lettered_total',
    help: 'Messages moved to a dead-letter topic',
    labelNames: ['topic', 'group', 'reason'],
    registers,
  });
  const handlerDuration = new Histogram({
    name: 'herald_handler_duration_seconds',
    help: 'Duration of handler runs, middleware included',
    labelNames: ['topic', 'group', 'outcome'],
    buckets: HANDLER_BUCKETS_SECONDS,
    registers,
  });
  const inFlight = new Gauge({
    name: 'herald_handlers_in_flight',
    help: 'Handler runs in progress',
    labelNames: ['topic', 'group'],
    registers,
  });
  const outboxUnsent = new Gauge({
    name: 'herald_outbox_unsent_messages',
    help: 'Messages staged in the transactional outbox and not yet published, per bus source',
    labelNames: ['source'],
    registers,
  });
  const outboxOldestAge = new Gauge({
    name: 'herald_outbox_oldest_unsent_age_seconds',
    help: 'Age of the oldest message staged in the outbox and not yet published (0 when none), per bus source',
    labelNames: ['source'],
    registers,
  });
  const bus: BusMetrics = {
    outboxLag(source: string, unsentCount: number, oldestUnsentAgeMs: number) {
      outboxUnsent.labels(source).set(unsentCount);
      outboxOldestAge.labels(source).set(oldestUnsentAgeMs / 1000);
    },
    published(topic: string, type: string, durationMs: number) {
      published.labels(topic, type).inc();
      publishDuration.labels(topic).observe(durationMs / 1000);
    },
    publishFailed(topic: string, type: string) {
      publishFailures.labels(topic, type).inc();
    },
    handlerStarted(topic: string, group: string) {
      inFlight.labels(topic, group).inc();
    },
    handlerEnded(topic: string, group: string, type: string, outcome: HandlerOutcome, durationMs: number) {
      inFlight.labels(topic, group).dec();
      (outcome === 'handled' ? handled : failed).labels(topic, group, type).inc();
      handlerDuration.labels(topic, group, outcome).observe(durationMs / 1000);
    },
    retried(topic: string, group: string) {
      retried.labels(topic, group).inc();
    },
    deadLettered(topic: string, group: string, reason: DeadLetterReason) {
      deadLettered.labels(topic, group, reason).inc();
    },
  };
  let brokerAdded = false;
  return {
    registry,
    bus,
    addBroker(source, brokerOptions) {
      if (brokerAdded) return; // one broker per process: the kafka_* names would collide
      const broker = brokerOf(source);
      if (broker === undefined) return;
      brokerAdded = true;
      registerBrokerMetrics(broker, registry, brokerOptions);
    },
  };
}

/**
 * The broker behind `source`, or a function that finds it once the embedded transport opened
 * (`createBus()` opens it on first use); undefined for any other transport.
 */
function brokerOf(source: Broker | Bus | Transport): Broker | (() => Broker | undefined) | undefined {
  if ('describeGroup' in source) return source;
  const transport: Transport =
    'publish' in source && 'subscribe' in source ? source : (source as Bus).transport;
  if (transport.name !== 'embedded') return undefined;
  const embedded = transport as Transport & { broker?: Broker; opened?: Transport & { broker?: Broker } };
  return () => embedded.broker ?? embedded.opened?.broker;
}

/** Options of {@link serveMetrics}. */
export interface ServeMetricsOptions {
  /** What to serve (from {@link prometheusMetrics}). */
  readonly metrics: PrometheusMetrics;
  /** TCP port (0 picks a free one; the returned server's `port` tells which). */
  readonly port: number;
  /** Interface to bind (default 127.0.0.1; Prometheus on another host needs e.g. `0.0.0.0`). */
  readonly host?: string;
}

/**
 * Serves `metrics` as Prometheus text at `http://host:port/metrics` from this process (an embedded
 * bus's process; `herald serve --metrics-port` does the same for the Kafka-protocol server).
 * Resolves once listening; close the returned server on shutdown. Rejects with the listen error
 * (e.g. `EADDRINUSE`) when the port is taken.
 */
export function serveMetrics(options: ServeMetricsOptions): Promise<MetricsServer> {
  return startMetricsServer({
    registry: options.metrics.registry,
    port: options.port,
    ...(options.host === undefined ? {} : { host: options.host }),
  });
}
