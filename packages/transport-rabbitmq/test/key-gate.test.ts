import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReceivedMessage } from '@herald/bus';
import { eventually } from '@herald/conformance';
import { KeyGate } from '../src/key-gate.ts';

/** A gate over plain ids whose handler records and holds every message. */
function gate(inFlightMax: number) {
  const held: ReceivedMessage[] = [];
  const acked: string[] = [];
  const keyGate = new KeyGate<string>(
    {
      describe: ({ data, key }) => ({
        topic: 't',
        partition: 0,
        offset: data,
        key,
        headers: {},
        body: new Uint8Array(),
        timestampMs: 0,
      }),
      onAck: ({ data }) => acked.push(data),
    },
    async (message) => {
      held.push(message);
    },
    { entriesMax: 1_000, inFlightMax, delayMsMax: 50 },
  );
  const ids = () => held.map((message) => message.offset);
  return { keyGate, held, acked, ids };
}

describe('key gate', { timeout: 120_000 }, () => {
  it('key gate - a key waits for its previous message; other keys and keyless ones pass it', async () => {
    const { keyGate, held, ids } = gate(10);
    keyGate.push('a', 'a-0', 1);
    keyGate.push('a', 'a-1', 1);
    keyGate.push('b', 'b-0', 1);
    keyGate.push(undefined, 'x-0', 1);
    keyGate.drain();
    await eventually(
      () => held.length === 3,
      () => `3 deliveries, have ${ids()}`,
    );
    assert.deepEqual(ids(), ['a-0', 'b-0', 'x-0']);
    await held[0]!.ack();
    await eventually(
      () => held.length === 4,
      () => `a-1 after a-0's ack, have ${ids()}`,
    );
    assert.equal(held[3]!.offset, 'a-1');
  });

  it('key gate - a nacked message comes back first for its key with attempt + 1; stale settlements do nothing', async () => {
    const { keyGate, held, acked, ids } = gate(1);
    keyGate.push('a', 'a-0', 1);
    keyGate.push('a', 'a-1', 1);
    keyGate.drain();
    await eventually(
      () => held.length === 1,
      () => 'a-0',
    );
    const first = held[0]!;
    await first.nack({ delayMs: 10_000 }); // Capped to delayMsMax (50 ms).
    await first.ack(); // Stale: already nacked.
    await eventually(
      () => held.length === 2,
      () => `a-0 again, have ${ids()}`,
    );
    assert.deepEqual(ids(), ['a-0', 'a-0']);
    assert.equal(held[1]!.deliveryAttempt, 2);
    assert.deepEqual(acked, []);
    await held[1]!.ack();
    await eventually(
      () => held.length === 3,
      () => `a-1, have ${ids()}`,
    );
    assert.deepEqual(acked, ['a-0']);
  });

  it('key gate - inFlightMax bounds deliveries, and nothing is delivered after close', async () => {
    const { keyGate, held } = gate(2);
    for (let index = 0; index < 5; index++) keyGate.push(`k${index}`, `m-${index}`, 1);
    keyGate.drain();
    await eventually(
      () => held.length === 2,
      () => '2 deliveries',
    );
    keyGate.close();
    await held[0]!.ack();
    keyGate.drain();
    // Handlers are called from microtasks; one macrotask later every call that would happen has.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(held.length, 2, 'delivered after close');
  });
});
