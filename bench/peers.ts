/**
 * `npm run bench -- peers [--quick] [--json] [--messages N] [--payload BYTES] [--systems a,b] [--out DIR]`:
 * Herald next to the brokers users would pick instead, side by side in one run, after measuring
 * what this machine allows. See docs/benchmarks.md for what each row means and how to read it.
 *
 * 1. Limits (measured first): fdatasync rate of small appends; sequential write bandwidth with
 *    fdatasync per 1 MiB; 1 MiB batches of 100-byte records with fdatasync per batch (the
 *    durable-publish ceiling); loopback TCP throughput and 100-byte round trips (node:net echo).
 * 2. Systems, each at a named durability class: Herald embedded (`embeddedTransport`, and through
 *    `createBus`), `herald serve` over the Kafka protocol (@platformatic/kafka, acks=all),
 *    Herald-on-RabbitMQ (`rabbitMqTransport`, quorum queues); RabbitMQ through amqplib (quorum
 *    queue + confirms, classic durable queue + confirms, stream queue); NATS JetStream (file
 *    storage, R1); Redis Streams (XADD / XREADGROUP + XACK); Apache Kafka 4.1 (one KRaft node
 *    from the jars `npm run setup` fetched, acks=all, the same client code as `herald serve`) with
 *    its default flush policy (page cache) and with `log.flush.interval.messages=1` (fsync), and
 *    the Herald transport on that Kafka (page cache).
 * 3. Scenarios per payload size (100 B, 1 KiB): produce-only throughput (256 outstanding);
 *    end-to-end throughput (one group); ack latency with 1 and 64 outstanding; end-to-end latency
 *    at fixed open-loop rates (1k, 10k, 50k events/s); fan-out to 3 groups; a 4-partition topic
 *    with 2 consumers in one group.
 *
 * Every message carries its send time (or, open-loop, its scheduled send time) in its first 8
 * bytes; every consumer runs in this process, so end-to-end latency is one clock. Markdown on
 * stdout (JSON with `--json`), progress bar on stderr, JSON and SVG charts in `bench/results/`
 * (or `--out`). Peer servers that are down are started; a peer that still cannot be reached is
 * skipped with the reason printed. Everything declared on a peer is deleted at the end.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedTransport } from '@herald/broker';
import { createBus, defineEvent, silentLogger, type Transport } from '@herald/bus';
import { kafkaTransport } from '@herald/transport-kafka';
import { rabbitMqTransport } from '@herald/transport-rabbitmq';
import { connect as amqpConnect, type Channel } from 'amqplib';
import { z } from 'zod';
import {
  barChartSvg,
  format,
  type LatencySummary,
  loadIsHigh,
  type MachineFacts,
  machineFacts,
  markdownTable,
  openLoop,
  type ProgressBar,
  parseBenchArgs,
  percent,
  progressBar,
  RESULTS_DIR,
  sleep,
  summarize,
  tempDir,
  writeResult,
} from './_common.ts';
import { kafkaVersion, startBenchKafka, waitForLeaders } from './_kafka.ts';

const SUITE = 'peers';
const MEBIBYTE = 1024 * 1024;
const RABBITMQ_URL =
  process.env.HERALD_RABBITMQ_URL ??
  `amqp://guest:guest@127.0.0.1:${process.env.HERALD_RABBITMQ_PORT ?? 5672}`;
const NATS_URL = `127.0.0.1:${process.env.HERALD_NATS_PORT ?? 4222}`;
const REDIS = { host: '127.0.0.1', port: Number(process.env.HERALD_REDIS_PORT ?? 6379) };
/** Outstanding publishes in the throughput scenarios. */
const THROUGHPUT_OUTSTANDING = 256;
/** Consumer prefetch / in-flight window in every system. */
const CONSUMER_WINDOW = 256;
const RATES = [1_000, 10_000, 50_000] as const;
const ACK_OUTSTANDING = [1, 64] as const;
const FAN_OUT_GROUPS = 3;

// ---------------------------------------------------------------------------------------------
// Systems

/** How far a row's acknowledgement goes before the publisher hears "accepted". */
type DurabilityClass = 'fsync' | 'page cache' | 'memory';

interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly groups: readonly string[];
  readonly payloadBytes: number;
}

/** A topic (queue, stream…) on one system, declared with its groups so published messages are kept. */
interface Topic {
  /** Publishes message `index` (key `k-index`, partition `index % partitions`) stamped with `stampMs`; resolves on the ack. */
  publish(index: number, stampMs: number): Promise<void>;
  /**
   * Starts `consumersPerGroup` consumers in each group; `onMessage(group, stampMs)` for each
   * message, which the consumer then acks. Resolves once every consumer is started.
   */
  consume(
    consumersPerGroup: number,
    onMessage: (group: number, stampMs: number) => void,
  ): Promise<{ close(): Promise<void> }>;
  /** Deletes what the topic declared on the system. */
  remove(): Promise<void>;
}

interface System {
  readonly id: string;
  readonly label: string;
  readonly durability: DurabilityClass;
  /** What exactly is durable when the ack arrives. */
  readonly durabilityNote: string;
  readonly topic: (spec: TopicSpec) => Promise<Topic>;
  readonly close: () => Promise<void>;
  /** Messages each `publish` sends (default 1). */
  readonly messagesPerPublish?: number;
  /** The scenarios this row runs (default all). */
  readonly scenarios?: readonly ScenarioId[];
}

/** A system that could not run, and why. */
interface Skipped {
  readonly id: string;
  readonly label: string;
  readonly reason: string;
}

function stampedBody(payloadBytes: number, stampMs: number): Buffer {
  const body = Buffer.alloc(payloadBytes, 7);
  body.writeDoubleLE(stampMs, 0);
  return body;
}

function readStamp(body: Uint8Array): number {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).readDoubleLE(0);
}

/** The partition of message `index` (the warm-up message is -1). */
function partitionOf(index: number, partitions: number): number {
  return ((index % partitions) + partitions) % partitions;
}

/** The consumer-side partition split: consumer `c` of `n` takes partitions p with p % n === c. */
function partitionsOf(consumer: number, consumers: number, partitions: number): number[] {
  return Array.from({ length: partitions }, (_, p) => p).filter((p) => p % consumers === consumer);
}

async function heraldEmbedded(directory: string): Promise<System> {
  const transport = await embeddedTransport({ dir: directory });
  return {
    id: 'herald-embedded',
    label: 'Herald embedded (transport)',
    durability: 'fsync',
    durabilityNote: "fsync 'always': fdatasync before publish resolves",
    close: () => transport.close(),
    topic: async (spec) => {
      await transport.broker.createTopic(spec.name, { partitions: spec.partitions });
      return transportTopic(transport, spec);
    },
  };
}

/** A topic on any Herald transport, driven at the transport layer. */
function transportTopic(transport: Transport, spec: TopicSpec): Topic {
  return {
    publish: (index, stampMs) =>
      transport.publish(spec.name, [
        { key: `k-${index}`, headers: {}, body: stampedBody(spec.payloadBytes, stampMs) },
      ]),
    consume: async (consumersPerGroup, onMessage) => {
      const subscriptions: { close(): Promise<void> }[] = [];
      for (const [group, name] of spec.groups.entries()) {
        for (let consumer = 0; consumer < consumersPerGroup; consumer++) {
          subscriptions.push(
            await transport.subscribe(
              { topic: spec.name, group: name, inFlightMax: CONSUMER_WINDOW },
              async (message) => {
                onMessage(group, readStamp(message.body));
                await message.ack();
              },
            ),
          );
        }
      }
      return {
        close: async () => {
          for (const subscription of subscriptions) await subscription.close();
        },
      };
    },
    remove: async () => {},
  };
}

/** Messages per `publish` call in the batched Herald row. */
const BATCH = 100;

/** Herald embedded publishing {@link BATCH} messages per call: produce-only, the caller-side batching path. */
async function heraldEmbeddedBatch(directory: string): Promise<System> {
  const transport = await embeddedTransport({ dir: directory });
  return {
    id: 'herald-embedded-batch',
    label: `Herald embedded, ${BATCH} per publish (transport)`,
    durability: 'fsync',
    durabilityNote: `fsync 'always'; ${BATCH} messages per publish call, one ack for all`,
    messagesPerPublish: BATCH,
    scenarios: ['produce'],
    close: () => transport.close(),
    topic: async (spec) => {
      await transport.broker.createTopic(spec.name, { partitions: spec.partitions });
      const plain = transportTopic(transport, spec);
      return {
        ...plain,
        publish: (index, stampMs) =>
          transport.publish(
            spec.name,
            Array.from({ length: BATCH }, (_, offset) => ({
              key: `k-${index * BATCH + offset}`,
              headers: {},
              body: stampedBody(spec.payloadBytes, stampMs),
            })),
          ),
      };
    },
  };
}

