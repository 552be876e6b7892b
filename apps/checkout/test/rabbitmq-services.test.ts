/**
 * The checkout as seven OS processes sharing one RabbitMQ (`HERALD_TRANSPORT=rabbitmq npm run
 * service -- <name>` each), driven through the order API, checked with the same invariants as
 * `npm start`. Needs the local RabbitMQ (CI starts it with `rabbitmq-server -detached`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RABBITMQ_URL } from '@herald/test-support';
import { deleteTopology, rabbitMqTransport } from '@herald/transport-rabbitmq';
import { registerCustomers, runLoad } from '../src/load.ts';
import { temporaryDirectory } from './helpers.ts';
import {
  assertInvariants,
  deadLettersOnTopics,
  killStragglers,
  startServices,
  stopServices,
  urlOf,
  waitForRest,
} from './support/services.ts';

const run = promisify(execFile);
const URL = RABBITMQ_URL;
const ORDERS = 120;
const CUSTOMERS = 10;
const PREFIX = `herald-test.checkout-${randomUUID().slice(0, 8)}.`;

after(async () => {
  killStragglers();
  await deleteTopology(URL, await declaredWithPrefix(PREFIX));
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

/** Dead letters of every topic this run used, read through the RabbitMQ dead-letter streams. */
async function countDeadLetters(): Promise<number> {
  const { exchanges } = await declaredWithPrefix(PREFIX);
  const topics = exchanges
    .map((name) => name.slice(PREFIX.length))
    .filter((topic) => !topic.includes(':') && !topic.endsWith('.dlq'));
  return deadLettersOnTopics(await rabbitMqTransport({ url: URL, exchangePrefix: PREFIX }), topics);
}

describe('checkout - services as separate processes on RabbitMQ', { timeout: 600_000 }, () => {
  it('seven service processes share the broker; every invariant holds after a load through the API', {
    timeout: 180_000,
  }, async (t) => {
    const dataDir = temporaryDirectory('rabbitmq');
    // Every service subscribes before any order exists: a RabbitMQ group receives what is
    // published after its queues exist.
    const services = await startServices(dataDir, {
      transport: 'rabbitmq',
      env: { HERALD_RABBITMQ_URL: URL, HERALD_RABBITMQ_PREFIX: PREFIX },
    });
    assert.ok(!services.some((service) => service.child.pid === process.pid));

    await registerCustomers(urlOf(services, 'user'), CUSTOMERS);
    const load = await runLoad({
      url: urlOf(services, 'order'),
      orders: ORDERS,
      ratePerSecond: 40,
      customers: CUSTOMERS,
      seed: 7,
    });
    assert.equal(load.accepted, ORDERS, `load failures: ${load.failures.join('; ')}`);
    await waitForRest(dataDir);

    // SIGTERM drains each service; each exits 0.
    await stopServices(services);
    assertInvariants(t, dataDir, await countDeadLetters(), ORDERS);
  });
});
