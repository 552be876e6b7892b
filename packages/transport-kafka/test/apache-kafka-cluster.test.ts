/**
 * The transport on a real three-node Apache Kafka cluster (see ./apache-kafka-cluster.ts:
 * replication factor 3, `min.insync.replicas=2`), one cluster for the whole file:
 *
 * - failover: two producers (the transport's, acks=all, idempotent) and a group of three member
 *   processes run while the leader of a partition is killed with SIGKILL; every confirmed message
 *   is consumed, per-key order holds, duplicates are only deliveries above the commit in force;
 *   the time from the kill to the next confirmed publish and the next consumed message is printed.
 * - rebalance under load: members join and leave (SIGTERM) while publishing continues, against
 *   Kafka's own group coordinator (classic protocol, the transport's subscription-aware assignor).
 * - KIP-848: the same churn with `@platformatic/kafka`'s own consumer on the new consumer group
 *   protocol (`groupProtocol: 'consumer'`, ConsumerGroupHeartbeat, server-side assignment). The
 *   transport does not use that protocol (README, "Rebalances"); this records what the client does.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TransportError } from '@herald/bus';
import { eventually } from '@herald/test-support';
import { startKafkaCluster } from '@herald/test-support/apache-kafka';
import { type KafkaTransport, kafkaTransport } from '@herald/transport-kafka';
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes } from '@platformatic/kafka';
import { checkDeliveries, type Delivery, GroupMembers } from './group-members.ts';

const cluster = await startKafkaCluster({
  partitions: 4,
  // Move leadership back to the preferred replica soon after a node returns (default 300 s), so
  // the members also see their partitions' leaders change while the node is back.
  settings: { 'leader.imbalance.check.interval.seconds': 5 },
});
after(() => cluster.stop());
console.error(`# three-node Kafka cluster started in ${cluster.startMs} ms`);

const KEYS_PER_PRODUCER = 20;

/** A producer publishing rounds of one message per key until stopped; message ids `p<n>k<key>#<round>`. */
class RoundProducer {
  readonly confirmed = new Set<string>();
  readonly roundStartMs: number[] = [];
  readonly confirmedAtMs: number[] = [];
  rejections = 0;
  /** Rejections that were not a retriable `TransportError` (the application could not know to re-send). */
  fatalRejections = 0;
  readonly errors: string[] = [];
  #stopped = false;
  #loop: Promise<void> | undefined;
  readonly #transport: KafkaTransport;
  readonly #name: string;
  readonly #topic: string;

  constructor(transport: KafkaTransport, name: string, topic: string) {
    this.#transport = transport;
    this.#name = name;
    this.#topic = topic;
  }

  get rounds(): number {
    return this.confirmedAtMs.length;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  async #run(): Promise<void> {
    for (let round = 0; !this.#stopped; round++) {
      const messages = Array.from({ length: KEYS_PER_PRODUCER }, (_, key) => {
        const id = `${this.#name}k${key}#${round}`;
        return { key: `${this.#name}k${key}`, headers: { 'x-id': id }, body: new TextEncoder().encode(id) };
      });
      this.roundStartMs.push(Date.now());
      // A rejected publish is sent again, as an application would (at least once); counted.
      for (;;) {
        try {
          await this.#transport.publish(this.#topic, messages);
          break;
        } catch (error) {
          this.rejections += 1;
          if (!(error instanceof TransportError && error.retriable)) this.fatalRejections += 1;
          this.errors.push(`${new Date().toISOString()} ${(error as Error).message}`);
          if (this.rejections > 20) throw new Error(`${this.#name}: publish keeps failing`);
        }
      }
      this.confirmedAtMs.push(Date.now());
      for (const message of messages) this.confirmed.add(message.headers['x-id']);
      await new Promise((resolve) => setTimeout(resolve, 10)); // Pacing: about 50 rounds a second.
    }
  }
}

/** `p0k3#17` → [`p0k3`, 17]. */
function sequenceOf(id: string): [string, number] {
  const [key, round] = id.split('#');
  return [key!, Number(round)];
}

