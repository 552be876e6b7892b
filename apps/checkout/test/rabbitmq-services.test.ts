/**
 * The checkout as seven OS processes sharing one RabbitMQ (`HERALD_TRANSPORT=rabbitmq npm run
 * service -- <name>` each), driven through the order API, checked with the same invariants as
 * `npm start`. Unlike the other transports' tests, no fault is injected mid-run. Needs the local RabbitMQ (CI starts it with
 * `rabbitmq-server -detached`).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RABBITMQ_URL } from '@herald/test-support';
import { deleteTopology, rabbitMqTransport } from '@herald/transport-rabbitmq';
import { runCheckoutScenario } from './support/scenario.ts';
import { deadLettersOnTopics, killStragglers } from './support/services.ts';

const run = promisify(execFile);
const URL = RABBITMQ_URL;
const PREFIX = `herald-test.checkout-${randomUUID().slice(0, 8)}.`;

// The scenario kills its processes itself; this also covers a test that timed out mid-run.
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
    await runCheckoutScenario(t, {
      name: 'rabbitmq',
      services: { transport: 'rabbitmq', env: { HERALD_RABBITMQ_URL: URL, HERALD_RABBITMQ_PREFIX: PREFIX } },
      orders: 120,
      ratePerSecond: 40,
      seed: 7,
      midRun: null,
      deadLetters: async () => ({ count: countDeadLetters }),
    });
  });
});
