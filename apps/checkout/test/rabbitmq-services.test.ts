/**
 * The checkout as seven OS processes sharing one RabbitMQ (`HERALD_TRANSPORT=rabbitmq npm run
 * service -- <name>` each), driven through the order API, checked with the same invariants as
 * `npm start`. Needs the local RabbitMQ (CI starts it with `rabbitmq-server -detached`).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { deleteTopology, rabbitMqTransport } from '@herald/transport-rabbitmq';
import { createBus, silentLogger } from 'herald';
import type { Checkout } from '../src/app.ts';
import { checkInvariants, isQuiescent } from '../src/invariants.ts';
import { registerCustomers, runLoad } from '../src/load.ts';
import { SERVICE_NAMES, type ServiceName } from '../src/services/index.ts';
import { DEFAULT_RABBITMQ_URL } from '../src/transport.ts';
import { removeTemporaryDirectories, temporaryDirectory, waitUntil } from './helpers.ts';

const run = promisify(execFile);
const SERVICE = join(import.meta.dirname, '..', 'src', 'service.ts');
const URL = process.env.HERALD_RABBITMQ_URL ?? DEFAULT_RABBITMQ_URL;
const ORDERS = 120;
const CUSTOMERS = 10;
const PREFIX = `herald-test.checkout-${randomUUID().slice(0, 8)}.`;

interface RunningService {
  readonly name: ServiceName;
  readonly child: ChildProcess;
  readonly url: string;
  exit: Promise<number | null>;
}

const children: ChildProcess[] = [];

after(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await deleteTopology(URL, await declaredWithPrefix(PREFIX));
  removeTemporaryDirectories();
});

/** Every exchange and queue on the broker whose name starts with `prefix` (this run's only). */
async function declaredWithPrefix(prefix: string): Promise<{ exchanges: string[]; queues: string[] }> {
  const list = async (what: 'list_queues' | 'list_exchanges') => {
    const { stdout } = await run('rabbitmqctl', [what, 'name', '--no-table-headers', '--quiet']);
    return stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((name) => name.startsWith(prefix));
  };
  return { exchanges: await list('list_exchanges'), queues: await list('list_queues') };
}

/** Starts `npm run service -- <name>` as its own process; resolves once it consumes. */
function startService(name: ServiceName, dataDir: string): Promise<RunningService> {
  const child = spawn(process.execPath, [SERVICE, name, '--data', dataDir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      HERALD_TRANSPORT: 'rabbitmq',
      HERALD_RABBITMQ_URL: URL,
      HERALD_RABBITMQ_PREFIX: PREFIX,
      HERALD_LOG_LEVEL: 'error',
      NO_COLOR: '1',
    },
  });
  children.push(child);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
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
      if (started[1] !== 'rabbitmq') reject(new Error(`${name} runs on ${started[1]}`));
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

/** Dead letters of every topic this run used, read through the RabbitMQ dead-letter streams. */
async function countDeadLetters(): Promise<number> {
  const { exchanges } = await declaredWithPrefix(PREFIX);
  const topics = exchanges
    .map((name) => name.slice(PREFIX.length))
    .filter((topic) => !topic.includes(':') && !topic.endsWith('.dlq'));
  assert.ok(topics.includes('orders') && topics.includes('commands.ReserveInventory'), topics.join(', '));
  const transport = await rabbitMqTransport({ url: URL, exchangePrefix: PREFIX });
  const bus = createBus({ transport, logger: silentLogger });
  try {
    let total = 0;
    for (const topic of topics) total += (await bus.deadLetters.list({ topic })).length;
    return total;
  } finally {
    await bus.stop();
  }
}

describe('checkout - services as separate processes on RabbitMQ', () => {
  it('seven service processes share the broker; every invariant holds after a load through the API', {
    timeout: 180_000,
  }, async (t) => {
    const dataDir = temporaryDirectory('rabbitmq');
    // Every service subscribes before any order exists: a RabbitMQ group receives what is
    // published after its queues exist.
    const services = await Promise.all(SERVICE_NAMES.map((name) => startService(name, dataDir)));
    const pids = new Set(services.map((service) => service.child.pid));
    assert.equal(pids.size, SERVICE_NAMES.length, 'one OS process per service');
    assert.ok(!pids.has(process.pid));
    const urlOf = (name: ServiceName) => services.find((service) => service.name === name)!.url;

    await registerCustomers(urlOf('user'), CUSTOMERS);
    const load = await runLoad({
      url: urlOf('order'),
      orders: ORDERS,
      ratePerSecond: 40,
      customers: CUSTOMERS,
      seed: 7,
    });
    assert.equal(load.accepted, ORDERS, `load failures: ${load.failures.join('; ')}`);
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
    );

    // SIGTERM drains each service; each exits 0.
    for (const service of services) service.child.kill('SIGTERM');
    const codes = await Promise.all(services.map((service) => service.exit));
    assert.deepEqual(
      codes,
      SERVICE_NAMES.map(() => 0),
      'every service stopped cleanly',
    );

    const deadLettered = await countDeadLetters();
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
  });
});
