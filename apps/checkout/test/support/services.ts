/**
 * The checkout's seven services as separate OS processes (`npm run service -- <name>`), shared by
 * the distributed tests on each transport: start them, wait for their URLs, wait for the system to
 * come to rest, stop them with SIGTERM and check every invariant on their SQLite state.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { TestContext } from 'node:test';
import { eventually, spawnChild } from '@herald/test-support';
import { createBus, silentLogger, type Transport } from 'herald';
import type { Checkout } from '../../src/app.ts';
import { checkInvariants, isQuiescent } from '../../src/invariants.ts';
import { SERVICE_NAMES, type ServiceName } from '../../src/services/index.ts';
import { unsentCount } from '../../src/store.ts';

const SERVICE = join(import.meta.dirname, '..', '..', 'src', 'service.ts');

/** A service process that printed its HTTP URL. */
export interface RunningService {
  readonly name: ServiceName;
  readonly child: ChildProcess;
  readonly url: string;
  exit: Promise<number | null>;
}

/** How to run the services on one transport. */
export interface ServiceOptions {
  /** The broker each service must report it runs on (`HERALD_TRANSPORT`). */
  readonly transport: string;
  /** Transport settings added to the environment (broker address, prefix, ...). */
  readonly env: NodeJS.ProcessEnv;
  /** Echo each service's stderr when `HERALD_TEST_DEBUG` is set. */
  readonly debug?: boolean;
}

const children: ChildProcess[] = [];

/** Remembers `child` for {@link killStragglers}. */
export function track(child: ChildProcess): void {
  children.push(child);
}

/** SIGKILLs every tracked process still running (for an `after` hook). */
export function killStragglers(): void {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * Longest wait for a service to say it runs: 60 s. Seven services joining their groups at once
 * (every one joins the scheduler's shared group) on Kafka may take one rebalance timeout (30 s)
 * on a loaded machine, where a CI run saw more than 30 s.
 */
const SERVICE_START_TIMEOUT_MS = 60_000;

/** Starts `npm run service -- <name>` as its own process; resolves once it consumes. */
export async function startService(
  name: ServiceName,
  dataDir: string,
  options: ServiceOptions,
): Promise<RunningService> {
  const service = spawnChild(process.execPath, [SERVICE, name, '--data', dataDir, '--port', '0'], {
    env: {
      HERALD_TRANSPORT: options.transport,
      ...options.env,
      HERALD_LOG_LEVEL: 'error',
      NO_COLOR: '1',
    },
  });
  const child = service.process;
  track(child);
  if (options.debug && process.env.HERALD_TEST_DEBUG) {
    child.stderr!.on('data', (chunk: string) => process.stderr.write(`[${name} ${child.pid}] ${chunk}`));
  }
  const started = await service.waitForLine(
    /service running on the (\S+) broker .*HTTP (http:\/\/\S+)/,
    SERVICE_START_TIMEOUT_MS,
    `${name} to start`,
  );
  if (started[1] !== options.transport) throw new Error(`${name} runs on ${started[1]}`);
  return { name, child, url: started[2]!, exit: service.exited };
}

/** Starts every service (one OS process each, asserted) and resolves once all consume. */
export async function startServices(dataDir: string, options: ServiceOptions): Promise<RunningService[]> {
  const services = await Promise.all(SERVICE_NAMES.map((name) => startService(name, dataDir, options)));
  const pids = new Set(services.map((service) => service.child.pid));
  assert.equal(pids.size, SERVICE_NAMES.length, 'one OS process per service');
  return services;
}

/** The HTTP URL of service `name`. */
export function urlOf(services: readonly RunningService[], name: ServiceName): string {
  return services.find((service) => service.name === name)!.url;
}

/**
 * The services' state as `checkInvariants` reads it, from their SQLite files (read-only), with
 * the dead letters counted on the broker (`bus.deadLetters`, over the RabbitMQ DLQ streams).
 */
export function stateOf(dataDir: string, deadLettered: number): { checkout: Checkout; close(): void } {
  const databases = new Map<ServiceName, DatabaseSync>();
  for (const name of SERVICE_NAMES) {
    databases.set(name, new DatabaseSync(join(dataDir, 'state', `${name}.sqlite`), { readOnly: true }));
  }
  const view = {
    mailDir: join(dataDir, 'mail'),
    stores: new Map([...databases].map(([name, read]) => [name, { name, read }])),
    outboxes: new Map([...databases].map(([name, read]) => [name, { unsentCount: () => unsentCount(read) }])),
    stats: () => ({
      handled: 0,
      failed: 0,
      deadLettered,
      duplicatesSkipped: 0,
      published: 0,
      lateReplies: 0,
    }),
  };
  return {
    checkout: view as unknown as Checkout,
    close: () => {
      for (const database of databases.values()) database.close();
    },
  };
}

/**
 * Waits (60 s) until every service is at rest. With `explainFailure: true` (and `orders`), a
 * timeout names the invariants failing at that moment.
 */
export async function waitForRest(
  dataDir: string,
  options: { explainFailure?: boolean; orders?: number } = {},
): Promise<void> {
  const rest = eventually(
    () => {
      const state = stateOf(dataDir, 0);
      try {
        return isQuiescent(state.checkout);
      } finally {
        state.close();
      }
    },
    'every service to come to rest',
    60_000,
  );
  if (!options.explainFailure) return rest;
  return rest.catch((error: unknown) => {
    const state = stateOf(dataDir, 0);
    try {
      const { invariants } = checkInvariants(state.checkout, { expectedOrders: options.orders! });
      const failing = invariants.filter((invariant) => !invariant.holds);
      throw new Error(`${(error as Error).message}; failing: ${JSON.stringify(failing)}`);
    } finally {
      state.close();
    }
  });
}

/** SIGTERM drains each service; asserts each exits 0. */
export async function stopServices(services: readonly RunningService[]): Promise<void> {
  for (const service of services) service.child.kill('SIGTERM');
  const codes = await Promise.all(services.map((service) => service.exit));
  assert.deepEqual(
    codes,
    SERVICE_NAMES.map(() => 0),
    'every service stopped cleanly',
  );
}

/** Reports every invariant as a diagnostic and asserts they all hold for `orders` orders. */
export function assertInvariants(
  t: TestContext,
  dataDir: string,
  deadLettered: number,
  orders: number,
): void {
  const state = stateOf(dataDir, deadLettered);
  try {
    const { facts, invariants } = checkInvariants(state.checkout, { expectedOrders: orders });
    for (const invariant of invariants) {
      t.diagnostic(`${invariant.holds ? '✔ holds' : '✖ FAILS'}  ${invariant.name}: ${invariant.detail}`);
    }
    assert.deepEqual(
      invariants.filter((invariant) => !invariant.holds),
      [],
      'every invariant holds',
    );
    assert.equal(facts.orders.confirmed + facts.orders.cancelled, orders);
    assert.ok(facts.orders.confirmed > 0 && facts.audit.entries > orders, 'the saga ran across processes');
  } finally {
    state.close();
  }
}

/**
 * Counts the dead letters of every topic of the run through `bus.deadLetters` on `transport`,
 * after checking the run's main topics exist; closes the transport.
 */
export async function deadLettersOnTopics(transport: Transport, topics: readonly string[]): Promise<number> {
  assert.ok(topics.includes('orders') && topics.includes('commands.ReserveInventory'), topics.join(', '));
  const bus = createBus({ transport, logger: silentLogger });
  try {
    let total = 0;
    for (const topic of topics) total += (await bus.deadLetters.list({ topic })).length;
    return total;
  } finally {
    await bus.stop();
  }
}
