/**
 * Starts checkout services on one shared transport: each service gets its own bus (its own
 * CloudEvents source `/checkout/<name>`), its own SQLite store with Herald's outbox, and its HTTP
 * routes on one server. A service can be stopped and started again while the others keep running, which is
 * how the benchmark takes the payment service down.
 */
import { join } from 'node:path';
import { type Bus, type BusStats, createBus, type Logger, prometheusMetrics, type Transport } from 'herald';
import { CONTRACTS } from './contracts.ts';
import { healthRoutes } from './health-routes.ts';
import { type HttpServer, type Route, startHttpServer } from './http.ts';
import { defaultStock } from './logic/inventory.ts';
import { DEFAULT_PAYMENT_OPTIONS, type PaymentOptions } from './logic/payment.ts';
import { SERVICE_NAMES, SERVICES, type ServiceName } from './services/index.ts';
import type { CheckoutConfig, ServiceRuntime } from './services/service.ts';
import { openServiceStore, type ServiceStore, type Synchronous } from './store.ts';
import { transportFromEnv } from './transport.ts';

/** Options of {@link startCheckout}. */
export interface CheckoutOptions {
  /** The run's data directory: `broker/`, `state/<service>.sqlite`, `mail/`. */
  readonly dataDir: string;
  /** Services to run here (default: all). */
  readonly services?: readonly ServiceName[];
  /** HTTP port (0: any free port; default 0). */
  readonly port?: number;
  /** If `port` is taken, use any free port instead of failing. */
  readonly portFallback?: boolean;
  /** HTTP host (default 127.0.0.1). */
  readonly host?: string;
  /** The simulated payment gateway. */
  readonly payment?: Partial<PaymentOptions>;
  /** Initial stock per SKU (default: the catalog's). */
  readonly stock?: ReadonlyMap<string, number>;
  /** SQLite durability of the service stores (default `'normal'`). */
  readonly synchronous?: Synchronous;
  /** The shared transport (default: {@link transportFromEnv}). The checkout closes it on stop. */
  readonly transport?: Transport;
  /** Herald's logger for every bus. */
  readonly logger?: Logger;
}

/** A running checkout. */
export interface Checkout {
  /** Base URL of the HTTP API. */
  readonly url: string;
  readonly dataDir: string;
  readonly mailDir: string;
  readonly config: CheckoutConfig;
  /** The transport all buses share. */
  readonly transport: Transport;
  /** Stores of the services started here. */
  readonly stores: ReadonlyMap<ServiceName, ServiceStore>;
  /** Outboxes of the services started here: how many staged messages are not yet published. */
  readonly outboxes: ReadonlyMap<ServiceName, { unsentCount(): number }>;
  /** Whether `name` is consuming right now. */
  isRunning(name: ServiceName): boolean;
  /** Stops one service's bus (its messages wait in the broker); its store stays open. */
  stopService(name: ServiceName): Promise<void>;
  /** Starts a stopped service again on a fresh bus. */
  startService(name: ServiceName): Promise<void>;
  /** Counters summed over every bus since start (restarted buses included). */
  stats(): BusStats;
  /** Stops everything: HTTP, buses, outboxes, stores, transport. */
  stop(): Promise<void>;
}

/**
 * Wraps `transport` so that many buses can share it: a bus closes its transport when it stops,
 * and here that must only end the bus's subscriptions (which the bus closes itself).
 */
function shareable(transport: Transport): Transport {
  return {
    name: transport.name,
    features: transport.features,
    // Scheduled messages (the order saga's payment timeout) go to the transport's own scheduler.
    ...(transport.scheduler === undefined ? {} : { scheduler: transport.scheduler }),
    publish: (topic, messages) => transport.publish(topic, messages),
    subscribe: (options, handler) => transport.subscribe(options, handler),
    close: async () => {},
    ...(transport.health === undefined ? {} : { health: () => transport.health!() }),
  };
}

