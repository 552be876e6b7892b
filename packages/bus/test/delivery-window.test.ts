import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReceivedMessage } from '@herald/bus';
import {
  Delivered,
  DeliveryWindow,
  type DeliveryWindowSource,
  HANDLED,
  KeyedFifo,
  type PendingEntry,
  waitingEntry,
} from '@herald/bus/internal';
import { InvariantError } from '@herald/errors';
import { eventually } from '@herald/test-support';

interface TestEntry extends PendingEntry {
  readonly id: string;
  readonly key: string | undefined;
  readonly partition: number;
}

/** Windows of entries `id` with keys, counting unsettled entries as the memory transport does. */
function fixture(
  windows: (readonly [id: string, key: string | undefined][])[],
  extra: Partial<DeliveryWindowSource<TestEntry>> = {},
) {
  const acked: string[] = [];
  const lists = windows.map((entries, partition) => {
    const list = new KeyedFifo<TestEntry>({ entriesMax: 100, counting: 'unsettled' });
    for (const [id, key] of entries) list.enqueue({ id, key, partition, ...waitingEntry() }, key);
    return list;
  });
  const window = new DeliveryWindow<TestEntry>({
    windows: () => lists,
    message: (entry, attempt, hold) =>
      Delivered.of(
        {
          topic: 't',
          partition: entry.partition,
          offset: entry.id,
          key: entry.key,
          headers: {},
          body: new Uint8Array(0),
          timestampMs: 0,
        },
        attempt,
        hold,
      ),
    onAck: ({ value }) => {
      acked.push(value.id);
      return undefined;
    },
    ...extra,
  });
  return { window, lists, acked };
}

/** A member handler that records deliveries and leaves settling to the test. */
function recorder() {
  const received: ReceivedMessage[] = [];
  const handler = async (message: ReceivedMessage) => {
    received.push(message);
  };
  const ids = () => received.map((message) => message.offset);
  return { received, handler, ids };
}

