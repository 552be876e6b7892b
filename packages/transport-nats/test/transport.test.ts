/**
 * NATS-specific behaviour beyond the conformance suite, against the shared server: de-duplication
 * by CloudEvents id, the wire format foreign clients see, partitions spread over a group's members,
 * a crashed member's partitions and unacked messages taken over in per-key order, option and
 * connection errors.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { ConfigurationError, TransportError } from '@herald/bus';
import { partitionForKey, publishIdentity } from '@herald/bus/internal';
import { withDeadline } from '@herald/bus/testing';
import {
  assertNoDuplicates,
  assertOrderedPerKey,
  Collector,
  eventually,
  makeMessages,
  quiet,
} from '@herald/conformance';
import { natsTransport } from '@herald/transport-nats';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { NATS_URL, requireNats, TestTransports } from './support.ts';

await requireNats();

describe('nats transport', { timeout: 180_000 }, () => {
  const transports = new TestTransports();
  after(() => transports.cleanUp());

  it('dedup - an exact copy published again is stored once; the same CloudEvents id with other headers is another message', async () => {
    const transport = await transports.open();
    const collector = new Collector();
    await transport.subscribe({ topic: 'dedup', group: 'g', inFlightMax: 4 }, collector.handler);
    const [first] = makeMessages(1, 'once');
    const copy = { ...first!, headers: { ...first!.headers, ce_id: 'id-1' } };
    await transport.publish('dedup', [copy]);
    await transport.publish('dedup', [copy]);
    // As a redrive re-publishes a dead letter: its event's id, one header more.
    const redriven = { ...copy, headers: { ...copy.headers, 'x-conformance-id': 'redriven-0' } };
    await transport.publish('dedup', [redriven]);
    await transport.publish('dedup', makeMessages(1, 'marker'));
    await collector.waitAcked(['once-0', 'redriven-0', 'marker-0']);
    await quiet(() => collector.deliveries.length, 'the subscriber');
    assert.deepEqual(collector.acked.sort(), ['marker-0', 'once-0', 'redriven-0']);
    assert.equal(transport.stats().duplicates, 1);
    // Declared, so the conformance suite expects the broker (not the consumer) to drop the copy.
    assert.match(transport.features.publishDeduplication ?? '', /Nats-Msg-Id .*\(2 min\)/);
  });

  it('dedup - with duplicateWindowMs 0 no message id is sent: the copy is stored and delivered, and no publishDeduplication is declared', async () => {
    const transport = await transports.open({ duplicateWindowMs: 0 });
    assert.equal(transport.features.publishDeduplication, undefined);
    const collector = new Collector();
    await transport.subscribe({ topic: 'no-dedup', group: 'g', inFlightMax: 4 }, collector.handler);
    const [first] = makeMessages(1, 'twice');
    const copy = { ...first!, headers: { ...first!.headers, ce_id: 'id-2' } };
    await transport.publish('no-dedup', [copy]);
    await transport.publish('no-dedup', [copy]);
    await eventually(
      () => collector.acked.length === 2,
      () => `both copies acked (have ${collector.acked.join(', ')})`,
    );
    assert.deepEqual(collector.acked, ['twice-0', 'twice-0']);
    assert.equal(transport.stats().duplicates, 0);
  });

  it('wire - subjects are <prefix>.<topic>.<partition> by murmur2; CloudEvents travel as ce- headers, the key as herald-key', async () => {
    const transport = await transports.open({ partitions: 8 });
    const nc = await connect({ servers: NATS_URL });
    try {
      const received: { subject: string; headers: Record<string, string> }[] = [];
      const raw = nc.subscribe(`${transports.prefix}.wire.orders.*`, {
        callback: (_error, message) => {
          const headers: Record<string, string> = {};
          for (const name of message.headers?.keys() ?? []) headers[name] = message.headers!.get(name);
          received.push({ subject: message.subject, headers });
        },
      });
      await nc.flush();
      const sent = {
        key: 'customer-42',
        headers: {
          ce_id: 'event-1',
          ce_type: 'OrderPlaced',
          'x-stack': 'line 1\nline 2',
          'x-conformance-id': 'event-1',
        },
        body: new Uint8Array([1]),
      };
      await transport.publish('wire.orders', [sent]);
      await eventually(
        () => received.length === 1,
        () => 'the raw subscriber to see the message',
      );
      raw.unsubscribe();
      const [seen] = received;
      assert.equal(seen!.subject, `${transports.prefix}.wire.orders.${partitionForKey('customer-42', 8)}`);
      assert.equal(seen!.headers['ce-id'], 'event-1');
      assert.equal(seen!.headers['ce-type'], 'OrderPlaced');
      assert.equal(seen!.headers['herald-key'], 'customer-42');
      // The digest of id, key, headers and body: only an exact copy is dropped as a duplicate.
      assert.equal(seen!.headers['Nats-Msg-Id'], publishIdentity(sent));
      assert.equal(decodeURIComponent(seen!.headers['x-stack']!), 'line 1\nline 2');

      // A foreign producer publishing with ce- headers reaches a Herald group as ce_ headers.
      const collector = new Collector();
      await transport.subscribe({ topic: 'wire.orders', group: 'reader', inFlightMax: 4 }, collector.handler);
      const js = (await jetstreamManager(nc)).jetstream();
      const foreign = natsHeaders();
      foreign.set('ce-id', 'foreign-1');
      foreign.set('x-conformance-id', 'foreign-1');
      await js.publish(`${transports.prefix}.wire.orders.0`, new Uint8Array([2]), { headers: foreign });
      await collector.waitAcked(['foreign-1', 'event-1']);
      const delivered = collector.deliveries.find((message) => message.headers.ce_id === 'foreign-1')!;
      assert.equal(delivered.headers.ce_id, 'foreign-1');
      assert.equal(delivered.key, undefined);
      const stacked = collector.deliveries.find((message) => message.headers.ce_id === 'event-1');
      assert.equal(stacked?.headers['x-stack'], 'line 1\nline 2', 'a value with line breaks round-trips');
    } finally {
      await nc.close();
    }
  });

  it('members - the partitions of a group are spread over its members; a partition moves whole, once', async () => {
    const first = await transports.open({ partitions: 4 });
    const second = await transports.open({ partitions: 4 });
    // Every delivery of both members in one timeline: which member read which partition when.
    const timeline: { member: string; partition: number }[] = [];
    const collector = (member: string) =>
      new Collector((message) => {
        timeline.push({ member, partition: message.partition });
        return 'ack';
      });
    const a = collector('a');
    const b = collector('b');
    await first.subscribe({ topic: 'spread', group: 'g', inFlightMax: 8 }, a.handler);
    // Half published while the second member joins (the first one hands half its partitions over
    // meanwhile), half once its subscribe resolved (it then holds its share).
    const messages = makeMessages(200, 's', (index) => `k${index % 40}`);
    const publishing = (async () => {
      for (let start = 0; start < 100; start += 20) {
        await first.publish('spread', messages.slice(start, start + 20));
      }
    })();
    await second.subscribe({ topic: 'spread', group: 'g', inFlightMax: 8 }, b.handler);
    await publishing;
    for (let start = 100; start < 200; start += 20) {
      await first.publish('spread', messages.slice(start, start + 20));
    }
    await eventually(
      () => new Set([...a.acked, ...b.acked]).size === 200,
      () => `both members to ack 200 messages (${a.ackedIds().size} + ${b.ackedIds().size})`,
    );
    await quiet(() => timeline.length, 'both members');
    assert.ok(a.acked.length > 0 && b.acked.length > 0, `shared: ${a.acked.length} and ${b.acked.length}`);
    assertNoDuplicates([...a.acked, ...b.acked], 'acked by the two members');
    for (let partition = 0; partition < 4; partition++) {
      const readers = timeline.filter((entry) => entry.partition === partition).map((entry) => entry.member);
      const switches = readers.filter((member, index) => index > 0 && member !== readers[index - 1]).length;
      assert.ok(
        switches <= 1,
        `partition ${partition} went back and forth between members: ${readers.join('')}`,
      );
    }
  });

  it('member crash - a killed member’s partitions and unacked messages go to the others, in per-key order', async (t) => {
    const topic = 'crash.member';
    const survivor = await transports.open({ ackWaitMs: 2_000 });
    // The group's consumers and streams exist before the child joins (it would create them too).
    const collector = new Collector();
    const child = spawn(
      process.execPath,
      [new URL('./member-crash-child.ts', import.meta.url).pathname, topic, 'workers'],
      {
        env: { ...process.env, HERALD_NATS_URL: NATS_URL, HERALD_NATS_PREFIX: transports.prefix },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const held: string[] = [];
      const ready = Promise.withResolvers<void>();
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line === 'ready') ready.resolve();
        else if (line.startsWith('held ')) held.push(line.slice(5));
      });
      child.once('exit', (code) => ready.reject(new Error(`the child member exited (${code}) before ready`)));
      await withDeadline(ready.promise, 30_000, 'the child member to subscribe');
      // The child alone holds every partition: it receives (and holds) everything published now.
      const messages = makeMessages(60, 'm', (index) => `k${index % 6}`);
      await survivor.publish(topic, messages);
      await eventually(
        () => held.length >= 6,
        () => `the child to hold the heads of the keys (holds ${held.length})`,
      );
      child.kill('SIGKILL');
      await exited;
      t.diagnostic(`child member killed with SIGKILL holding ${held.length} messages`);
      // Published after the crash, on the same keys: they must come after the held ones.
      const later = makeMessages(30, 'late', (index) => `k${index % 6}`, 60);
      await survivor.publish(topic, later);
      await survivor.subscribe({ topic, group: 'workers', inFlightMax: 16 }, collector.handler);
      await eventually(
        () => collector.ackedIds().size === 90,
        () => `the survivor to ack all 90 messages (has ${collector.ackedIds().size})`,
        30_000,
      );
      assertOrderedPerKey(collector.deliveries, 'after the member crash');
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('options - a bad option or a topic that is no valid subject is a ConfigurationError naming it', async () => {
    await assert.rejects(natsTransport({ partitions: 0 }), /partitions must be an integer from 1 to 64/);
    await assert.rejects(natsTransport({ prefix: 'has.dot' }), ConfigurationError);
    await assert.rejects(natsTransport({ deliveriesMax: 1 }), /deliveriesMax/);
    await assert.rejects(natsTransport({ messageBytesMax: 2_000_000, servers: NATS_URL }), /max_payload/);
    const transport = await transports.open();
    await assert.rejects(
      transport.publish('a..b', [{ headers: {}, body: new Uint8Array(1) }]),
      (error: unknown) => error instanceof ConfigurationError && /empty token/.test(error.message),
    );
    await assert.rejects(
      transport.publish('fine', [{ headers: { 'bad name': 'x' }, body: new Uint8Array(1) }]),
      TransportError,
    );
  });

  it('connect - no server within connectTimeoutMs is a retriable TransportError saying how to start one', async () => {
    const startedMs = performance.now();
    await assert.rejects(
      natsTransport({ servers: 'nats://127.0.0.1:1', connectTimeoutMs: 1_000 }),
      (error: unknown) => {
        assert.ok(error instanceof TransportError, String(error));
        assert.equal(error.retriable, true);
        assert.match(error.message, /nats-server/);
        return true;
      },
    );
    const waitedMs = performance.now() - startedMs;
    assert.ok(waitedMs >= 900 && waitedMs < 10_000, `gave up after about 1 s (${Math.round(waitedMs)} ms)`);
  });
});
