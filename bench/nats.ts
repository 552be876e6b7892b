/**
 * `npm run bench -- nats [--quick] [--json]`: Herald-on-NATS JetStream against the raw client
 * (`@nats-io/jetstream`, the one the transport uses) in the same run, on the local server
 * (`nats://127.0.0.1:4222`, or `HERALD_NATS_URL`), with 100-byte and 1 KiB payloads.
 *
 * Both sides do the same server work, so the ratio measures Herald's client-side cost: the raw
 * client publishes the same messages (same subjects by murmur2, same headers) into the stream the
 * transport created and waits for each JetStream ack; it consumes through durable consumers with
 * the transport's configuration (one per partition, explicit acks, the same `max_ack_pending`),
 * pulling in the same batches, and confirms each ack with `ackAck` as the transport does.
 *
 * Full runs alternate the order of the two sides over 3 rounds and report each side's median.
 *
 * - Publish: 64 concurrent publishers, one message per call, each awaiting its ack, for a fixed
 *   time.
 * - Consume: the stream is purged and filled, then drained by a fresh group (Herald: one
 *   subscription, `inFlightMax` 256; raw: one pull loop per partition), timed from the first
 *   delivery to the last confirmed ack.
 *
 * Markdown table on stdout (or JSON with `--json`), progress on stderr. The streams are deleted at
 * the end.
 */
import { randomUUID } from 'node:crypto';
import type { TransportMessage } from '@herald/bus';
import { natsTransport, partitionOfKey } from '@herald/transport-nats';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { median, parseBenchArgs, progressLine } from './_common.ts';

const URL = process.env.HERALD_NATS_URL ?? `nats://127.0.0.1:${process.env.HERALD_NATS_PORT ?? 4222}`;
const PAYLOAD_BYTES = [100, 1024] as const;
const PUBLISHERS = 64;
const IN_FLIGHT = 256;
const PARTITIONS = 4;
/** The transport's defaults, which the raw consumers copy. */
const ACK_PENDING_MAX = 512;
const ACK_WAIT_MS = 30_000;
const FETCH_EXPIRES_MS = 1_000;
const TOPIC = 'bench';
/** Most time a consume measurement may take before the benchmark fails. */
const CONSUME_TIMEOUT_MS = 120_000;
/** Messages filled per ack wait while preparing a consume measurement. */
const FILL_BATCH = 500;
/** The target: Herald's rate at least this share of the raw client's. */
const RATIO_TARGET = 0.85;

interface Row {
  readonly operation: 'publish' | 'consume';
  readonly payloadBytes: number;
  readonly rawPerSecond: number;
  readonly heraldPerSecond: number;
  readonly ratio: number;
  readonly overheadPercent: number;
}

function progress(text: string): void {
  progressLine('nats', text);
}

/** Runs {@link PUBLISHERS} loops of `publishOnce` for `durationMs`; returns messages per second. */
async function publishRate(
  durationMs: number,
  publishOnce: (index: number) => Promise<unknown>,
): Promise<number> {
  let sent = 0;
  const started = performance.now();
  const stopAt = started + durationMs;
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async () => {
      // Bounded by time.
      while (performance.now() < stopAt) await publishOnce(sent++);
    }),
  );
  return sent / ((performance.now() - started) / 1000);
}

/** Resolves once `count()` reaches `target`, checked on every confirmed ack; fails after the timeout. */
function drainedTo(target: number, count: () => number): { check(): void; done: Promise<void> } {
  const done = Promise.withResolvers<void>();
  const timer = setTimeout(
    () => done.reject(new Error(`consumed ${count()} of ${target} within ${CONSUME_TIMEOUT_MS} ms`)),
    CONSUME_TIMEOUT_MS,
  );
  return {
    check() {
      if (count() >= target) {
        clearTimeout(timer);
        done.resolve();
      }
    },
    done: done.promise,
  };
}