describe('delivery window', { timeout: 120_000 }, () => {
  it('the first unacked entry of a key blocks later ones, other keys flow', async () => {
    const { window } = fixture([
      [
        ['a1', 'a'],
        ['a2', 'a'],
        ['b1', 'b'],
        ['n1', undefined],
        ['n2', undefined],
      ],
    ]);
    const member = recorder();
    window.join(member.handler, 10);
    await eventually(
      () => member.received.length === 4,
      () => `4 deliveries (have ${member.ids()})`,
    );
    assert.deepEqual(member.ids(), ['a1', 'b1', 'n1', 'n2']);
    await member.received[0]!.ack();
    await eventually(
      () => member.received.length === 5,
      () => 'a2 after a1 is acked',
    );
    assert.equal(member.received[4]!.offset, 'a2');
    window.close();
  });

  it('a nack delay holds the entry and its key, one timer redelivers it', async () => {
    const { window } = fixture([
      [
        ['a1', 'a'],
        ['a2', 'a'],
      ],
    ]);
    const member = recorder();
    window.join(member.handler, 10);
    await eventually(
      () => member.received.length === 1,
      () => 'a1',
    );
    const nackedAt = Date.now();
    await member.received[0]!.nack({ delayMs: 40 });
    await eventually(
      () => member.received.length === 2,
      () => 'the redelivery of a1',
    );
    const redelivered = member.received[1]!;
    assert.equal(redelivered.offset, 'a1', 'a2 must not overtake the nacked a1');
    assert.equal(redelivered.deliveryAttempt, 2);
    assert.ok(Date.now() - nackedAt >= 39, 'redelivered before the delay passed');
    window.close();
  });

  it('members with room are chosen round-robin and never get more than inFlightMax', async () => {
    const { window, lists } = fixture([[]]);
    const first = recorder();
    const second = recorder();
    const one = window.join(first.handler, 2);
    window.join(second.handler, 2);
    for (const id of ['n1', 'n2', 'n3', 'n4', 'n5'])
      lists[0]!.enqueue({ id, key: undefined, partition: 0, ...waitingEntry() }, undefined);
    window.pump();
    await eventually(
      () => first.received.length + second.received.length === 4,
      () => 'both members full',
    );
    assert.deepEqual(first.ids(), ['n1', 'n3']);
    assert.deepEqual(second.ids(), ['n2', 'n4']);
    assert.equal(one.inFlight, 2);
    await second.received[0]!.ack();
    await eventually(
      () => second.received.length === 3,
      () => 'n5 to the member that made room',
    );
    assert.equal(second.received[2]!.offset, 'n5');
    assert.equal(first.received.length, 2);
    window.close();
  });

  it('windows are interleaved one entry at a time, resuming after the last window served', async () => {
    const { window } = fixture([
      [
        ['p0-1', undefined],
        ['p0-2', undefined],
        ['p0-3', undefined],
      ],
      [
        ['p1-1', undefined],
        ['p1-2', undefined],
      ],
      [['p2-1', undefined]],
    ]);
    const order: string[] = [];
    window.join(async (message) => {
      order.push(message.offset);
      await message.ack();
    }, 1);
    await eventually(
      () => order.length === 6,
      () => `6 deliveries (have ${order})`,
    );
    assert.deepEqual(order, ['p0-1', 'p1-1', 'p2-1', 'p0-2', 'p1-2', 'p0-3']);
    window.close();
  });

  it('settlements of an earlier delivery, twice, or after close do nothing', async () => {
    const { window, lists } = fixture([[['a1', 'a']]]);
    const leaving = recorder();
    const handle = window.join(leaving.handler, 1);
    await eventually(
      () => leaving.received.length === 1,
      () => 'first delivery',
    );
    window.leave(handle); // Releases a1: the first delivery is now stale.
    const staying = recorder();
    window.join(staying.handler, 1);
    await eventually(
      () => staying.received.length === 1,
      () => 'redelivery to the remaining member',
    );
    assert.equal(staying.received[0]!.deliveryAttempt, 2);
    await leaving.received[0]!.ack();
    assert.equal(lists[0]!.unsettledCount, 1, 'a stale ack removed the entry');
    assert.equal([...window.held].length, 1);
    await staying.received[0]!.nack();
    await eventually(
      () => staying.received.length === 2,
      () => 'redelivery after nack',
    );
    await staying.received[0]!.ack(); // Stale: the nack settled that delivery.
    assert.equal(lists[0]!.unsettledCount, 1);
    window.close();
    assert.equal([...window.held].length, 0, 'close releases held entries');
    await staying.received[1]!.ack();
    assert.equal(lists[0]!.unsettledCount, 1, 'an ack after close removed the entry');
  });

  it('delivery window - messages delivered while handlers run (a synchronous ack frees room) are each handled once, in order, in a later run', async () => {
    const ids = Array.from({ length: 100 }, (_, index) => String(index));
    const { window, acked } = fixture([ids.map((id) => [id, undefined] as const)]);
    const handled: string[] = [];
    // Room for 3: each synchronous ack delivers the next message while the run is under way.
    window.join(async (message) => {
      handled.push(message.offset);
      void message.ack();
    }, 3);
    try {
      await eventually(
        () => handled.length === ids.length,
        () => `100 handled (have ${handled.length})`,
        5_000,
      );
      assert.deepEqual(handled, ids);
      assert.deepEqual(acked, ids);
    } finally {
      window.close();
    }
  });

  it('delivery window - the acks made by one run of handlers cost one scan after the run, not one each; what they free is delivered in order', async () => {
    let scans = 0;
    const { window, acked } = fixture(
      [
        [
          ['a', undefined],
          ['b', undefined],
          ['c', undefined],
          ['d', undefined],
          ['e', undefined],
          ['f', undefined],
          ['g', 'k'],
          ['h', 'k'],
        ],
      ],
      {
        beforeScan: () => {
          scans += 1;
          return Number.POSITIVE_INFINITY;
        },
      },
    );
    try {
      const handled: string[] = [];
      window.join((message) => {
        handled.push(message.offset);
        void message.ack();
        return HANDLED;
      }, 3);
      assert.equal(scans, 1, 'joining scans once');
      await eventually(() => acked.length === 8, 'every message acked');
      // Runs of a–c, d–f, g (h waits behind g's key), h: each run's acks share one scan.
      assert.equal(scans, 5, 'one scan per run of handlers (eight acks, four runs)');
      assert.deepEqual(handled, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
      assert.deepEqual(acked, handled);
    } finally {
      window.close();
    }
  });

  it('delivery window - a handler returning HANDLED (settled before it returned) gets no reaction on it; any other promise does', async () => {
    const { window, acked } = fixture([
      [
        ['a', undefined],
        ['b', undefined],
      ],
    ]);
    // Counts what the window attaches to HANDLED (an own `then` is what Promise.resolve's result is asked for).
    let thenCalls = 0;
    const then = HANDLED.then;
    Object.defineProperty(HANDLED, 'then', {
      configurable: true,
      value(this: Promise<void>, ...args: Parameters<Promise<void>['then']>) {
        thenCalls += 1;
        return then.apply(this, args);
      },
    });
    try {
      const returned: Promise<void>[] = [];
      window.join((message) => {
        void message.ack();
        const result = message.offset === 'a' ? HANDLED : Promise.resolve();
        returned.push(result);
        return result;
      }, 10);
      await eventually(() => acked.length === 2, 'both messages acked');
      assert.deepEqual(acked, ['a', 'b']);
      assert.equal(returned[0], HANDLED);
      assert.equal(thenCalls, 0, 'no rejection reaction on HANDLED: it cannot reject');
    } finally {
      delete (HANDLED as { then?: unknown }).then;
      window.close();
    }
    assert.equal(HANDLED.then, Promise.prototype.then);
  });

  it('a handler that throws gets its message nacked and redelivered', async () => {
    const { window, lists } = fixture([[['a1', 'a']]]);
    let calls = 0;
    window.join((message) => {
      calls += 1;
      if (calls === 1) throw new Error('subscriber bug');
      return message.ack();
    }, 1);
    await eventually(
      () => lists[0]!.unsettledCount === 0,
      () => `a1 acked after the throw (calls ${calls})`,
    );
    assert.equal(calls, 2);
    window.close();
  });

  it('delivery window - a message delivered with no closure: a spread copy settles its delivery, a detached ack is a TypeError, a rejected handler nacks', async () => {
    const { window, lists, acked } = fixture([
      [
        ['a1', 'a'],
        ['a2', 'a'],
        ['b1', 'b'],
      ],
    ]);
    const member = recorder();
    window.join(member.handler, 2);
    await eventually(
      () => member.received.length === 2,
      () => `a1 and b1 delivered (got ${member.ids().join(',')})`,
    );
    const [a1, b1] = member.received as [ReceivedMessage, ReceivedMessage];
    // A wrapper that spreads the message (as test transports and middleware do) keeps ack/nack.
    const copy: ReceivedMessage = { ...a1, offset: 'copied' };
    assert.deepEqual(
      Object.keys(a1).sort(),
      [
        'ack',
        'body',
        'deliveryAttempt',
        'headers',
        'key',
        'nack',
        'offset',
        'partition',
        'timestampMs',
        'topic',
      ],
      'only the contract fields are visible',
    );
    const { ack } = b1;
    assert.throws(() => ack(), TypeError, 'a detached ack says to call it as a method');
    await copy.ack();
    assert.deepEqual(acked, ['a1'], 'the copy acked the original delivery');
    await a1.ack(); // The original: that delivery is settled already.
    assert.deepEqual(acked, ['a1']);
    await eventually(
      () => member.received.length === 3,
      () => 'a2 delivered once a1 is acked',
    );
    await b1.nack();
    await eventually(
      () => member.received.length === 4 && member.received[3]!.offset === 'b1',
      () => `b1 redelivered after the nack (got ${member.ids().join(',')})`,
    );
    assert.equal(member.received[3]!.deliveryAttempt, 2);
    window.close();
    // A handler whose promise rejects gets its message nacked, as one that throws does.
    const second = fixture([[['c1', 'c']]]);
    let calls = 0;
    second.window.join(async (message) => {
      calls += 1;
      if (calls === 1) throw new Error('subscriber bug, asynchronously');
      await message.ack();
    }, 1);
    await eventually(
      () => second.lists[0]!.unsettledCount === 0,
      () => `c1 acked after the rejection (calls ${calls})`,
    );
    assert.equal(calls, 2);
    second.window.close();
    assert.equal(lists[0]!.unsettledCount, 2);
  });

  it('delivery window - a nack delay is capped by nackDelayMsMax, and a stale ack of the nacked delivery does nothing', async () => {
    const { window, acked } = fixture(
      [
        [
          ['a1', 'a'],
          ['a2', 'a'],
        ],
      ],
      { nackDelayMsMax: 30 },
    );
    const member = recorder();
    window.join(member.handler, 10);
    await eventually(
      () => member.received.length === 1,
      () => 'a1',
    );
    const first = member.received[0]!;
    await first.nack({ delayMs: 600_000 });
    await first.ack(); // Stale: already nacked.
    await eventually(
      () => member.received.length === 2,
      () => `a1 again within the cap (have ${member.ids()})`,
    );
    assert.deepEqual(member.ids(), ['a1', 'a1']);
    assert.equal(member.received[1]!.deliveryAttempt, 2);
    assert.deepEqual(acked, []);
    await member.received[1]!.ack();
    await eventually(
      () => member.received.length === 3,
      () => 'a2 after a1',
    );
    assert.deepEqual(acked, ['a1']);
    window.close();
  });

  it('delivery window - a rerouted nack settles like an ack; a failed reroute holds the entry after all', async () => {
    const rerouted: string[] = [];
    let accept = false;
    const { window, acked } = fixture(
      [
        [
          ['a1', 'a'],
          ['a2', 'a'],
        ],
      ],
      {
        reroute: ({ value }, delayMs) => {
          rerouted.push(`${value.id}@${delayMs}`);
          return Promise.resolve(accept);
        },
      },
    );
    const member = recorder();
    window.join(member.handler, 10);
    await eventually(
      () => member.received.length === 1,
      () => 'a1',
    );
    await member.received[0]!.nack({ delayMs: 5 }); // Refused: held for 5 ms, then redelivered.
    await eventually(
      () => member.received.length === 2,
      () => 'a1 again after a refused reroute',
    );
    assert.equal(member.received[1]!.offset, 'a1');
    assert.equal(member.received[1]!.deliveryAttempt, 2);
    accept = true;
    await member.received[1]!.nack({ delayMs: 5 });
    await eventually(
      () => member.received.length === 3,
      () => 'a2 once a1 went elsewhere',
    );
    assert.equal(member.received[2]!.offset, 'a2');
    assert.deepEqual(rerouted, ['a1@5', 'a1@5']);
    assert.deepEqual(acked, ['a1'], 'a rerouted entry is settled like an ack');
    window.close();
  });

  it('delivery window - inFlightMax bounds deliveries, and nothing is delivered after close', async () => {
    const { window, lists } = fixture([[]]);
    const member = recorder();
    window.join(member.handler, 2);
    for (let index = 0; index < 5; index++) {
      lists[0]!.enqueue({ id: `m${index}`, key: `k${index}`, partition: 0, ...waitingEntry() }, `k${index}`);
    }
    window.pump();
    await eventually(
      () => member.received.length === 2,
      () => '2 deliveries',
    );
    window.close();
    await member.received[0]!.ack();
    window.pump();
    // Handlers are called from microtasks; one macrotask later every call that would happen has.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(member.received.length, 2, 'delivered after close');
  });

  it('delivery window - broken bookkeeping is an InvariantError: a bad inFlightMax, a lying window, a negative count', async () => {
    const broken = (pattern: RegExp) => (error: unknown) =>
      error instanceof InvariantError &&
      error.code === 'HERALD_INVARIANT_VIOLATED' &&
      pattern.test(error.message);
    const { window } = fixture([[['a0', 'a']]]);
    assert.throws(() => window.join(recorder().handler, 0), broken(/inFlightMax is an integer >= 1, not 0/));
    const member = recorder();
    const handle = window.join(member.handler, 2);
    await eventually(
      () => member.received.length === 1,
      () => 'a0 delivered',
    );
    // Writing the member's count stands in for a bug: settling would take it below 0.
    (handle as { inFlight: number }).inFlight = 0;
    await assert.rejects(member.received[0]!.ack(), broken(/in-flight count never negative/));
    (handle as { inFlight: number }).inFlight = 1; // Undo the corruption, so close() can release a0.
    window.close();

    // A window that says it has a ready entry but hands out none.
    const lying = {
      hasReady: true,
      take: () => undefined,
    } as unknown as KeyedFifo<TestEntry>;
    const { window: overLying } = fixture([], { windows: () => [lying] });
    assert.throws(() => overLying.join(recorder().handler, 1), broken(/hands it out/));
    overLying.close();
  });
});
