/**
 * The checkout distributed on Kafka: `herald serve` plus each of the seven services as its own OS
 * process (`HERALD_TRANSPORT=kafka`), driven through the order API; mid-run the inventory process
 * is killed with SIGKILL and started again. Every invariant must hold: no oversell, no lost or
 * duplicated confirmation. Run by hand: see the README ("Distributed on Kafka").
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { kafkaTransport } from '@herald/transport-kafka';
import { Admin } from '@platformatic/kafka';
import { createBus, silentLogger } from 'herald';
import type { Checkout } from '../src/app.ts';
import { checkInvariants, isQuiescent } from '../src/invariants.ts';
import { registerCustomers, runLoad } from '../src/load.ts';
import { SERVICE_NAMES, type ServiceName } from '../src/services/index.ts';
import { removeTemporaryDirectories, temporaryDirectory, waitUntil } from './helpers.ts';

const SERVICE = join(import.meta.dirname, '..', 'src', 'service.ts');
const HERALD = join(import.meta.dirname, '..', '..', '..', 'packages', 'cli', 'bin', 'herald.ts');
const ORDERS = 150;
const CUSTOMERS = 10;

interface RunningService {
  readonly name: ServiceName;
  readonly child: ChildProcess;
  readonly url: string;
  exit: Promise<number | null>;
}

const children: ChildProcess[] = [];

after(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeTemporaryDirectories();
});

/** `herald serve` on a free port; resolves with its bootstrap address once it listens. */
function startServe(dataDir: string): Promise<{ child: ChildProcess; bootstrap: string }> {
  const child = spawn(
    process.execPath,
    [HERALD, 'serve', '--port', '0', '--data', dataDir, '--partitions', '2'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`herald serve did not start: ${output}`)), 20_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /listening on [^\s]+:(\d+)/.exec(output);
      if (match === null) return;
      clearTimeout(deadline);
      resolve({ child, bootstrap: `127.0.0.1:${match[1]}` });
    });
    child.once('exit', (code) => reject(new Error(`herald serve exited with ${code}: ${output}`)));
  });
}

/** Starts `npm run service -- <name>` on Kafka as its own process; resolves once it consumes. */
function startService(name: ServiceName, dataDir: string, bootstrap: string): Promise<RunningService> {
  const child = spawn(process.execPath, [SERVICE, name, '--data', dataDir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      HERALD_TRANSPORT: 'kafka',
      HERALD_KAFKA_BROKERS: bootstrap,
      // The smallest session timeout herald serve accepts: a killed member's partitions move in 6 s.
      HERALD_KAFKA_SESSION_TIMEOUT_MS: '6000',
      HERALD_LOG_LEVEL: 'error',
      ...(process.env.HERALD_TEST_DEBUG ? { HERALD_KAFKA_DEBUG: '1' } : {}),
      NO_COLOR: '1',
    },
  });
  children.push(child);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (process.env.HERALD_TEST_DEBUG) process.stderr.write(`[${name} ${child.pid}] ${chunk}`);
  });
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(
      () => reject(new Error(`${name} did not start within 30 s; stderr: ${stderr}`)),
      30_000,
    );
    void exit.then((code) => {
      clearTimeout(deadline);
      reject(new Error(`${name} exited with ${code} before starting; stderr: ${stderr}`));
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const started = /service running on the (\S+) broker .*HTTP (http:\/\/\S+)/.exec(stdout);
      if (started === null) return;
      clearTimeout(deadline);
      if (started[1] !== 'kafka') reject(new Error(`${name} runs on ${started[1]}`));
      resolve({ name, child, url: started[2]!, exit });
    });
  });
}

/**
 * The services' state as `checkInvariants` reads it, from their SQLite files (read-only), with
 * the dead letters counted on the broker (`bus.deadLetters`, over the RabbitMQ DLQ streams).
 */
