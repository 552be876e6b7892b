/**
 * What the transport creates on the server and what it refuses, as the README's "Mapping" and
 * "Errors" promise: a topic's stream and a group's durable consumers with the documented settings
 * (read back from the server, so a foreign client sees the same), reserved header names, and a
 * stream of another owner capturing the topic's subjects.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { ConfigurationError, TransportError } from '@herald/bus';
import { AckPolicy, DeliverPolicy, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NATS_URL, requireNats, TestTransports } from './support.ts';

await requireNats();

const NANOS_PER_MS = 1_000_000;

describe('nats transport - topology', { timeout: 60_000 }, () => {
  const transports = new TestTransports();
  after(() => transports.cleanUp());

  it('topology - a topic is a file stream with limits retention and the duplicate window; a group one explicit-ack consumer per partition', async () => {
    const transport = await transports.open({
      partitions: 3,
      streamBytesMax: 2 ** 21,
      streamAgeMsMax: 120_000,
      duplicateWindowMs: 30_000,
      ackWaitMs: 4_000,
      ackPendingMax: 17,
      deliveriesMax: 7,
    });
    const subscription = await transport.subscribe(
      { topic: 'topo.orders', group: 'bill_ing', inFlightMax: 1 },
      async (message) => message.ack(),
    );
    await subscription.close();
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      // `.` → `_d` and `_` → `__`: stream and consumer names take no dots.
      const stream = `${transports.prefix}_topo_dorders`;
      const { config } = await jsm.streams.info(stream);
      assert.deepEqual(config.subjects, [`${transports.prefix}.topo.orders.*`]);
      assert.equal(config.storage, StorageType.File);
      assert.equal(config.retention, RetentionPolicy.Limits);
      assert.equal(config.max_bytes, 2 ** 21);
      assert.equal(config.max_age, 120_000 * NANOS_PER_MS);
      assert.equal(config.duplicate_window, 30_000 * NANOS_PER_MS);
      const consumers: string[] = [];
      for await (const consumer of jsm.consumers.list(stream)) consumers.push(consumer.name);
      assert.deepEqual(consumers.sort(), ['bill__ing_p0', 'bill__ing_p1', 'bill__ing_p2']);
      for (let partition = 0; partition < 3; partition++) {
        const info = await jsm.consumers.info(stream, `bill__ing_p${partition}`);
        assert.equal(info.config.filter_subject, `${transports.prefix}.topo.orders.${partition}`);
        assert.equal(info.config.ack_policy, AckPolicy.Explicit);
        assert.equal(info.config.deliver_policy, DeliverPolicy.All);
        assert.equal(info.config.ack_wait, 4_000 * NANOS_PER_MS);
        assert.equal(info.config.max_ack_pending, 17);
        assert.equal(info.config.max_deliver, 7);
      }
    } finally {
      await nc.close();
    }
  });

  it('headers - names starting with herald-, nats- or ce- are reserved: a TransportError naming the rule', async () => {
    const transport = await transports.open();
    for (const name of ['herald-key', 'Nats-Msg-Id', 'ce-id']) {
      await assert.rejects(
        transport.publish('reserved', [{ headers: { [name]: 'x' }, body: new Uint8Array(1) }]),
        (error: unknown) => {
          assert.ok(error instanceof TransportError, `${name}: ${String(error)}`);
          assert.match(error.message, /herald-.*nats-.*ce-/);
          return true;
        },
      );
    }
  });

  it('errors - a stream of another owner capturing the topic’s subjects is a ConfigurationError saying what to change', async () => {
    const transport = await transports.open();
    const nc = await connect({ servers: NATS_URL });
    const foreign = `foreign_${randomUUID().slice(0, 8)}`;
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.add({ name: foreign, subjects: [`${transports.prefix}.clash.*`] });
      await assert.rejects(
        transport.publish('clash', [{ headers: {}, body: new Uint8Array(1) }]),
        (error: unknown) => {
          assert.ok(error instanceof ConfigurationError, String(error));
          assert.match(
            error.message,
            /overlapping subjects .*make prefix and partitions match it, or delete it/,
          );
          return true;
        },
      );
    } finally {
      // Not under the test prefix, so cleanUp() would leave it: removed here even on failure.
      await jsm.streams.delete(foreign).catch(() => undefined);
      await nc.close();
    }
  });
});
