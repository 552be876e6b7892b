/**
 * Rebalance with two consumer processes against `herald serve`: this process consumes a 4-partition
 * topic in group `g`; a child process joins the group and the partitions split between them; the
 * child is killed with SIGKILL mid-stream and this process gets every partition back. No message
 * is lost; a message is handled by both only if the child had it in flight or acked but not yet
 * committed when it died (what the bus's idempotency store absorbs); the group ends with every
 * partition committed to its end.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually } from '@herald/test-support';
import { kafkaTransport } from '@herald/transport-kafka';
import { Consumer } from '@platformatic/kafka';
import { startServe } from './support.ts';

const MEMBER = fileURLToPath(new URL('./rebalance-member.ts', import.meta.url));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

test('rebalance - a second process takes half the partitions; killed -9, the survivor takes them all; nothing lost', {
  timeout: 90_000,
}, async (t) => {
  const serve = await startServe(4);
  const topic = 'rebalance';
  const group = 'g';
  const transport = await kafkaTransport({
    brokers: [serve.bootstrap],
    clientId: 'rebalance-parent',
    sessionTimeoutMs: 6_000,
  });
  try {
    const parent: { id: string; partition: number }[] = [];
    await transport.subscribe({ topic, group, inFlightMax: 8 }, async (message) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      await message.ack();
      parent.push({ id: message.headers['x-id']!, partition: message.partition });
    });
    let published = 0;
    const publish = async (count: number) => {
      const batch = Array.from({ length: count }, (_, index) => {
        const id = `m${published + index}`;
        return {
          key: `k${(published + index) % 40}`,
          headers: { 'x-id': id },
          body: new TextEncoder().encode(id),
        };
      });
      published += count;
      await transport.publish(topic, batch);
    };
    await publish(100);
    await eventually(
      () => parent.length >= 100,
      () => `parent to handle the first 100 (has ${parent.length})`,
    );

    const child = spawn(process.execPath, [MEMBER, serve.bootstrap, topic, group], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HERALD_KAFKA_DEBUG: '1' },
    });
    children.push(child);
    const childExit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const childAcked: { id: string; partition: number; offset: bigint }[] = [];
    /** The child's last completed commit per partition (from its debug trace). */
    const childCommitted = new Map<number, bigint>();
    let childOut = '';
    let childErr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      childOut += chunk;
      const lines = childOut.split('\n');
      childOut = lines.pop()!;
      for (const line of lines) {
        const match = /^acked (\S+) (\d+) (\d+)/.exec(line);
        if (match !== null)
          childAcked.push({ id: match[1]!, partition: Number(match[2]), offset: BigInt(match[3]!) });
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      childErr += chunk;
      for (const match of chunk.matchAll(/ committed ((?:\d+@\d+ ?)+)/g)) {
        for (const point of match[1]!.trim().split(' ')) {
          const [partition, offset] = point.split('@');
          childCommitted.set(Number(partition), BigInt(offset!));
        }
      }
    });
    // Keep publishing until the child has handled messages: the partitions are split.
    const splitDeadline = performance.now() + 30_000;
    while (childAcked.length < 50) {
      assert.ok(performance.now() < splitDeadline, `the child never got partitions; stderr: ${childErr}`);
      await publish(20);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const childPartitions = new Set(childAcked.map((entry) => entry.partition));
    const parentIndexAtSplit = parent.length;
    await publish(100);
    await eventually(
      () => parent.length > parentIndexAtSplit + 10,
      () => 'the parent to keep handling after the split',
    );
    const parentPartitionsAfterSplit = new Set(
      parent.slice(parentIndexAtSplit + 10).map((entry) => entry.partition),
    );
    t.diagnostic(
      `split: child had partitions ${[...childPartitions].join(',')}, parent ${[...parentPartitionsAfterSplit].join(',')}`,
    );
    for (const partition of parentPartitionsAfterSplit) {
      assert.ok(
        !childPartitions.has(partition),
        `partition ${partition} delivered to both members after the split`,
      );
    }
    assert.ok(childPartitions.size > 0 && childPartitions.size < 4, 'the partitions are split');

    // The duplicates check below reads against the child's last completed commit, so let one
    // complete first (commits run every commitIntervalMs, 100 ms; on a loaded machine the child
    // could otherwise die before its first and the check would have nothing to read).
    await eventually(
      () => childCommitted.size > 0,
      () => `the child to complete a commit; stderr: ${childErr.slice(-2000)}`,
      30_000,
    );
    // Kill the child mid-stream and keep publishing: the survivor must get every partition.
    child.kill('SIGKILL');
    await childExit;
    const childAckedAtKill = new Set(childAcked.map((entry) => entry.id));
    const parentIndexAtKill = parent.length;
    await publish(200);
    const all = () => new Set([...parent.map((entry) => entry.id), ...childAckedAtKill]);
    await eventually(
      () => all().size === published,
      () => `every message handled by someone (${all().size} of ${published})`,
      45_000,
    );
    const parentPartitionsAtEnd = new Set(parent.slice(parentIndexAtKill).map((entry) => entry.partition));
    assert.deepEqual([...parentPartitionsAtEnd].sort(), [0, 1, 2, 3], 'the survivor owns every partition');

    const parentIds = parent.map((entry) => entry.id);
    assert.equal(new Set(parentIds).size, parentIds.length, 'the parent handled nothing twice');
    const twice = parentIds.filter((id) => childAckedAtKill.has(id));
    t.diagnostic(
      `${published} messages; child handled ${childAckedAtKill.size}; handled by both: ${twice.length}`,
    );
    // Handled by both only what the child had not committed when it died: every such message is at
    // or above the child's last completed commit of its partition. Nothing committed is redelivered.
    assert.ok(
      childCommitted.size > 0,
      `the child's commits were not traced; stderr: ${childErr.slice(-2000)}`,
    );
    const childById = new Map(childAcked.map((entry) => [entry.id, entry]));
    for (const id of twice) {
      const entry = childById.get(id)!;
      const committed = childCommitted.get(entry.partition) ?? -1n;
      assert.ok(
        entry.offset >= committed,
        `${id} (partition ${entry.partition}, offset ${entry.offset}) was committed by the child (at ${committed}) and delivered again`,
      );
    }

    // Everything is committed: a fresh look at the group's offsets finds every partition at its end.
    const probe = new Consumer({ clientId: 'probe', groupId: group, bootstrapBrokers: [serve.bootstrap] });
    try {
      await eventually(
        async () => {
          const committed = (
            await probe.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1, 2, 3] }] })
          ).get(topic)!;
          const ends = (await probe.listOffsets({ topics: [topic] })).get(topic)!;
          return [0, 1, 2, 3].every((partition) => committed[partition] === ends[partition]);
        },
        () => 'every partition committed to its end',
      );
    } finally {
      await probe.close();
    }
  } finally {
    await transport.close();
    await serve.stop();
  }
});