export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const publishMs = quick ? 1_500 : 5_000;
  const consumeCount = quick ? 5_000 : 50_000;
  const rounds = quick ? 1 : 3;
  const prefix = `herald-bench-${randomUUID().slice(0, 8)}`;
  const transport = await natsTransport({ servers: URL, prefix, partitions: PARTITIONS });
  const nc = await connect({ servers: URL });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const stream = `${prefix}_${TOPIC}`;
  const subject = (key: string) => `${prefix}.${TOPIC}.${partitionOfKey(key, PARTITIONS)}`;
  const rows: Row[] = [];
  let groups = 0;
  try {
    // Creates the stream; both sides then publish into it.
    await transport.publish(TOPIC, []);
    await transport.publish(TOPIC, [{ key: 'warm-up', headers: {}, body: new Uint8Array(1) }]);
    for (const payloadBytes of PAYLOAD_BYTES) {
      const body = new Uint8Array(payloadBytes).fill(7);
      const message = (index: number): TransportMessage => ({
        key: `k-${index}`,
        headers: { 'x-bench': 'yes' },
        body,
      });
      const rawPublish = (index: number) => {
        const headers = natsHeaders();
        headers.set('x-bench', 'yes');
        headers.set('herald-key', `k-${index}`);
        return js.publish(subject(`k-${index}`), body, { headers });
      };
      const fill = async () => {
        await jsm.streams.purge(stream);
        for (let start = 0; start < consumeCount; start += FILL_BATCH) {
          const batch = Array.from({ length: Math.min(FILL_BATCH, consumeCount - start) }, (_, offset) =>
            rawPublish(start + offset),
          );
          await Promise.all(batch);
        }
      };
      const measure = {
        rawPublish: () => publishRate(publishMs, rawPublish),
        heraldPublish: () => publishRate(publishMs, (index) => transport.publish(TOPIC, [message(index)])),
        rawConsume: async () => {
          await fill();
          return rawConsume(`raw${++groups}`);
        },
        heraldConsume: async () => {
          await fill();
          return heraldConsume(`herald${++groups}`);
        },
      };
      const rates: Record<keyof typeof measure, number[]> = {
        rawPublish: [],
        heraldPublish: [],
        rawConsume: [],
        heraldConsume: [],
      };
      for (let round = 0; round < rounds; round++) {
        const order: (keyof typeof measure)[] =
          round % 2 === 0
            ? ['rawPublish', 'heraldPublish', 'rawConsume', 'heraldConsume']
            : ['heraldPublish', 'rawPublish', 'heraldConsume', 'rawConsume'];
        for (const name of order) {
          progress(`${payloadBytes} B, round ${round + 1}/${rounds}: ${name}`);
          rates[name].push(await measure[name]());
        }
      }
      rows.push(row('publish', payloadBytes, median(rates.rawPublish), median(rates.heraldPublish)));
      rows.push(row('consume', payloadBytes, median(rates.rawConsume), median(rates.heraldConsume)));
    }
  } finally {
    await transport.deletePrefix().catch(() => 0);
    await transport.close();
    await nc.close();
  }
  report(rows, json);

  /** Drains the stream through a Herald subscription of a fresh group; messages per second. */
  async function heraldConsume(group: string): Promise<number> {
    let consumed = 0;
    const drained = drainedTo(consumeCount, () => consumed);
    let started = 0;
    const subscription = await transport.subscribe(
      { topic: TOPIC, group, inFlightMax: IN_FLIGHT },
      async (received) => {
        if (started === 0) started = performance.now();
        await received.ack();
        consumed += 1;
        drained.check();
      },
    );
    await drained.done;
    const rate = consumeCount / ((performance.now() - started) / 1000);
    await subscription.close();
    return rate;
  }

  /** Drains the stream through raw durable consumers of a fresh group, one pull loop per partition. */
  async function rawConsume(group: string): Promise<number> {
    for (let partition = 0; partition < PARTITIONS; partition++) {
      await jsm.consumers.add(stream, {
        durable_name: `${group}_p${partition}`,
        filter_subject: `${prefix}.${TOPIC}.${partition}`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ACK_WAIT_MS * 1_000_000,
        max_ack_pending: ACK_PENDING_MAX,
      });
    }
    let consumed = 0;
    const drained = drainedTo(consumeCount, () => consumed);
    let started = 0;
    let stop = false;
    const loops = Array.from({ length: PARTITIONS }, async (_, partition) => {
      const consumer = await js.consumers.get(stream, `${group}_p${partition}`);
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
    await drained.done;
    const rate = consumeCount / ((performance.now() - started) / 1000);
    stop = true;
    await Promise.all(loops);
    return rate;
  }
}

function row(operation: Row['operation'], payloadBytes: number, raw: number, herald: number): Row {
  const ratio = herald / raw;
  return {
    operation,
    payloadBytes,
    rawPerSecond: Math.round(raw),
    heraldPerSecond: Math.round(herald),
    ratio: Number(ratio.toFixed(3)),
    overheadPercent: Number(((1 - ratio) * 100).toFixed(1)),
  };
}

function report(rows: readonly Row[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ suite: 'nats', ratioTarget: RATIO_TARGET, rows }, null, 2)}\n`);
    return;
  }
  const lines = [
    `| operation | payload | raw @nats-io/jetstream msg/s | Herald msg/s | Herald / raw | overhead (target ≤ ${Math.round((1 - RATIO_TARGET) * 100)}%) |`,
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (entry) =>
        `| ${entry.operation} | ${entry.payloadBytes} B | ${entry.rawPerSecond} | ${entry.heraldPerSecond} | ` +
        `${entry.ratio.toFixed(2)} | ${entry.overheadPercent.toFixed(1)}% |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