/** How long published outbox rows are kept: the invariants' audit reads every event ever staged. */
const OUTBOX_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** Opens stores, starts every service's bus and the HTTP API. */
export async function startCheckout(options: CheckoutOptions): Promise<Checkout> {
  const names = options.services ?? SERVICE_NAMES;
  const mailDir = join(options.dataDir, 'mail');
  const config: CheckoutConfig = {
    mailDir,
    payment: { ...DEFAULT_PAYMENT_OPTIONS, ...options.payment },
    stock: options.stock ?? defaultStock(),
  };
  const transport = options.transport ?? (await transportFromEnv({ dataDir: options.dataDir }));
  const shared = shareable(transport);
  const runtimes = new Map<ServiceName, ServiceRuntime>();
  const buses = new Map<ServiceName, Bus>();
  const releases = new Map<ServiceName, () => Promise<void>>();
  // Each service's outbox is relayed by a bus of its own that outlives its consuming bus (which
  // only stages): the consuming bus stops and starts again while the relay keeps publishing, and
  // what handlers draining during its stop() committed still goes out.
  const publishers = new Map<ServiceName, Bus>();
  // One registry for the process: herald_* metrics of every bus, and on the embedded broker the
  // kafka_exporter-named offsets and lag of its topics and groups, served at /metrics.
  const metrics = prometheusMetrics();
  metrics.addBroker(transport);
  // Every bus shares `shared`, so they share its one scheduler (Kafka, RabbitMQ): one member of the
  // schedulers' group per process, however many services start and stop.
  const newBus = (name: ServiceName, store: ServiceStore, relay: boolean) =>
    createBus({
      transport: shared,
      source: `/checkout/${name}`,
      contracts: CONTRACTS,
      // Announced on herald.services from the start, so the console draws rarely sent ones too.
      announce: { sends: SERVICES[name].sends },
      idempotency: store.inbox,
      // The audit checks each key's order by `seq`; sent rows stay for the invariants' audit.
      outboxRelay: relay && { sequenceExtension: 'seq', retentionMs: OUTBOX_RETENTION_MS },
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      metrics: metrics.bus,
    });
  const retiredStats: BusStats[] = [];
  let http: HttpServer | undefined;

  const startService = async (name: ServiceName) => {
    if (buses.has(name)) return;
    const runtime = runtimes.get(name)!;
    const bus = newBus(name, runtime.store, false);
    const release = SERVICES[name].register(bus, runtime);
    if (release !== undefined) releases.set(name, release);
    await bus.start();
    buses.set(name, bus);
  };
  const stopService = async (name: ServiceName) => {
    const bus = buses.get(name);
    if (bus === undefined) return;
    buses.delete(name);
    try {
      await bus.stop();
    } finally {
      await releases.get(name)?.();
      releases.delete(name);
    }
    retiredStats.push(bus.stats());
  };

  const backgrounds: (() => Promise<void>)[] = [];
  const stopPublishers = async () => {
    // Background work commits through the publishers: it stops first.
    for (const stop of backgrounds.splice(0)) await stop();
    // Each stop publishes what is left staged, then stops its relay.
    for (const publisher of publishers.values()) await publisher.stop();
    publishers.clear();
  };

  try {
    for (const name of names) {
      const definition = SERVICES[name];
      const store = await openServiceStore({
        dir: join(options.dataDir, 'state'),
        name,
        schema: definition.schema,
        ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
      });
      const publisher = newBus(name, store, true);
      publishers.set(name, publisher);
      const runtime = { store, publisher, config };
      runtimes.set(name, runtime);
      await definition.init?.(runtime);
      // Its relay starts with what a crash left unsent, then publishes each commit right after it.
      await publisher.start();
      const background = await definition.background?.(runtime);
      if (background !== undefined) backgrounds.push(background);
    }
    for (const name of names) await startService(name);
    const allBuses = () =>
      new Map<string, Bus>([
        ...[...buses].map(([name, bus]) => [name, bus] as const),
        ...[...publishers].map(([name, bus]) => [`${name}.publisher`, bus] as const),
      ]);
    const routes: Route[] = [
      // Probes: /live, /ready, /health from bus.health() of every bus here.
      ...healthRoutes(allBuses, [...names, ...names.map((name) => `${name}.publisher`)]),
      {
        method: 'GET',
        path: '/metrics',
        handle: async () => ({
          status: 200,
          body: undefined,
          text: await metrics.registry.metrics(),
          headers: { 'content-type': metrics.registry.contentType },
        }),
      },
    ];
    for (const name of names) {
      const own = SERVICES[name].routes?.(runtimes.get(name)!) ?? [];
      routes.push(...own.map((route) => ({ ...route, service: name })));
    }
    http = await startHttpServer(routes, {
      port: options.port ?? 0,
      host: options.host ?? '127.0.0.1',
      fallbackToAny: options.portFallback ?? false,
    });
  } catch (error) {
    for (const name of [...buses.keys()]) await stopService(name).catch(() => undefined);
    await stopPublishers().catch(() => undefined);
    for (const runtime of runtimes.values()) await runtime.store.close().catch(() => undefined);
    await transport.close().catch(() => undefined);
    throw error;
  }

  let stopped: Promise<void> | undefined;
  return {
    url: http.url,
    dataDir: options.dataDir,
    mailDir,
    config,
    transport,
    stores: new Map([...runtimes].map(([name, runtime]) => [name, runtime.store])),
    outboxes: new Map([...runtimes].map(([name, runtime]) => [name, runtime.store])),
    isRunning: (name) => buses.has(name),
    stopService,
    startService,
    stats: () => sumStats([...retiredStats, ...[...buses.values()].map((bus) => bus.stats())]),
    stop() {
      stopped ??= (async () => {
        await http?.close();
        await Promise.all([...buses.keys()].map((name) => stopService(name)));
        await stopPublishers();
        for (const runtime of runtimes.values()) await runtime.store.close();
        await transport.close();
      })();
      return stopped;
    },
  };
}

function sumStats(all: readonly BusStats[]): BusStats {
  const total: BusStats = {
    handled: 0,
    failed: 0,
    deadLettered: 0,
    duplicatesSkipped: 0,
    published: 0,
    lateReplies: 0,
  };
  for (const stats of all) {
    for (const key of Object.keys(total) as (keyof BusStats)[]) total[key] += stats[key];
  }
  return total;
}
