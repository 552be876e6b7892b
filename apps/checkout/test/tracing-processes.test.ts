/**
 * One order is one trace across processes: the seven services as separate OS processes on
 * RabbitMQ, each exporting its spans to `<data>/traces-<name>.jsonl` (`HERALD_CHECKOUT_OTEL=1`).
 * The client sends a `traceparent` header; every span of the order, in every file, must be in that
 * trace, and each handler run's parent must be a send in another file or the same one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RABBITMQ_URL, requireRabbitMq, until } from '@herald/test-support';
import { deleteTopology } from '@herald/transport-rabbitmq';
import { auditedCount } from '../src/invariants.ts';
import { SERVICE_NAMES } from '../src/services/index.ts';
import { postJson, temporaryDirectory } from './helpers.ts';
import {
  killStragglers,
  startServices,
  stateOf,
  stopServices,
  urlOf,
  waitForRest,
} from './support/services.ts';

const run = promisify(execFile);
const PREFIX = `herald-test.trace-${randomUUID().slice(0, 8)}.`;

after(async () => {
  killStragglers();
  const list = async (what: 'list_queues' | 'list_exchanges') => {
    const { stdout } = await run('rabbitmqctl', [what, 'name', '--no-table-headers', '--quiet']);
    return stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((name) => name.startsWith(PREFIX));
  };
  await deleteTopology(RABBITMQ_URL, {
    exchanges: await list('list_exchanges'),
    queues: await list('list_queues'),
  });
});

interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: string;
  readonly attributes: Record<string, unknown>;
  readonly links: { spanId: string }[];
}

describe('checkout - one order is one trace across service processes', { timeout: 600_000 }, () => {
  it('seven processes on RabbitMQ, each exporting its spans: one trace id, sends parent every run', {
    timeout: 180_000,
  }, async () => {
    await requireRabbitMq();
    const dataDir = temporaryDirectory('trace-processes');
    const services = await startServices(dataDir, {
      transport: 'rabbitmq',
      env: { HERALD_RABBITMQ_URL: RABBITMQ_URL, HERALD_RABBITMQ_PREFIX: PREFIX, HERALD_CHECKOUT_OTEL: '1' },
    });
    const traceId = randomBytes(16).toString('hex');
    const headers = { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
    const customerId = 'c-processes';
    const user = await postJson(
      `${urlOf(services, 'user')}/users`,
      { customerId, name: 'Grace', email: 'grace@example.com' },
      headers,
    );
    assert.equal(user.status, 201);
    const order = await postJson(
      `${urlOf(services, 'order')}/orders`,
      { customerId, items: [{ sku: 'KB-01', quantity: 1 }] },
      headers,
    );
    assert.equal(order.status, 202);
    await waitForRest(dataDir);
    // The audit consumes last: wait until its count holds still across two polls.
    let previous = -1;
    await until(
      () => {
        const state = stateOf(dataDir, 0);
        try {
          return auditedCount(state.checkout);
        } finally {
          state.close();
        }
      },
      (count) => {
        const still = count === previous && count > 0;
        previous = count;
        return still;
      },
      'the audit log stops growing',
      30_000,
      300,
    );
    // SIGTERM drains each service, and its SDK exports what its batch processor still holds.
    await stopServices(services);

    const spans: (SpanRecord & { file: string })[] = [];
    for (const name of SERVICE_NAMES) {
      const file = join(dataDir, `traces-${name}.jsonl`);
      assert.ok(existsSync(file), `${name} wrote its spans`);
      for (const line of readFileSync(file, 'utf8').trimEnd().split('\n')) {
        spans.push({ ...(JSON.parse(line) as SpanRecord), file: name });
      }
    }
    const strays = spans.filter((span) => span.traceId !== traceId);
    assert.deepEqual(
      strays.map((span) => `${span.file}: ${span.name}`),
      [],
      'every span is in the trace',
    );
    assert.deepEqual(
      [...new Set(spans.map((span) => span.file))].sort(),
      [...SERVICE_NAMES].sort(),
      'every service process made spans of the order',
    );
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const crossings = new Set<string>();
    for (const span of spans.filter((candidate) => candidate.kind === 'CONSUMER')) {
      const parent = byId.get(span.parentSpanId ?? '');
      assert.ok(parent, `"${span.name}" in ${span.file} has its parent in the trace`);
      assert.equal(parent.kind, 'PRODUCER');
      assert.equal(
        parent.attributes['messaging.destination.name'],
        span.attributes['messaging.destination.name'],
      );
      assert.equal(span.links[0]?.spanId, parent.spanId, 'the run links its send');
      assert.equal(span.attributes['messaging.system'], 'rabbitmq');
      if (parent.file !== span.file) crossings.add(`${parent.file} -> ${span.file}`);
    }
    for (const expected of [
      'order -> inventory',
      'inventory -> order',
      'order -> payment',
      'user -> notification',
    ]) {
      assert.ok(
        crossings.has(expected),
        `a message crossed ${expected} (crossings: ${[...crossings].join(', ')})`,
      );
    }
  });
});