async function heraldBus(directory: string): Promise<System> {
  const transport = await embeddedTransport({ dir: directory });
  return {
    id: 'herald-bus',
    label: 'Herald embedded (bus)',
    durability: 'fsync',
    durabilityNote: "embedded transport, fsync 'always'; CloudEvents envelope + zod validation",
    close: () => transport.close(),
    topic: async (spec) => {
      await transport.broker.createTopic(spec.name, { partitions: spec.partitions });
      const Event = defineEvent('BenchPeerEvent', {
        topic: spec.name,
        schema: z.object({ id: z.string(), t: z.number(), pad: z.string() }),
        key: (event) => event.id,
      });
      // The JSON payload is `pad` plus the fields: the bus's message is larger than the raw rows'.
      const pad = 'x'.repeat(Math.max(0, spec.payloadBytes - 40));
      const publisher = createBus({
        transport,
        source: '/bench',
        logger: silentLogger,
        ownsTransport: false,
      });
      await publisher.start();
      return {
        publish: async (index, stampMs) => {
          await publisher.publish(Event, { id: `k-${index}`, t: stampMs, pad });
        },
        consume: async (consumersPerGroup, onMessage) => {
          const buses: { stop(): Promise<void> }[] = [];
          for (const [group, name] of spec.groups.entries()) {
            for (let consumer = 0; consumer < consumersPerGroup; consumer++) {
              const bus = createBus({
                transport,
                source: '/bench',
                logger: silentLogger,
                ownsTransport: false,
              });
              bus.on(Event, { group: name, concurrency: CONSUMER_WINDOW }, (event) =>
                onMessage(group, event.t),
              );
              await bus.start();
              buses.push(bus);
            }
          }
          return {
            close: async () => {
              for (const bus of buses) await bus.stop();
            },
          };
        },
        remove: () => publisher.stop(),
      };
    },
  };
}

/**
 * Herald's Kafka transport against the same `herald serve`: the row applications get with
 * `HERALD_TRANSPORT=kafka` (concurrent publishes share produce requests).
 */
function heraldKafka(
  bootstrap: string,
  row: Pick<System, 'id' | 'label' | 'durability' | 'durabilityNote'> = {
    id: 'herald-kafka',
    label: 'Herald-on-Kafka (transport → herald serve)',
    durability: 'fsync',
    durabilityNote: "kafkaTransport: acks=all, idempotent producer; the server appends with fsync 'always'",
  },
): System {
  return {
    ...row,
    close: async () => {},
    topic: async (spec) => {
      const transport = await kafkaTransport({
        brokers: [bootstrap],
        clientId: 'herald-peers-kafka',
        partitions: spec.partitions,
      });
      const topic = transportTopic(transport, spec);
      return { ...topic, remove: () => transport.close() };
    },
  };
}

async function heraldRabbitMq(runId: string): Promise<System> {
  // Fails fast (and the row is skipped) when the broker is unreachable.
  const probe = await amqpConnect(RABBITMQ_URL);
  await probe.close();
  return {
    id: 'herald-rabbitmq',
    label: 'Herald-on-RabbitMQ (transport)',
    durability: 'fsync',
    durabilityNote: 'rabbitMqTransport: quorum shard queues, publisher confirms (1 node)',
    close: async () => {},
    topic: async (spec) => {
      const transport = await rabbitMqTransport({
        url: RABBITMQ_URL,
        exchangePrefix: `herald-peers.${runId}.`,
        shards: spec.partitions,
        connectionName: 'herald-peers-bench',
      });
      // Declares each group's queues so that messages published with no consumer are kept.
      for (const group of spec.groups) {
        await (
          await transport.subscribe({ topic: spec.name, group, inFlightMax: 1 }, async () => {})
        ).close();
      }
      const topic = transportTopic(transport, spec);
      return {
        ...topic,
        remove: async () => {
          await transport.deleteTopology();
          await transport.close();
        },
      };
    },
  };
}

type RabbitQueueKind = 'quorum' | 'classic' | 'stream';

async function rabbitMqRaw(kind: RabbitQueueKind, runId: string): Promise<System> {
  // amqplib leaves Nagle's algorithm on by default; a tuned client turns it off.
  const connection = await amqpConnect(RABBITMQ_URL, { noDelay: true });
  const publishChannel = await connection.createConfirmChannel();
  const notes: Record<RabbitQueueKind, [DurabilityClass, string]> = {
    quorum: [
      'fsync',
      'quorum queue, persistent, publisher confirms (confirm after the Raft log is fsynced; 1 node)',
    ],
    classic: [
      'fsync',
      'classic durable queue, persistent messages, publisher confirms (confirm once on disk)',
    ],
    stream: [
      'page cache',
      'stream queue, publisher confirms (written to the segment file; streams do not fsync)',
    ],
  };
  return {
    id: `rabbitmq-${kind}`,
    label: `RabbitMQ ${kind}${kind === 'stream' ? '' : ' queue'} (amqplib)`,
    durability: notes[kind][0],
    durabilityNote: notes[kind][1],
    close: async () => {
      await connection.close();
    },
    topic: async (spec) => {
      const base = `herald-peers.${runId}.${kind}.${spec.name}`;
      const queues: string[] = [];
      const exchanges: string[] = [];
      /** Per partition: where to publish (exchange, routing key). */
      const targets: [string, string][] = [];
      /** Per group, per partition: the queue to consume. */
      const groupQueues: string[][] = spec.groups.map(() => []);
      for (let partition = 0; partition < spec.partitions; partition++) {
        if (kind === 'stream') {
          // A stream is read independently by each consumer: one stream per partition serves every group.
          const stream = `${base}.p${partition}`;
          await publishChannel.assertQueue(stream, {
            durable: true,
            arguments: { 'x-queue-type': 'stream', 'x-max-length-bytes': 2 * 1024 * MEBIBYTE },
          });
          queues.push(stream);
          targets.push(['', stream]);
          for (const list of groupQueues) list.push(stream);
          continue;
        }
        const exchange = `${base}.p${partition}`;
        await publishChannel.assertExchange(exchange, 'fanout', { durable: true });
        exchanges.push(exchange);
        targets.push([exchange, '']);
        for (const [group, name] of spec.groups.entries()) {
          const queue = `${base}.${name}.p${partition}`;
          await publishChannel.assertQueue(queue, {
            durable: true,
            ...(kind === 'quorum' ? { arguments: { 'x-queue-type': 'quorum' } } : {}),
          });
          await publishChannel.bindQueue(queue, exchange, '');
          queues.push(queue);
          groupQueues[group]!.push(queue);
        }
      }
      return {
        publish: (index, stampMs) =>
          new Promise<void>((resolve, reject) => {
            const [exchange, routingKey] = targets[partitionOf(index, spec.partitions)]!;
            publishChannel.publish(
              exchange,
              routingKey,
              stampedBody(spec.payloadBytes, stampMs),
              { persistent: true },
              (error) => (error ? reject(error) : resolve()),
            );
          }),
        consume: async (consumersPerGroup, onMessage) => {
          const channels: Channel[] = [];
          for (const [group, list] of groupQueues.entries()) {
            for (let consumer = 0; consumer < consumersPerGroup; consumer++) {
              const channel = await connection.createChannel();
              await channel.prefetch(CONSUMER_WINDOW, false);
              channels.push(channel);
              for (const partition of partitionsOf(consumer, consumersPerGroup, spec.partitions)) {
                await channel.consume(
                  list[partition]!,
                  (message) => {
                    if (message === null) return;
                    onMessage(group, readStamp(message.content));
                    channel.ack(message);
                  },
                  kind === 'stream' ? { arguments: { 'x-stream-offset': 'first' } } : {},
                );
              }
            }
          }
          return {
            close: async () => {
              for (const channel of channels) await channel.close().catch(() => {});
            },
          };
        },
        remove: async () => {
          for (const queue of queues) await publishChannel.deleteQueue(queue);
          for (const exchange of exchanges) await publishChannel.deleteExchange(exchange);
        },
      };
    },
  };
}

