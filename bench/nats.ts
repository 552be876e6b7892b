/**
 * `npm run bench -- nats [--quick] [--json]`: Herald-on-NATS JetStream against the raw client
 * (`@nats-io/jetstream`, the one the transport uses) in the same run, on the local server
 * (`nats://127.0.0.1:4222`, or `HERALD_NATS_URL`), with 100-byte and 1 KiB payloads; the runner is
 * `bench/_transport-overhead.ts`.
 *
 * Both sides do the same server work, so the ratio measures Herald's client-side cost: the raw
 * client publishes the same messages (same subjects by murmur2, same headers) into the stream the
 * transport created and waits for each JetStream ack; it consumes through durable consumers with
 * the transport's configuration (one per partition, explicit acks, the same `max_ack_pending`),
 * pulling in the same batches, and confirms each ack with `ackAck` as the transport does.
 *
 * - Publish: 64 concurrent publishers, one message per call, each awaiting its ack, for a fixed
 *   time.
 * - Consume: the stream is purged and filled, then drained by a fresh group (Herald: one
 *   subscription, `inFlightMax` 256; raw: one pull loop per partition), timed from the first
 *   delivery to the last confirmed ack.
 *
 * The streams are deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import type { TransportMessage } from '@herald/bus';
import { natsTransport, partitionOfKey } from '@herald/transport-nats';
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { drainedTo, heraldDrainRate, type OpenedSuite, runTransportOverhead } from './_transport-overhead.ts';

const URL = process.env.HERALD_NATS_URL ?? `nats://127.0.0.1:${process.env.HERALD_NATS_PORT ?? 4222}`;
const IN_FLIGHT = 256;
const PARTITIONS = 4;
/** The transport's defaults, which the raw consumers copy. */
const ACK_PENDING_MAX = 512;
const ACK_WAIT_MS = 30_000;
const FETCH_EXPIRES_MS = 1_000;
const TOPIC = 'bench';

/** Runs the suite. */
export function run(args: string[]): Promise<void> {
  return runTransportOverhead(
    {
      name: 'nats',
      rawClient: '@nats-io/jetstream',
      open,
    },
    args,
  );
}

async function open(): Promise<OpenedSuite> {
  const prefix = `herald-bench-${randomUUID().slice(0, 8)}`;
  const transport = await natsTransport({ servers: URL, prefix, partitions: PARTITIONS });
  const nc = await connect({ servers: URL });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const stream = `${prefix}_${TOPIC}`;
  const subject = (key: string) => `${prefix}.${TOPIC}.${partitionOfKey(key, PARTITIONS)}`;
  let groups = 0;
  return {
    async prepare() {
      // Creates the stream; both sides then publish into it.
      await transport.publish(TOPIC, []);
      await transport.publish(TOPIC, [{ key: 'warm-up', headers: {}, body: new Uint8Array(1) }]);
    },
    sides(payloadBytes) {
      const body = new Uint8Array(payloadBytes).fill(7);
      const message = (index: number): TransportMessage => ({
        key: `k-${index}`,
        headers: { 'x-bench': 'yes' },
        body,
      });
      return {
        rawPublish: (index) => {
          const headers = natsHeaders();
          headers.set('x-bench', 'yes');
          headers.set('herald-key', `k-${index}`);
          return js.publish(subject(`k-${index}`), body, { headers });
        },
        heraldPublish: (index) => transport.publish(TOPIC, [message(index)]),
        beforeFill: () => jsm.streams.purge(stream),
        rawConsume: (count) => rawConsume({ js, jsm, stream, prefix }, `raw${++groups}`, count),
        heraldConsume: (count) =>
          heraldDrainRate(
            transport,
            { topic: TOPIC, group: `herald${++groups}`, inFlightMax: IN_FLIGHT },
            count,
          ),
      };
    },
    async close() {
      await transport.deletePrefix().catch(() => 0);
      await transport.close();
      await nc.close();
    },
  };
}

/** Drains `count` messages through raw durable consumers of a fresh group, one pull loop per partition. */
async function rawConsume(
  on: { js: JetStreamClient; jsm: JetStreamManager; stream: string; prefix: string },
  group: string,
  count: number,
): Promise<number> {
  for (let partition = 0; partition < PARTITIONS; partition++) {
    await on.jsm.consumers.add(on.stream, {
      durable_name: `${group}_p${partition}`,
      filter_subject: `${on.prefix}.${TOPIC}.${partition}`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ACK_WAIT_MS * 1_000_000,
      max_ack_pending: ACK_PENDING_MAX,
    });
  }
  let consumed = 0;
  const drained = drainedTo(count, () => consumed);
  let started = 0;
  let stop = false;
  const loops = Array.from({ length: PARTITIONS }, async (_, partition) => {
    const consumer = await on.js.consumers.get(on.stream, `${group}_p${partition}`);
    // Bounded by the drain: `stop` is set once every message is acked (or the drain timed out).
    while (!stop) {
      const batch = await consumer.fetch({ max_messages: ACK_PENDING_MAX, expires: FETCH_EXPIRES_MS });
      for await (const received of batch) {
        if (started === 0) started = performance.now();
        void received.ackAck().then(() => {
          consumed += 1;
          drained.check();
        });
      }
    }
  });
  try {
    await drained.done;
    return count / ((performance.now() - started) / 1000);
  } finally {
    stop = true;
    await Promise.all(loops);
  }
}