test('cluster failover - the leader of a partition killed -9 under producers and a group of three processes', {
  timeout: 150_000,
}, async (t) => {
  const topic = 'failover';
  const group = 'failover-group';
  const producers: RoundProducer[] = [];
  const transports: KafkaTransport[] = [];
  const members = new GroupMembers(cluster.brokers, topic, group);
  let killed: number | undefined;
  try {
    for (const name of ['p0', 'p1']) {
      const transport = await kafkaTransport({ brokers: [...cluster.brokers], clientId: `producer-${name}` });
      transports.push(transport);
      producers.push(new RoundProducer(transport, name, topic));
    }
    // The first publish creates the topic with the cluster's defaults: 4 partitions, 3 replicas.
    await transports[0]!.publish(topic, [
      { key: 'warm-up', headers: { 'x-id': 'warm-up#0' }, body: new Uint8Array() },
    ]);
    await Promise.all([members.add(), members.add(), members.add()]);
    for (const producer of producers) producer.start();
    await eventually(
      () => new Set(members.deliveries.map((delivery) => delivery.member)).size === 3,
      () => `every member to handle messages (${members.deliveries.length} handled)`,
      60_000,
    );
    await eventually(
      () => producers.every((producer) => producer.rounds >= 50),
      () => 'fifty rounds from each producer before the kill',
      60_000,
    );

    // The worst case: the node that coordinates the group and leads a partition (every node leads
    // at least one of the four).
    const roles = await cluster.roles(group);
    const leaders = await Promise.all([0, 1, 2, 3].map((partition) => cluster.leaderOf(topic, partition)));
    const partition = Math.max(0, leaders.indexOf(roles.coordinator));
    killed = leaders[partition]!;
    const killedAtMs = Date.now();
    await cluster.kill(killed);
    const roundsAtKill = producers.map((producer) => producer.roundStartMs.length);
    t.diagnostic(
      `killed node ${killed} (leader of ${topic}/${partition}) with SIGKILL; the controller was node ` +
        `${roles.controller}, the coordinator of ${group} node ${roles.coordinator}`,
    );
    const newLeader = await cluster.leaderOf(topic, partition, { accept: (leader) => leader !== killed });
    const electedMs = Date.now() - killedAtMs;

    // Recovery: the first confirmation of a round started after the kill, and the first delivery
    // of a message from such a round.
    const afterKill = (id: string) => {
      const producer = Number(id.slice(1, id.indexOf('k')));
      return sequenceOf(id)[1] >= roundsAtKill[producer]!;
    };
    await eventually(
      () => members.deliveries.some((delivery) => afterKill(delivery.id)),
      () => 'a message published after the kill to be consumed',
      60_000,
    );
    const consumedMs =
      Math.min(
        ...members.deliveries.filter((delivery) => afterKill(delivery.id)).map((delivery) => delivery.timeMs),
      ) - killedAtMs;

    // Keep going a while after the recovery, then stop publishing and let the group drain.
    const target = producers.map((producer) => producer.rounds + 50);
    await eventually(
      () => producers.every((producer, index) => producer.rounds >= target[index]!),
      () => 'fifty more rounds after the failover',
      60_000,
    );
    await Promise.all(producers.map((producer) => producer.stop()));
    const publishedMs =
      Math.min(...producers.map((producer, index) => producer.confirmedAtMs[roundsAtKill[index]!]!)) -
      killedAtMs;
    const confirmed = new Set(producers.flatMap((producer) => [...producer.confirmed]));
    await eventually(
      () => [...confirmed].every((id) => members.consumedIds().has(id)),
      () => `every confirmed message consumed (${members.consumedIds().size} of ${confirmed.size})`,
      60_000,
    );
    const report = checkDeliveries(confirmed, members.deliveries, members.commits, sequenceOf);
    const rejections = producers.reduce((sum, producer) => sum + producer.rejections, 0);
    t.diagnostic(
      `${confirmed.size} messages confirmed and consumed; ${report.duplicates.length} delivered twice; ` +
        `${rejections} publishes rejected; new leader of ${topic}/${partition}: node ${newLeader} after ${electedMs} ms`,
    );
    t.diagnostic(
      `recovery: next confirmed publish ${publishedMs} ms after the kill, next consumed message ${consumedMs} ms`,
    );
    for (const producer of producers) for (const error of producer.errors) t.diagnostic(`rejected: ${error}`);
    for (const member of members.members) {
      const warnings = member.stderr().match(/Warning: .*/g) ?? [];
      if (warnings.length > 0) t.diagnostic(`member ${member.index}: ${warnings.slice(0, 5).join(' | ')}`);
    }
    assert.deepEqual(report.missing, [], 'every confirmed message consumed');
    assert.deepEqual(report.orderViolations, [], 'per-key order');
    assert.deepEqual(report.belowCommit, [], 'duplicates only above the commit in force');
    // The producer's ~31 s of retries rides out an election in most runs (0 rejected), but
    // @platformatic/kafka 2.x sometimes keeps sending to the fenced leader after the new one is
    // elected (seen in 3 runs of many under CI load: NOT_LEADER_OR_FOLLOWER 33 times); the publish
    // then rejects as retriable and the application's re-send delivers it. What must hold: no
    // confirmed message lost (above), and every rejection retriable and rare.
    const fatal = producers.reduce((sum, producer) => sum + producer.fatalRejections, 0);
    assert.equal(fatal, 0, 'every rejected publish is a retriable TransportError');
    assert.ok(rejections <= 4, `at most a few publishes rejected during the election (${rejections})`);

    // The node comes back and catches up; the cluster serves with all three again.
    await cluster.start(killed);
    killed = undefined;
  } finally {
    await Promise.all(producers.map((producer) => producer.stop().catch(() => {})));
    members.killAll();
    await Promise.all(transports.map((transport) => transport.close({ timeoutMs: 5_000 })));
    if (killed !== undefined) await cluster.start(killed).catch(() => {});
  }
});