function stateOf(dataDir: string, deadLettered: number): { checkout: Checkout; close(): void } {
  const databases = new Map<ServiceName, DatabaseSync>();
  for (const name of SERVICE_NAMES) {
    databases.set(name, new DatabaseSync(join(dataDir, 'state', `${name}.sqlite`), { readOnly: true }));
  }
  const view = {
    mailDir: join(dataDir, 'mail'),
    stores: new Map([...databases].map(([name, read]) => [name, { name, read }])),
    outboxes: new Map(
      [...databases].map(([name, read]) => [
        name,
        {
          unsentCount: () =>
            (read.prepare('SELECT count(*) AS total FROM outbox WHERE sent = 0').get() as { total: number })
              .total,
        },
      ]),
    ),
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

/** Dead letters of every topic on the run's broker, read through `bus.deadLetters`. */
async function countDeadLetters(bootstrap: string): Promise<number> {
  const admin = new Admin({ clientId: 'checkout-test', bootstrapBrokers: [bootstrap] });
  const topics = (await admin.listTopics()).filter((topic) => !topic.endsWith('.dlq'));
  await admin.close();
  assert.ok(topics.includes('orders') && topics.includes('commands.ReserveInventory'), topics.join(', '));
  const transport = await kafkaTransport({ brokers: [bootstrap] });
  const bus = createBus({ transport, logger: silentLogger });
  try {
    let total = 0;
    for (const topic of topics) total += (await bus.deadLetters.list({ topic })).length;
    return total;
  } finally {
    await bus.stop();
  }
}

describe('checkout - services as separate processes on Kafka (herald serve)', () => {
  it('seven service processes on herald serve; inventory killed -9 and restarted mid-run; every invariant holds', {
    timeout: 120_000,
  }, async (t) => {
    const dataDir = temporaryDirectory('kafka');
    const serve = await startServe(join(dataDir, 'kafka'));
    const services = await Promise.all(
      SERVICE_NAMES.map((name) => startService(name, dataDir, serve.bootstrap)),
    );
    const pids = new Set(services.map((service) => service.child.pid));
    assert.equal(pids.size, SERVICE_NAMES.length, 'one OS process per service');
    const urlOf = (name: ServiceName) => services.find((service) => service.name === name)!.url;

    await registerCustomers(urlOf('user'), CUSTOMERS);
    // Mid-run: kill -9 the inventory process once a third of the orders are in, then start it
    // again on the same data.
    const third = Promise.withResolvers<void>();
    const load = runLoad({
      url: urlOf('order'),
      orders: ORDERS,
      ratePerSecond: 50,
      customers: CUSTOMERS,
      seed: 11,
      onProgress: (progress) => {
        if (progress.accepted >= ORDERS / 3) third.resolve();
      },
    });
    await Promise.race([third.promise, load]);
    const inventoryIndex = services.findIndex((service) => service.name === 'inventory');
    const inventory = services[inventoryIndex]!;
    inventory.child.kill('SIGKILL');
    assert.equal(await inventory.exit, null, 'inventory died of SIGKILL');
    t.diagnostic(`inventory (pid ${inventory.child.pid}) killed with SIGKILL mid-run`);
    services[inventoryIndex] = await startService('inventory', dataDir, serve.bootstrap);
    t.diagnostic(`inventory restarted as pid ${services[inventoryIndex]!.child.pid}`);

    const result = await load;
    assert.equal(result.accepted, ORDERS, `load failures: ${result.failures.join('; ')}`);
    await waitUntil(
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
    ).catch((error: unknown) => {
      const state = stateOf(dataDir, 0);
      try {
        const { invariants } = checkInvariants(state.checkout, { expectedOrders: ORDERS });
        const failing = invariants.filter((invariant) => !invariant.holds);
        throw new Error(`${(error as Error).message}; failing: ${JSON.stringify(failing)}`);
      } finally {
        state.close();
      }
    });

    for (const service of services) service.child.kill('SIGTERM');
    const codes = await Promise.all(services.map((service) => service.exit));
    assert.deepEqual(
      codes,
      SERVICE_NAMES.map(() => 0),
      'every service stopped cleanly',
    );

    const deadLettered = await countDeadLetters(serve.bootstrap);
    const state = stateOf(dataDir, deadLettered);
    try {
      const { facts, invariants } = checkInvariants(state.checkout, { expectedOrders: ORDERS });
      for (const invariant of invariants) {
        t.diagnostic(`${invariant.holds ? '✔ holds' : '✖ FAILS'}  ${invariant.name}: ${invariant.detail}`);
      }
      assert.deepEqual(
        invariants.filter((invariant) => !invariant.holds),
        [],
        'every invariant holds',
      );
      assert.equal(facts.orders.confirmed + facts.orders.cancelled, ORDERS);
      assert.ok(facts.orders.confirmed > 0 && facts.audit.entries > ORDERS, 'the saga ran across processes');
    } finally {
      state.close();
    }
    serve.child.kill('SIGTERM');
  });
});