async function natsJetStream(runId: string): Promise<{ system: System; version: string }> {
  const { AckPolicy, connect, DeliverPolicy, StorageType } = await import('nats');
  const connection = await connect({ servers: NATS_URL, timeout: 3000 });
  const manager = await connection.jetstreamManager();
  const jetstream = connection.jetstream();
  const version = connection.info?.version ?? 'unknown';
  return {
    version,
    system: {
      id: 'nats-jetstream',
      label: 'NATS JetStream, file, R1 (nats.js)',
      durability: 'page cache',
      durabilityNote: `file storage, 1 replica: acks once written to the OS, before fsync (server ${version}'s default; sync_interval is fixed server config)`,
      close: () => connection.close(),
      topic: async (spec) => {
        const stream = `herald_peers_${runId}_${spec.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
        await manager.streams.add({
          name: stream,
          subjects: [`${stream}.>`],
          storage: StorageType.File,
          num_replicas: 1,
          max_bytes: 2 * 1024 * MEBIBYTE,
        });
        for (const group of spec.groups) {
          await manager.consumers.add(stream, {
            durable_name: group,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            max_ack_pending: 20_000,
          });
        }
        return {
          publish: async (index, stampMs) => {
            await jetstream.publish(
              `${stream}.p${partitionOf(index, spec.partitions)}`,
              stampedBody(spec.payloadBytes, stampMs),
            );
          },
          consume: async (consumersPerGroup, onMessage) => {
            const iterators: { stop(): void }[] = [];
            const loops: Promise<void>[] = [];
            for (const [group, name] of spec.groups.entries()) {
              for (let consumer = 0; consumer < consumersPerGroup; consumer++) {
                const handle = await jetstream.consumers.get(stream, name);
                const messages = await handle.consume({ max_messages: CONSUMER_WINDOW });
                iterators.push(messages);
                loops.push(
                  (async () => {
                    for await (const message of messages) {
                      onMessage(group, readStamp(message.data));
                      message.ack();
                    }
                  })().catch(() => {}),
                );
              }
            }
            return {
              close: async () => {
                for (const iterator of iterators) iterator.stop();
                await Promise.all(loops);
              },
            };
          },
          remove: async () => {
            await manager.streams.delete(stream);
          },
        };
      },
    },
  };
}

async function redisStreams(
  runId: string,
): Promise<{ system: System; version: string; persistence: string }> {
  const { Redis } = await import('ioredis');
  const options = { ...REDIS, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null };
  const client = new Redis(options);
  await client.connect();
  const info = await client.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const appendonly = ((await client.config('GET', 'appendonly')) as string[])[1];
  const save = ((await client.config('GET', 'save')) as string[])[1];
  const persistence = `appendonly ${appendonly}, save "${save}"`;
  const memoryOnly = appendonly === 'no';
  return {
    version,
    persistence,
    system: {
      id: 'redis-streams',
      label: 'Redis Streams (ioredis)',
      durability: memoryOnly ? 'memory' : 'page cache',
      durabilityNote: memoryOnly
        ? `XADD reply = in memory only (${persistence}): nothing reaches disk`
        : `XADD reply after the AOF write (${persistence}); fsync per appendfsync`,
      close: async () => {
        client.disconnect();
      },
      topic: async (spec) => {
        const keys = Array.from(
          { length: spec.partitions },
          (_, p) => `herald-peers:${runId}:${spec.name}:p${p}`,
        );
        for (const key of keys) {
          for (const group of spec.groups) await client.xgroup('CREATE', key, group, '0', 'MKSTREAM');
        }
        return {
          publish: async (index, stampMs) => {
            await client.xadd(
              keys[partitionOf(index, spec.partitions)]!,
              '*',
              'd',
              stampedBody(spec.payloadBytes, stampMs),
            );
          },
          consume: async (consumersPerGroup, onMessage) => {
            let running = true;
            const connections: InstanceType<typeof Redis>[] = [];
            const loops: Promise<void>[] = [];
            for (const [group, name] of spec.groups.entries()) {
              for (let consumer = 0; consumer < consumersPerGroup; consumer++) {
                const connection = new Redis(options);
                await connection.connect();
                connections.push(connection);
                const mine = partitionsOf(consumer, consumersPerGroup, spec.partitions).map((p) => keys[p]!);
                loops.push(
                  (async () => {
                    // Bounded by `running`: each read blocks at most 100 ms.
                    while (running) {
                      const reply = (await connection.callBuffer(
                        'XREADGROUP',
                        'GROUP',
                        name,
                        `c${consumer}`,
                        'COUNT',
                        CONSUMER_WINDOW,
                        'BLOCK',
                        100,
                        'STREAMS',
                        ...mine,
                        ...mine.map(() => '>'),
                      )) as [Buffer, [Buffer, Buffer[]][]][] | null;
                      if (reply === null) continue;
                      for (const [key, entries] of reply) {
                        const ids: Buffer[] = [];
                        for (const [id, fields] of entries) {
                          onMessage(group, readStamp(fields[1]!));
                          ids.push(id);
                        }
                        if (ids.length > 0) await connection.xack(key, name, ...ids);
                      }
                    }
                  })().catch(() => {}),
                );
              }
            }
            return {
              close: async () => {
                running = false;
                await Promise.all(loops);
                for (const connection of connections) connection.disconnect();
              },
            };
          },
          remove: async () => {
            await client.del(...keys);
          },
        };
      },
    },
  };
}

async function heraldServe(
  directory: string,
): Promise<{ system: System; port: number; stop(): Promise<void> }> {
  const bin = path.join(import.meta.dirname, '../packages/cli/bin/herald.ts');
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, 'serve', '--port', '0', '--data', directory, '--partitions', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`herald serve did not listen within 20 s: ${output}`)),
      20_000,
    );
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on [^\s]+:(\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`herald serve exited with ${code}: ${output.trim()}`));
    });
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  const system = await kafkaProtocolSystem([`127.0.0.1:${port}`], {
    id: 'herald-serve',
    label: 'herald serve, Kafka protocol (@platformatic/kafka)',
    durability: 'fsync',
    durabilityNote: "acks=all; the server's broker appends with fsync 'always'",
  });
  return { system, port, stop };
}

/**
 * A Kafka-protocol broker at `bootstrapBrokers` driven by the raw `@platformatic/kafka` client
 * (acks=all): `herald serve` and Apache Kafka get exactly the same client code.
 */
async function kafkaProtocolSystem(
  bootstrapBrokers: string[],
  row: Pick<System, 'id' | 'label' | 'durability' | 'durabilityNote'>,
): Promise<System> {
  const kafka = await import('@platformatic/kafka');
  const producer = new kafka.Producer({ clientId: 'herald-peers', bootstrapBrokers, acks: -1 });
  const admin = new kafka.Admin({ clientId: 'herald-peers-admin', bootstrapBrokers });
  return {
    ...row,
    close: async () => {
      await producer.close();
      await admin.close();
    },
    topic: async (spec) => {
      await admin.createTopics({ topics: [spec.name], partitions: spec.partitions, replicas: 1 });
      await waitForLeaders(admin, spec.name, spec.partitions);
      return {
        publish: async (index, stampMs) => {
          await producer.send({
            messages: [
              {
                topic: spec.name,
                key: Buffer.from(`k-${index}`),
                value: stampedBody(spec.payloadBytes, stampMs),
                partition: partitionOf(index, spec.partitions),
              },
            ],
          });
        },
        consume: async (consumersPerGroup, onMessage) => {
          const consumers: { close(): Promise<void> }[] = [];
          for (const [group, name] of spec.groups.entries()) {
            for (let index = 0; index < consumersPerGroup; index++) {
              const consumer = new kafka.Consumer({
                groupId: `${spec.name}-${name}`,
                clientId: `herald-peers-${name}-${index}`,
                bootstrapBrokers,
                maxWaitTime: 200,
                sessionTimeout: 10_000,
                heartbeatInterval: 1000,
              });
              const stream = await consumer.consume({
                topics: [spec.name],
                mode: kafka.MessagesStreamModes.EARLIEST,
                autocommit: 100,
                maxBytes: 8 * MEBIBYTE,
              });
              stream.on('data', (message: { value: Buffer }) => onMessage(group, readStamp(message.value)));
              stream.on('error', () => {});
              consumers.push({
                close: async () => {
                  await stream.close();
                  await consumer.close(true);
                },
              });
            }
          }
          return {
            close: async () => {
              for (const consumer of consumers) await consumer.close().catch(() => {});
            },
          };
        },
        remove: async () => {
          await admin.deleteTopics({ topics: [spec.name] }).catch(() => {});
        },
      };
    },
  };
}

/**
 * Apache Kafka (single KRaft node, the jars `npm run setup` fetched), driven like `herald serve`.
 * By default Kafka acknowledges acks=all once the record is in the page cache of every in-sync
 * replica (here: the one broker) and flushes later; `log.flush.interval.messages=1` makes it
 * fsync the log before answering, the class `herald serve` is in.
 */
async function apacheKafka(
  fsyncEveryMessage: boolean,
): Promise<{ system: System; bootstrap: string; stop(): Promise<void> }> {
  const broker = await startBenchKafka({
    partitions: 1,
    settings: fsyncEveryMessage ? { 'log.flush.interval.messages': 1 } : {},
  });
  try {
    const system = await kafkaProtocolSystem([broker.bootstrap], {
      id: fsyncEveryMessage ? 'apache-kafka-fsync' : 'apache-kafka',
      label: fsyncEveryMessage
        ? 'Apache Kafka, log.flush.interval.messages=1 (@platformatic/kafka)'
        : 'Apache Kafka (@platformatic/kafka)',
      durability: fsyncEveryMessage ? 'fsync' : 'page cache',
      durabilityNote: fsyncEveryMessage
        ? 'acks=all, one broker; the log is fsynced after every append, before the produce response'
        : 'acks=all, one broker; Kafka default flush policy: in the page cache when acked, fsynced later by the OS',
    });
    return { system, bootstrap: broker.bootstrap, stop: () => broker.stop() };
  } catch (error) {
    await broker.stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Peer servers

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Each peer server's port, as the test set-up (`scripts/setup.sh`) starts it. */
const PEER_PORTS: Record<'rabbitmq' | 'nats' | 'redis', number> = {
  rabbitmq: Number(process.env.HERALD_RABBITMQ_PORT ?? 5672),
  nats: Number(process.env.HERALD_NATS_PORT ?? 4222),
  redis: Number(process.env.HERALD_REDIS_PORT ?? 6379),
};

/**
 * Makes sure a peer server answers: when its port is down, runs the project's set-up step
 * (`npm run setup`: installs and starts RabbitMQ, PostgreSQL, NATS and Redis on loopback), the
 * same one `npm test` runs. Resolves to undefined when it answers, else the reason.
 */
async function ensurePeer(name: keyof typeof PEER_PORTS, progress: ProgressBar): Promise<string | undefined> {
  const port = PEER_PORTS[name];
  if (await portOpen(port)) return undefined;
  progress.note(`${name} is down on :${port}; running scripts/setup.sh`);
  const setup = fileURLToPath(new URL('../scripts/setup.sh', import.meta.url));
  try {
    // Bounded: an install and four server starts take well under ten minutes.
    execFileSync('bash', [setup], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 });
  } catch (error) {
    return `${name} was down on :${port} and scripts/setup.sh failed: ${(error as Error).message}`;
  }
  return (await portOpen(port)) ? undefined : `${name} is still down on :${port} after scripts/setup.sh`;
}

// ---------------------------------------------------------------------------------------------
// Limits

interface Limits {
  /** fdatasync per 100-byte append. */
  readonly smallSyncsPerSecond: number;
  readonly smallSyncMs: LatencySummary;
  /** Sequential writes of 1 MiB with fdatasync after each. */
  readonly sequentialBytesPerSecond: number;
  /** 1 MiB batches of 100-byte records built in memory, fdatasync per batch. */
  readonly batchedRecordsPerSecond: number;
  readonly loopbackBytesPerSecond: number;
  readonly loopbackRoundTripMs: LatencySummary;
}

function syncLoop(directory: string, bytes: number, durationMs: number, build?: (buffer: Buffer) => void) {
  const file = path.join(directory, `limit-${bytes}.bin`);
  const fd = fs.openSync(file, 'w');
  const buffer = Buffer.alloc(bytes, 7);
  const latencies: number[] = [];
  let position = 0;
  let syncs = 0;
  const started = performance.now();
  // Bounded by time and by a 2 GiB file.
  while (performance.now() - started < durationMs && position < 2 * 1024 * MEBIBYTE) {
    const before = performance.now();
    build?.(buffer);
    fs.writeSync(fd, buffer, 0, buffer.length, position);
    fs.fdatasyncSync(fd);
    latencies.push(performance.now() - before);
    position += buffer.length;
    syncs++;
  }
  const seconds = (performance.now() - started) / 1000;
  fs.closeSync(fd);
  fs.unlinkSync(file);
  return { perSecond: syncs / seconds, latencies };
}

async function loopback(durationMs: number, roundTrips: number) {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    // Throughput: 64 KiB writes echoed back; counts bytes received back in the time.
    const bulk = await new Promise<number>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const chunk = Buffer.alloc(64 * 1024, 1);
      let received = 0;
      let started = 0;
      let stopped = false;
      socket.on('error', reject);
      socket.on('data', (data: Buffer) => {
        received += data.length;
      });
      socket.once('connect', () => {
        started = performance.now();
        const pump = () => {
          // Bounded by time.
          while (!stopped && performance.now() - started < durationMs) {
            if (!socket.write(chunk)) return;
          }
          if (!stopped) {
            stopped = true;
            const seconds = (performance.now() - started) / 1000;
            socket.destroy();
            resolve(received / seconds);
          }
        };
        socket.on('drain', pump);
        pump();
      });
    });
    // Round trips: 100 bytes out, wait for 100 bytes back.
    const latencies = await new Promise<number[]>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      const message = Buffer.alloc(100, 2);
      const times: number[] = [];
      let pending = 0;
      let sentAt = 0;
      socket.on('error', reject);
      const send = () => {
        sentAt = performance.now();
        pending = message.length;
        socket.write(message);
      };
      socket.on('data', (data: Buffer) => {
        pending -= data.length;
        if (pending > 0) return;
        times.push(performance.now() - sentAt);
        if (times.length >= roundTrips) {
          socket.destroy();
          resolve(times);
        } else send();
      });
      socket.once('connect', send);
    });
    return { bytesPerSecond: bulk, roundTrip: summarize(latencies) };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

async function measureLimits(directory: string, durationMs: number, progress: ProgressBar): Promise<Limits> {
  progress.note('limits: fdatasync of 100-byte appends');
  const small = syncLoop(directory, 100, durationMs);
  progress.tick('limits: sequential 1 MiB writes + fdatasync');
  const sequential = syncLoop(directory, MEBIBYTE, durationMs);
  progress.tick('limits: 1 MiB batches of 100-byte records + fdatasync');
  const recordsPerBatch = Math.floor(MEBIBYTE / 100);
  const record = Buffer.alloc(100, 3);
  const batched = syncLoop(directory, recordsPerBatch * 100, durationMs, (buffer) => {
    for (let index = 0; index < recordsPerBatch; index++) record.copy(buffer, index * 100);
  });
  progress.tick('limits: loopback TCP');
  const net = await loopback(durationMs, 2000);
  progress.tick('limits measured');
  return {
    smallSyncsPerSecond: small.perSecond,
    smallSyncMs: summarize(small.latencies),
    sequentialBytesPerSecond: sequential.perSecond * MEBIBYTE,
    batchedRecordsPerSecond: batched.perSecond * recordsPerBatch,
    loopbackBytesPerSecond: net.bytesPerSecond,
    loopbackRoundTripMs: net.roundTrip,
  };
}

/** The durable-publish ceiling for `payloadBytes` records, records/s. */
function ceilingFor(limits: Limits, payloadBytes: number): number {
  return payloadBytes === 100
    ? limits.batchedRecordsPerSecond
    : limits.sequentialBytesPerSecond / payloadBytes;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Budget {
  readonly durationMs: number;
  /** Most messages per measurement. */
  readonly messages: number;
  /** Longest wait for consumers to catch up after publishing stops. */
  readonly drainMs: number;
  /** Longest wait for a warm-up message to reach every group (consumer start-up, group joins). */
  readonly warmUpMs: number;
}

type ScenarioId =
  | 'produce'
  | 'end-to-end'
  | 'ack-1'
  | 'ack-64'
  | 'rate-1000'
  | 'rate-10000'
  | 'rate-50000'
  | 'fan-out'
  | 'partitions';

/** One system's figure in one scenario. */
interface Measurement {
  readonly scenario: ScenarioId;
  readonly payloadBytes: number;
  readonly system: string;
  /** Messages per second (throughput scenarios; the achieved rate in fixed-rate ones). */
  readonly perSecond?: number;
  /** Latency in ms (ack latency: publish to ack; fixed rates: scheduled send to consume). */
  readonly latencyMs?: LatencySummary;
  readonly messages: number;
  /** Fixed-rate rows: false when the system could not keep up (see `note`). */
  readonly keptUp?: boolean;
  readonly note?: string;
  /** Set when the measurement failed; the row shows the error. */
  readonly error?: string;
}

let topicCounter = 0;

async function withTopic<T>(
  system: System,
  spec: Omit<TopicSpec, 'name'>,
  body: (topic: Topic) => Promise<T>,
): Promise<T> {
  const topic = await system.topic({ ...spec, name: `t${topicCounter++}` });
  try {
    return await body(topic);
  } finally {
    await topic.remove().catch(() => {});
  }
}

/** `concurrency` loops publishing until `durationMs` or `count` publishes; latencies if asked. */
async function closedLoop(
  topic: Topic,
  concurrency: number,
  budget: Budget,
  latencies?: number[],
  perPublish = 1,
): Promise<{ messages: number; seconds: number; failed: number }> {
  let next = 0;
  let done = 0;
  let failed = 0;
  const started = performance.now();
  const stopAt = started + budget.durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      // Bounded by time and by the message budget.
      while (performance.now() < stopAt && next * perPublish < budget.messages) {
        const index = next++;
        const sentMs = performance.now();
        try {
          await topic.publish(index, sentMs);
          latencies?.push(performance.now() - sentMs);
          done += perPublish;
        } catch {
          failed++;
          if (failed > 100) throw new Error('more than 100 publishes failed');
        }
      }
    }),
  );
  return { messages: done, seconds: (performance.now() - started) / 1000, failed };
}

/** Counts deliveries per group and wakes waiters. */
function deliveries(groups: number) {
  const counts = new Array<number>(groups).fill(0);
  const latencies: number[] = [];
  let lastMs = 0;
  let waiter: (() => void) | undefined;
  return {
    counts,
    latencies,
    get lastMs() {
      return lastMs;
    },
    onMessage(group: number, stampMs: number): void {
      const now = performance.now();
      counts[group] = (counts[group] ?? 0) + 1;
      if (stampMs > 0) latencies.push(now - stampMs);
      lastMs = now;
      waiter?.();
    },
    /** Resolves true once every group has `target` deliveries, false after `timeoutMs`. */
    async reached(target: number, timeoutMs: number): Promise<boolean> {
      const deadline = performance.now() + timeoutMs;
      // Bounded by the deadline.
      while (counts.some((count) => count < target)) {
        const left = deadline - performance.now();
        if (left <= 0) return false;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 50));
          waiter = () => {
            if (counts.every((count) => count >= target)) {
              clearTimeout(timer);
              resolve();
            }
          };
        });
        waiter = undefined;
      }
      return true;
    },
  };
}

/**
 * Starts consumers, publishes one warm-up message (stamp 0, excluded from latencies) and waits until
 * every group has it, so consumer start-up (group joins, rebalances) is not measured.
 */
async function startConsumers(topic: Topic, groups: number, consumersPerGroup: number, budget: Budget) {
  const counter = deliveries(groups);
  const consumers = await topic.consume(consumersPerGroup, (group, stampMs) =>
    counter.onMessage(group, stampMs),
  );
  await topic.publish(-1, 0);
  if (!(await counter.reached(1, budget.warmUpMs))) {
    await consumers.close();
    throw new Error(`the warm-up message did not reach every group within ${budget.warmUpMs / 1000} s`);
  }
  counter.counts.fill(0);
  return { counter, consumers };
}

async function measureThroughput(
  system: System,
  scenario: 'produce' | 'end-to-end' | 'fan-out' | 'partitions',
  payloadBytes: number,
  budget: Budget,
): Promise<Omit<Measurement, 'scenario' | 'payloadBytes' | 'system'>> {
  const groups = scenario === 'fan-out' ? FAN_OUT_GROUPS : 1;
  const partitions = scenario === 'partitions' ? 4 : 1;
  const consumersPerGroup = scenario === 'partitions' ? 2 : 1;
  const groupNames = Array.from({ length: groups }, (_, index) => `g${index}`);
  return withTopic(system, { partitions, groups: groupNames, payloadBytes }, async (topic) => {
    if (scenario === 'produce') {
      const result = await closedLoop(
        topic,
        THROUGHPUT_OUTSTANDING,
        budget,
        undefined,
        system.messagesPerPublish ?? 1,
      );
      return { perSecond: result.messages / result.seconds, messages: result.messages };
    }
    const { counter, consumers } = await startConsumers(topic, groups, consumersPerGroup, budget);
    try {
      const started = performance.now();
      const result = await closedLoop(topic, THROUGHPUT_OUTSTANDING, budget);
      const drained = await counter.reached(result.messages, budget.drainMs);
      const delivered = Math.min(...counter.counts);
      const seconds = ((drained ? counter.lastMs : performance.now()) - started) / 1000;
      return {
        perSecond: delivered / seconds,
        messages: delivered,
        ...(drained
          ? {}
          : {
              note: `delivered ${delivered} of ${result.messages} within ${budget.drainMs / 1000} s of the end`,
            }),
      };
    } finally {
      await consumers.close();
    }
  });
}

async function measureAckLatency(
  system: System,
  outstanding: number,
  payloadBytes: number,
  budget: Budget,
): Promise<Omit<Measurement, 'scenario' | 'payloadBytes' | 'system'>> {
  return withTopic(system, { partitions: 1, groups: ['g0'], payloadBytes }, async (topic) => {
    // A few unmeasured publishes first: connections, JIT.
    await closedLoop(topic, outstanding, {
      ...budget,
      messages: Math.min(200, budget.messages),
      durationMs: 200,
    });
    const latencies: number[] = [];
    const result = await closedLoop(topic, outstanding, budget, latencies);
    return {
      perSecond: result.messages / result.seconds,
      latencyMs: summarize(latencies),
      messages: result.messages,
    };
  });
}

async function measureFixedRate(
  system: System,
  ratePerSecond: number,
  payloadBytes: number,
  budget: Budget,
): Promise<Omit<Measurement, 'scenario' | 'payloadBytes' | 'system'>> {
  return withTopic(system, { partitions: 1, groups: ['g0'], payloadBytes }, async (topic) => {
    const { counter, consumers } = await startConsumers(topic, 1, 1, budget);
    try {
      // A backlog of more than a second of arrivals (or 0.25 s in short runs) means the system is
      // not keeping up: the loop stops there, and the row says so.
      const backlogMax = Math.max(500, ratePerSecond * Math.min(1, budget.durationMs / 4000));
      let sent = 0;
      const started = performance.now();
      const result = await openLoop({
        ratePerSecond,
        durationMs: budget.durationMs,
        count: budget.messages,
        outstandingMax: backlogMax,
        isBacklogged: () => sent - (counter.counts[0] ?? 0) > backlogMax,
        send: (index, scheduledMs) => {
          sent++;
          return topic.publish(index, scheduledMs);
        },
      });
      const drained = await counter.reached(result.completed, budget.drainMs);
      const delivered = counter.counts[0] ?? 0;
      // Delivered over the time from the first scheduled send to the last delivery, less the
      // fastest delivery seen (the pipeline's fixed delay, which says nothing of its rate), and at
      // least the schedule's own length, so a burst delivered early cannot flatter the rate.
      const fastestMs = counter.latencies.reduce(
        (min, value) => Math.min(min, value),
        Number.POSITIVE_INFINITY,
      );
      const spanMs = counter.lastMs - started - (Number.isFinite(fastestMs) ? fastestMs : 0);
      const seconds = Math.max(spanMs / 1000, result.scheduled / ratePerSecond);
      const achieved = delivered / seconds;
      const reasons = [
        ...(result.saturated
          ? [`stopped after ${result.sent} of the scheduled sends: backlog over ${format(backlogMax)}`]
          : []),
        ...(drained
          ? []
          : [`${result.completed - delivered} not delivered within ${budget.drainMs / 1000} s`]),
        ...(result.failed > 0 ? [`${result.failed} publishes failed`] : []),
        ...(achieved < ratePerSecond * 0.9 && !result.saturated ? ['achieved < 90% of the rate'] : []),
      ];
      return {
        perSecond: achieved,
        latencyMs: summarize(counter.latencies),
        messages: delivered,
        keptUp: reasons.length === 0,
        ...(reasons.length === 0 ? {} : { note: reasons.join('; ') }),
      };
    } finally {
      await consumers.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Report

interface ScenarioInfo {
  readonly id: ScenarioId;
  readonly title: string;
  readonly kind: 'throughput' | 'ack' | 'rate';
  readonly rate?: number;
  readonly outstanding?: number;
}

const SCENARIOS: readonly ScenarioInfo[] = [
  {
    id: 'produce',
    title: `Produce-only throughput (${THROUGHPUT_OUTSTANDING} outstanding, one message per publish)`,
    kind: 'throughput',
  },
  {
    id: 'end-to-end',
    title: `End-to-end throughput (${THROUGHPUT_OUTSTANDING} outstanding publishes, one group, one consumer)`,
    kind: 'throughput',
  },
  ...ACK_OUTSTANDING.map((outstanding) => ({
    id: `ack-${outstanding}` as ScenarioId,
    title: `Ack latency, ${outstanding} outstanding publish${outstanding === 1 ? '' : 'es'}`,
    kind: 'ack' as const,
    outstanding,
  })),
  ...RATES.map((rate) => ({
    id: `rate-${rate}` as ScenarioId,
    title: `End-to-end latency at ${format(rate)} events/s (open loop, from the scheduled send)`,
    kind: 'rate' as const,
    rate,
  })),
  {
    id: 'fan-out',
    title: `Fan-out to ${FAN_OUT_GROUPS} groups (messages/s delivered to every group)`,
    kind: 'throughput',
  },
  {
    id: 'partitions',
    title: '4-partition topic, 2 consumers in one group (end-to-end messages/s)',
    kind: 'throughput',
  },
];

const BASELINE = 'herald-embedded';

function ms(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '' : format(value, value < 10 ? 3 : 1);
}

function times(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '';
  return `${format(value, value < 10 ? 2 : 1)}×`;
}

interface Report {
  readonly suite: 'peers';
  readonly quick: boolean;
  readonly budget: Budget;
  readonly payloads: readonly number[];
  readonly machine: MachineFacts & { readonly loadAverageEnd: readonly number[] };
  readonly versions: Readonly<Record<string, string>>;
  readonly limits: Limits;
  readonly systems: readonly {
    readonly id: string;
    readonly label: string;
    readonly durability: DurabilityClass;
    readonly durabilityNote: string;
  }[];
  readonly skipped: readonly Skipped[];
  readonly notes: readonly string[];
  readonly measurements: readonly Measurement[];
}

function scenarioTable(report: Report, info: ScenarioInfo, payloadBytes: number): string {
  const rows = report.measurements.filter((m) => m.scenario === info.id && m.payloadBytes === payloadBytes);
  const base = rows.find((m) => m.system === BASELINE);
  const systems = new Map(report.systems.map((system) => [system.id, system]));
  const ceiling = ceilingFor(report.limits, payloadBytes);
  const fsyncMs = report.limits.smallSyncMs.p50;
  const label = (m: Measurement) => systems.get(m.system)?.label ?? m.system;
  const durability = (m: Measurement) => systems.get(m.system)?.durability ?? '';
  if (info.kind === 'throughput') {
    return markdownTable(
      ['system', 'durability', 'messages/s', '÷ Herald embedded', 'of ceiling', 'notes'],
      rows.map((m) => [
        label(m),
        durability(m),
        m.error === undefined ? format(m.perSecond) : 'failed',
        times(
          m.perSecond === undefined || base?.perSecond === undefined
            ? undefined
            : m.perSecond / base.perSecond,
        ),
        percent(m.perSecond === undefined ? undefined : m.perSecond / ceiling),
        m.error ?? m.note ?? '',
      ]),
      { align: ['left', 'left', 'right', 'right', 'right', 'left'] },
    );
  }
  if (info.kind === 'ack') {
    return markdownTable(
      [
        'system',
        'durability',
        'p50 ms',
        'p99 ms',
        'p99.9 ms',
        'messages/s',
        'p99 ÷ Herald embedded',
        'p99 ÷ fdatasync',
        'notes',
      ],
      rows.map((m) => [
        label(m),
        durability(m),
        ms(m.latencyMs?.p50),
        ms(m.latencyMs?.p99),
        ms(m.latencyMs?.p999),
        format(m.perSecond),
        times(
          m.latencyMs === undefined || base?.latencyMs === undefined
            ? undefined
            : m.latencyMs.p99 / base.latencyMs.p99,
        ),
        times(m.latencyMs === undefined ? undefined : m.latencyMs.p99 / fsyncMs),
        m.error ?? m.note ?? '',
      ]),
      { align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'] },
    );
  }
  return markdownTable(
    [
      'system',
      'durability',
      'achieved/s',
      'kept up',
      'p50 ms',
      'p99 ms',
      'p99 ÷ Herald embedded',
      'p99 ÷ fdatasync',
      'notes',
    ],
    rows.map((m) => [
      label(m),
      durability(m),
      format(m.perSecond),
      m.error !== undefined ? '' : m.keptUp === true ? 'yes' : '**NO**',
      ms(m.latencyMs?.p50),
      ms(m.latencyMs?.p99),
      times(
        m.latencyMs === undefined || base?.latencyMs === undefined
          ? undefined
          : m.latencyMs.p99 / base.latencyMs.p99,
      ),
      times(m.latencyMs === undefined ? undefined : m.latencyMs.p99 / fsyncMs),
      m.error ?? m.note ?? '',
    ]),
    { align: ['left', 'left', 'right', 'left', 'right', 'right', 'right', 'right', 'left'] },
  );
}

/** The headline: 100-byte (or the smallest measured) payload, one row per system. */
function headlineTable(report: Report): string {
  const payloadBytes = report.payloads[0]!;
  const find = (system: string, scenario: ScenarioId) =>
    report.measurements.find(
      (m) => m.system === system && m.scenario === scenario && m.payloadBytes === payloadBytes,
    );
  const base = find(BASELINE, 'produce');
  const ceiling = ceilingFor(report.limits, payloadBytes);
  return markdownTable(
    [
      'system',
      'durability',
      'produce msg/s',
      '÷ Herald embedded',
      'of ceiling',
      'ack p99 ms (1 out)',
      'end-to-end msg/s',
      '10k/s e2e p99 ms',
    ],
    report.systems.map((system) => {
      const produce = find(system.id, 'produce');
      const ack = find(system.id, 'ack-1');
      const e2e = find(system.id, 'end-to-end');
      const rate = find(system.id, 'rate-10000');
      return [
        system.label,
        system.durability,
        format(produce?.perSecond),
        times(
          produce?.perSecond === undefined || base?.perSecond === undefined
            ? undefined
            : produce.perSecond / base.perSecond,
        ),
        percent(produce?.perSecond === undefined ? undefined : produce.perSecond / ceiling),
        ms(ack?.latencyMs?.p99),
        format(e2e?.perSecond),
        rate === undefined
          ? ''
          : `${ms(rate.latencyMs?.p99)}${rate.keptUp === false ? ' (fell behind)' : ''}`,
      ];
    }),
    { align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'] },
  );
}

/** The goals from issue 9, read against this run's figures (not asserted). */
function goalLines(report: Report): string[] {
  const payloadBytes = report.payloads[0]!;
  const perSecond = (system: string) =>
    report.measurements.find(
      (m) => m.system === system && m.scenario === 'produce' && m.payloadBytes === payloadBytes,
    )?.perSecond;
  const herald = perSecond(BASELINE);
  if (herald === undefined) return ['Goals: Herald embedded was not measured.'];
  const batched = perSecond('herald-embedded-batch');
  const ceiling = ceilingFor(report.limits, payloadBytes);
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : 'NOT met');
  const against = (system: string, factor: number) => {
    const other = perSecond(system);
    const ratio = other === undefined ? undefined : herald / other;
    return `${times(ratio)} (goal ≥ ${factor}×: ${verdict(ratio === undefined ? undefined : ratio >= factor)})`;
  };
  const ack = report.measurements.find(
    (m) => m.system === BASELINE && m.scenario === 'ack-1' && m.payloadBytes === payloadBytes,
  )?.latencyMs?.p99;
  const ack64 = report.measurements.find(
    (m) => m.system === BASELINE && m.scenario === 'ack-64' && m.payloadBytes === payloadBytes,
  )?.latencyMs?.p99;
  return [
    `Goals (${payloadBytes} B, produce-only; read, not asserted):`,
    `- Herald embedded durable publish: ${format(herald)} msg/s = ${percent(herald / ceiling)} of the ceiling ${format(ceiling)} records/s (goal ≥ 70%: ${verdict(herald / ceiling >= 0.7)}). Single-record publishers are also bounded by about ${THROUGHPUT_OUTSTANDING} publishers × the fdatasync rate (≈ ${format(THROUGHPUT_OUTSTANDING * report.limits.smallSyncsPerSecond)}/s here): see docs/benchmarks.md.`,
    ...(batched === undefined
      ? []
      : [
          `- Herald embedded with ${BATCH} messages per publish (caller-side batching): ${format(batched)} msg/s = ${percent(batched / ceiling)} of the ceiling (goal ≥ 70%: ${verdict(batched / ceiling >= 0.7)}).`,
        ]),
    `- Herald embedded ÷ RabbitMQ quorum: ${against('rabbitmq-quorum', 20)}`,
    `- Herald embedded ÷ NATS JetStream: ${against('nats-jetstream', 10)}`,
    `- Herald embedded ack p99: ${ms(ack)} ms with 1 outstanding, ${ms(ack64)} ms with 64 (goal ≤ 1.5 ms: ${verdict(ack === undefined ? undefined : ack <= 1.5)} with 1 outstanding; fdatasync alone is p50 ${ms(report.limits.smallSyncMs.p50)} / p99 ${ms(report.limits.smallSyncMs.p99)} ms here)`,
  ];
}

function limitsTable(limits: Limits): string {
  return markdownTable(
    ['limit', 'figure', 'unit'],
    [
      [
        'fdatasync of 100-byte appends',
        format(limits.smallSyncsPerSecond),
        `syncs/s (p50 ${ms(limits.smallSyncMs.p50)} ms, p99 ${ms(limits.smallSyncMs.p99)} ms)`,
      ],
      [
        'sequential writes, fdatasync per 1 MiB',
        format(limits.sequentialBytesPerSecond / MEBIBYTE, 1),
        'MiB/s',
      ],
      [
        '1 MiB batches of 100-byte records, fdatasync per batch (durable-publish ceiling)',
        format(limits.batchedRecordsPerSecond),
        'records/s',
      ],
      [
        'ceiling for 1 KiB records (sequential bandwidth ÷ 1024)',
        format(limits.sequentialBytesPerSecond / 1024),
        'records/s',
      ],
      [
        'loopback TCP (node:net echo, 64 KiB writes)',
        format(limits.loopbackBytesPerSecond / MEBIBYTE, 1),
        'MiB/s',
      ],
      [
        'loopback 100-byte round trip',
        `${ms(limits.loopbackRoundTripMs.p50)} / ${ms(limits.loopbackRoundTripMs.p99)}`,
        'ms p50 / p99',
      ],
    ],
    { align: ['left', 'right', 'left'] },
  );
}

function markdownReport(report: Report, charts: readonly string[]): string {
  const { machine } = report;
  const lines: string[] = [
    '## Herald and its peers',
    '',
    `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}. ` +
      `Load average at start ${machine.loadAverage.join(' / ')}, at end ${machine.loadAverageEnd.join(' / ')}.`,
    `Versions: ${Object.entries(report.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    `Budget per row: ${report.budget.durationMs} ms or ${format(report.budget.messages)} messages, whichever first${report.quick ? ' (--quick: figures not judged)' : ''}.`,
  ];
  if (loadIsHigh(machine.loadAverage, machine.cores) || loadIsHigh(machine.loadAverageEnd, machine.cores)) {
    lines.push(
      '',
      `**Warning: the machine was busy (1-minute load ≥ ${machine.cores} cores at start or end): absolute figures are low and noisy; read the ratios.**`,
    );
  }
  lines.push('', '### Limits (measured first)', '', limitsTable(report.limits));
  lines.push('', '### Systems and durability classes', '');
  lines.push(
    markdownTable(
      ['system', 'class', 'what is durable when the ack arrives'],
      report.systems.map((system) => [system.label, system.durability, system.durabilityNote]),
    ),
  );
  for (const skipped of report.skipped) lines.push('', `Skipped ${skipped.label}: ${skipped.reason}`);
  for (const note of report.notes) lines.push('', `Note: ${note}`);
  lines.push(
    '',
    `### Headline (${report.payloads[0]} B)`,
    '',
    headlineTable(report),
    '',
    ...goalLines(report),
  );
  for (const payloadBytes of report.payloads) {
    lines.push('', `### ${payloadBytes === 1024 ? '1 KiB' : `${payloadBytes} B`} payloads`);
    for (const info of SCENARIOS) {
      lines.push('', `#### ${info.title}, ${payloadBytes} B`, '', scenarioTable(report, info, payloadBytes));
    }
  }
  lines.push(
    '',
    'Ratios: "÷ Herald embedded" divides the row by the Herald embedded row of the same table (throughput: above 1× is faster; latency: above 1× is slower). "of ceiling" divides by the durable-publish ceiling for the payload; "÷ fdatasync" divides by the median fdatasync of a small append. Rows of class "page cache" or "memory" do not wait for the disk, so they can pass the ceiling.',
  );
  if (charts.length > 0) lines.push('', `Charts: ${charts.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

const COLOURS: Record<DurabilityClass, string> = {
  fsync: '#2e86de',
  'page cache': '#f0ad4e',
  memory: '#d9534f',
};

function writeCharts(report: Report, directory: string): string[] {
  const systems = new Map(report.systems.map((system) => [system.id, system]));
  const files: string[] = [];
  for (const payloadBytes of report.payloads) {
    const of = (scenario: ScenarioId) =>
      report.measurements.filter((m) => m.scenario === scenario && m.payloadBytes === payloadBytes);
    const bars = (scenario: ScenarioId, value: (m: Measurement) => number | undefined) =>
      of(scenario).map((m) => {
        const system = systems.get(m.system);
        return {
          label: system?.label ?? m.system,
          note: system?.durability,
          value: value(m),
          colour: system === undefined ? undefined : COLOURS[system.durability],
        };
      });
    const produce = barChartSvg({
      title: `Produce-only throughput, ${payloadBytes} B (blue: fsync; orange: page cache; red: memory)`,
      unit: 'messages/s',
      bars: bars('produce', (m) => m.perSecond),
      reference: { label: 'ceiling', value: ceilingFor(report.limits, payloadBytes) },
      logScale: true,
    });
    files.push(writeResult(directory, `peers-produce-${payloadBytes}.svg`, produce));
    const ack = barChartSvg({
      title: `Ack latency p99 with 1 outstanding, ${payloadBytes} B`,
      unit: 'milliseconds (lower is better)',
      bars: bars('ack-1', (m) => m.latencyMs?.p99),
      reference: { label: 'fdatasync p50', value: report.limits.smallSyncMs.p50 },
      logScale: true,
    });
    files.push(writeResult(directory, `peers-ack-latency-${payloadBytes}.svg`, ack));
    const e2e = barChartSvg({
      title: `End-to-end throughput, one group, ${payloadBytes} B`,
      unit: 'messages/s',
      bars: bars('end-to-end', (m) => m.perSecond),
      logScale: true,
    });
    files.push(writeResult(directory, `peers-end-to-end-${payloadBytes}.svg`, e2e));
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Entry point

/** Entry point used by `bench/run.ts`. */
export async function run(args: string[]): Promise<void> {
  const { quick, json, strings: values } = parseBenchArgs(args, ['messages', 'payload', 'systems', 'out']);
  const budget: Budget = {
    durationMs: quick ? 400 : 2500,
    messages: values.messages === undefined ? (quick ? 50_000 : 500_000) : Number(values.messages),
    drainMs: quick ? 5000 : 15_000,
    warmUpMs: quick ? 10_000 : 30_000,
  };
  if (!Number.isInteger(budget.messages) || budget.messages < 10)
    throw new Error('--messages: an integer ≥ 10');
  const payloads = values.payload === undefined ? (quick ? [100] : [100, 1024]) : [Number(values.payload)];
  if (payloads.some((bytes) => !Number.isInteger(bytes) || bytes < 16 || bytes > MEBIBYTE)) {
    throw new Error('--payload: bytes from 16 to 1 MiB');
  }
  const wanted = values.systems?.split(',').map((id) => id.trim());
  const outDirectory = values.out ?? RESULTS_DIR;
  const facts = machineFacts();
  const runId = randomUUID().slice(0, 8);
  const scratch = await tempDir('herald-peers-bench');
  const limitSteps = 4;
  const progress = progressBar(SUITE, limitSteps + 13);
  const skipped: Skipped[] = [];
  const notes: string[] = [];
  const versions: Record<string, string> = { node: process.version };
  const systems: System[] = [];
  const closers: (() => Promise<void>)[] = [];
  const measurements: Measurement[] = [];
  try {
    if (loadIsHigh(facts.loadAverage, facts.cores)) {
      progress.note(
        `warning: load average ${facts.loadAverage[0]} on ${facts.cores} cores; figures will be noisy`,
      );
    }
    const limits = await measureLimits(scratch.path, quick ? 300 : 1500, progress);

    const include = (id: string) => wanted === undefined || wanted.includes(id);
    const attempt = async (id: string, label: string, open: () => Promise<System>): Promise<void> => {
      if (!include(id)) return;
      progress.note(`connecting: ${label}`);
      try {
        const system = await open();
        systems.push(system);
        closers.push(system.close);
      } catch (error) {
        skipped.push({ id, label, reason: (error as Error).message });
      }
      progress.tick(`ready: ${label}`);
    };
    const peerDown: Record<string, string | undefined> = {};
    for (const peer of ['rabbitmq', 'nats', 'redis'] as const) {
      const needed =
        peer === 'rabbitmq'
          ? ['herald-rabbitmq', 'rabbitmq-quorum', 'rabbitmq-classic', 'rabbitmq-stream'].some(include)
          : include(peer === 'nats' ? 'nats-jetstream' : 'redis-streams');
      if (needed) peerDown[peer] = await ensurePeer(peer, progress);
    }
    const skipPeer = (peer: string, id: string, label: string): boolean => {
      const reason = peerDown[peer];
      if (reason === undefined || !include(id)) return false;
      skipped.push({ id, label, reason });
      progress.tick(`skipped: ${label}`);
      return true;
    };

    await attempt('herald-embedded', 'Herald embedded (transport)', () =>
      heraldEmbedded(path.join(scratch.path, 'embedded')),
    );
    await attempt('herald-embedded-batch', 'Herald embedded, batched', () =>
      heraldEmbeddedBatch(path.join(scratch.path, 'embedded-batch')),
    );
    await attempt('herald-bus', 'Herald embedded (bus)', () => heraldBus(path.join(scratch.path, 'bus')));
    let heraldServePort: number | undefined;
    await attempt('herald-serve', 'herald serve (Kafka protocol)', async () => {
      const serve = await heraldServe(path.join(scratch.path, 'serve'));
      closers.push(serve.stop);
      const kafkaPackage = JSON.parse(
        fs.readFileSync(
          path.join(import.meta.dirname, '../node_modules/@platformatic/kafka/package.json'),
          'utf8',
        ),
      ) as { version: string };
      versions['@platformatic/kafka'] = kafkaPackage.version;
      heraldServePort = serve.port;
      return serve.system;
    });
    if (heraldServePort !== undefined) {
      const port = heraldServePort;
      await attempt('herald-kafka', 'Herald-on-Kafka (transport)', async () =>
        heraldKafka(`127.0.0.1:${port}`),
      );
    }
    let apacheKafkaBootstrap: string | undefined;
    for (const fsyncEveryMessage of [false, true]) {
      const id = fsyncEveryMessage ? 'apache-kafka-fsync' : 'apache-kafka';
      await attempt(id, fsyncEveryMessage ? 'Apache Kafka (fsync per message)' : 'Apache Kafka', async () => {
        const kafka = await apacheKafka(fsyncEveryMessage);
        closers.push(kafka.stop);
        versions['apache-kafka'] = kafkaVersion();
        if (!fsyncEveryMessage) apacheKafkaBootstrap = kafka.bootstrap;
        return kafka.system;
      });
    }
    if (apacheKafkaBootstrap !== undefined) {
      const bootstrap = apacheKafkaBootstrap;
      // The transport batches concurrent publishes into one produce request; the raw client rows
      // send a request per message. Both against the same broker show which one bounds the figure.
      await attempt('herald-kafka-apache', 'Herald-on-Kafka (transport → Apache Kafka)', async () =>
        heraldKafka(bootstrap, {
          id: 'herald-kafka-apache',
          label: 'Herald-on-Kafka (transport → Apache Kafka)',
          durability: 'page cache',
          durabilityNote: 'kafkaTransport: acks=all, idempotent producer; Apache Kafka default flush policy',
        }),
      );
    } else if (include('herald-kafka-apache')) {
      const reason = skipped.find((skip) => skip.id === 'apache-kafka')?.reason ?? 'not selected';
      skipped.push({
        id: 'herald-kafka-apache',
        label: 'Herald-on-Kafka (transport → Apache Kafka)',
        reason: `needs the Apache Kafka row: ${reason}`,
      });
    }
    if (!skipPeer('rabbitmq', 'herald-rabbitmq', 'Herald-on-RabbitMQ')) {
      await attempt('herald-rabbitmq', 'Herald-on-RabbitMQ', () => heraldRabbitMq(runId));
    }
    for (const kind of ['quorum', 'classic', 'stream'] as const) {
      if (!skipPeer('rabbitmq', `rabbitmq-${kind}`, `RabbitMQ ${kind}`)) {
        await attempt(`rabbitmq-${kind}`, `RabbitMQ ${kind}`, () => rabbitMqRaw(kind, runId));
      }
    }
    if (!skipPeer('nats', 'nats-jetstream', 'NATS JetStream')) {
      await attempt('nats-jetstream', 'NATS JetStream', async () => {
        const nats = await natsJetStream(runId);
        versions['nats-server'] = nats.version;
        notes.push(
          `NATS JetStream ${nats.version} acknowledges a publish once the message is written to its file store, before fsync. ` +
            '"sync always" (`jetstream { sync_interval: always }`) is a server-wide setting added in nats-server 2.10; ' +
            `this server is ${nats.version}, started with fixed flags (-js, no config file), so only the default was measured.`,
        );
        return nats.system;
      });
    }
    if (!skipPeer('redis', 'redis-streams', 'Redis Streams')) {
      await attempt('redis-streams', 'Redis Streams', async () => {
        const redis = await redisStreams(runId);
        versions['redis-server'] = redis.version;
        notes.push(
          `Redis ${redis.version} runs with ${redis.persistence}: its rows are memory-only; a crash loses everything acknowledged.`,
        );
        return redis.system;
      });
    }
    if (systems.some((system) => system.id.startsWith('rabbitmq') || system.id === 'herald-rabbitmq')) {
      versions.rabbitmq = await rabbitVersion();
    }
    for (const name of ['amqplib', 'nats', 'ioredis']) {
      const file = path.join(import.meta.dirname, `../node_modules/${name}/package.json`);
      if (fs.existsSync(file))
        versions[name] = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    }

    progress.grow(
      payloads.length *
        systems.reduce((sum, system) => sum + (system.scenarios?.length ?? SCENARIOS.length), 0),
    );
    for (const payloadBytes of payloads) {
      for (const info of SCENARIOS) {
        for (const system of systems) {
          if (system.scenarios !== undefined && !system.scenarios.includes(info.id)) continue;
          progress.note(`${payloadBytes} B ${info.id}: ${system.label}`);
          const base = { scenario: info.id, payloadBytes, system: system.id };
          try {
            const result =
              info.kind === 'throughput'
                ? await measureThroughput(system, info.id as 'produce', payloadBytes, budget)
                : info.kind === 'ack'
                  ? await measureAckLatency(system, info.outstanding!, payloadBytes, budget)
                  : await measureFixedRate(system, info.rate!, payloadBytes, budget);
            measurements.push({ ...base, ...result });
          } catch (error) {
            measurements.push({
              ...base,
              messages: 0,
              error: (error as Error).message.split('\n')[0]!.slice(0, 160),
            });
          }
          progress.tick(`${payloadBytes} B ${info.id}: ${system.label}`);
        }
      }
    }
    progress.done();
    const report: Report = {
      suite: 'peers',
      quick,
      budget,
      payloads,
      machine: { ...facts, loadAverageEnd: machineFacts().loadAverage },
      versions,
      limits,
      systems: systems.map(({ id, label, durability, durabilityNote }) => ({
        id,
        label,
        durability,
        durabilityNote,
      })),
      skipped,
      notes,
      measurements,
    };
    const charts = writeCharts(report, outDirectory).map((file) => path.relative(process.cwd(), file));
    const jsonText = `${JSON.stringify(report, null, 2)}\n`;
    writeResult(outDirectory, 'peers.json', jsonText);
    process.stdout.write(json ? jsonText : markdownReport(report, charts));
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    await scratch.remove();
  }
}

async function rabbitVersion(): Promise<string> {
  const connection = await amqpConnect(RABBITMQ_URL);
  const version = (connection.connection as unknown as { serverProperties?: { version?: string } })
    .serverProperties?.version;
  await connection.close();
  return version ?? 'unknown';
}