test('cluster rebalance - members join and leave under load; nothing lost, per-key order holds', {
  timeout: 150_000,
}, async (t) => {
  const topic = 'churn';
  const group = 'churn-group';
  const transport = await kafkaTransport({ brokers: [...cluster.brokers], clientId: 'churn-producer' });
  const producer = new RoundProducer(transport, 'p0', topic);
  const members = new GroupMembers(cluster.brokers, topic, group);
  try {
    await transport.publish(topic, [
      { key: 'warm-up', headers: { 'x-id': 'warm-up#0' }, body: new Uint8Array() },
    ]);
    const first = await members.add();
    producer.start();
    /** Waits until `member` handled a message published after now. */
    const handlesNewMessages = async (index: number, what: string) => {
      const round = producer.roundStartMs.length;
      await eventually(
        () =>
          members.deliveries.some(
            (delivery) => delivery.member === index && sequenceOf(delivery.id)[1] > round,
          ),
        () => `${what}: member ${index} to handle new messages`,
        60_000,
      );
    };
    await handlesNewMessages(first.index, 'start');
    // Join, join, leave, join, leave, leave: every step under load, each waiting for the
    // rebalance to complete (the member that stays or joins handles messages published after it).
    const second = await members.add();
    await handlesNewMessages(second.index, 'second joined');
    const third = await members.add();
    await handlesNewMessages(third.index, 'third joined');
    await members.leave(first);
    await handlesNewMessages(second.index, 'first left');
    const fourth = await members.add();
    await handlesNewMessages(fourth.index, 'fourth joined');
    await members.leave(second);
    await members.leave(third);
    await handlesNewMessages(fourth.index, 'second and third left');

    await producer.stop();
    await eventually(
      () => [...producer.confirmed].every((id) => members.consumedIds().has(id)),
      () => `every confirmed message consumed (${members.consumedIds().size} of ${producer.confirmed.size})`,
      60_000,
    );
    const report = checkDeliveries(producer.confirmed, members.deliveries, members.commits, sequenceOf);
    const byMember = members.members.map(
      (member) => members.deliveries.filter((delivery) => delivery.member === member.index).length,
    );
    t.diagnostic(
      `${producer.confirmed.size} messages; 4 joins, 3 leaves; handled per member ${byMember.join('/')}; ` +
        `${report.duplicates.length} delivered twice; ${producer.rejections} publishes rejected`,
    );
    assert.deepEqual(report.missing, [], 'every confirmed message consumed');
    assert.deepEqual(report.orderViolations, [], 'per-key order');
    assert.deepEqual(report.belowCommit, [], 'duplicates only above the commit in force');
  } finally {
    await producer.stop().catch(() => {});
    members.killAll();
    await transport.close();
  }
});

test('cluster KIP-848 - @platformatic/kafka consumers on group.protocol=consumer join and leave under load; nothing lost', {
  timeout: 120_000,
}, async (t) => {
  const topic = 'kip848';
  const group = 'kip848-group';
  const transport = await kafkaTransport({ brokers: [...cluster.brokers], clientId: 'kip848-producer' });
  const producer = new RoundProducer(transport, 'p0', topic);
  const deliveries: Delivery[] = [];
  const members: { consumer: Consumer; close(): Promise<void> }[] = [];
  /** A consumer on the new protocol; each message it reads is recorded (read = handled here). */
  const join = async () => {
    const index = members.length;
    const consumer = new Consumer({
      clientId: `kip848-${index}`,
      groupId: group,
      groupProtocol: 'consumer',
      bootstrapBrokers: [...cluster.brokers],
    });
    const stream = await consumer.consume({
      topics: [topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: 100,
    });
    stream.on('data', (message: { value: Buffer; partition: number; offset: bigint }) => {
      const id = message.value.toString();
      deliveries.push({
        member: index,
        id,
        partition: message.partition,
        offset: message.offset,
        timeMs: Date.now(),
      });
    });
    stream.on('error', () => {});
    const member = {
      consumer,
      close: async () => {
        await stream.close().catch(() => {});
        await consumer.close(true).catch(() => {});
      },
    };
    members.push(member);
    return index;
  };
  const handlesNewMessages = async (index: number, what: string) => {
    const round = producer.roundStartMs.length;
    await eventually(
      () => deliveries.some((delivery) => delivery.member === index && sequenceOf(delivery.id)[1] > round),
      () => `${what}: consumer ${index} to read new messages`,
      60_000,
    );
  };
  try {
    await transport.publish(topic, [
      { key: 'warm-up', headers: { 'x-id': 'warm-up#0' }, body: new TextEncoder().encode('warm-up#0') },
    ]);
    const first = await join();
    producer.start();
    await handlesNewMessages(first, 'start');
    const second = await join();
    await handlesNewMessages(second, 'second joined');
    const third = await join();
    await handlesNewMessages(third, 'third joined');
    await members[first]!.close();
    await handlesNewMessages(second, 'first left');
    await members[second]!.close();
    await handlesNewMessages(third, 'second left');
    await producer.stop();
    await eventually(
      () => [...producer.confirmed].every((id) => deliveries.some((delivery) => delivery.id === id)),
      () =>
        `every confirmed message read (${new Set(deliveries.map((d) => d.id)).size} of ${producer.confirmed.size})`,
      60_000,
    );
    const report = checkDeliveries(producer.confirmed, deliveries, [], sequenceOf);
    const byMember = members.map(
      (_, index) => deliveries.filter((delivery) => delivery.member === index).length,
    );
    t.diagnostic(
      `KIP-848: ${producer.confirmed.size} messages; 3 joins, 2 leaves; read per consumer ${byMember.join('/')}; ` +
        `${report.duplicates.length} read twice`,
    );
    assert.deepEqual(report.missing, [], 'every confirmed message read');
    assert.deepEqual(report.orderViolations, [], 'per-key order');
  } finally {
    await producer.stop().catch(() => {});
    for (const member of members) await member.close();
    await transport.close();
  }
});
