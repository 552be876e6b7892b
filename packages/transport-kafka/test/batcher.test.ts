/**
 * The publish batcher alone (no broker): one request in flight, and what a failed request does to
 * the publishes queued behind it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batcher } from '../src/batcher.ts';
import type { OutgoingRecord } from '../src/records.ts';

const record = { topic: 't', partition: 0 } as unknown as OutgoingRecord;

/** A send whose requests the test settles by hand, in order. */
function manualSend() {
  const requests: { records: OutgoingRecord[]; fail(error: Error): void; succeed(): void }[] = [];
  const send = (records: OutgoingRecord[]) =>
    new Promise<void>((resolve, reject) => {
      requests.push({ records, fail: reject, succeed: resolve });
    });
  return { requests, send };
}

async function settled(promise: Promise<void>): Promise<'resolved' | Error | 'pending'> {
  const pending = Symbol('pending');
  const outcome = await Promise.race([
    promise.then(
      () => 'resolved' as const,
      (error: Error) => error,
    ),
    new Promise<symbol>((resolve) => setImmediate(() => resolve(pending))),
  ]);
  return outcome === pending ? 'pending' : (outcome as 'resolved' | Error);
}

test('batcher - a failure that failsQueued accepts fails the publishes queued behind it at once', {
  timeout: 10_000,
}, async () => {
  const { requests, send } = manualSend();
  const batcher = new Batcher(send, 0, 1024 * 1024, (error) => (error as Error).message === 'broker down');
  const first = batcher.add([record], 10);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(requests.length, 1, 'the first publish is in flight');
  const queued = batcher.add([record], 10);
  requests[0]!.fail(new Error('broker down'));
  assert.equal(((await settled(first)) as Error).message, 'broker down');
  assert.equal(((await settled(queued)) as Error).message, 'broker down', 'the queued publish failed too');
  assert.equal(requests.length, 1, 'nothing more was sent');
});

test('batcher - any other failure fails only its own request; the queue is sent next', {
  timeout: 10_000,
}, async () => {
  const { requests, send } = manualSend();
  const batcher = new Batcher(send, 0, 1024 * 1024, (error) => (error as Error).message === 'broker down');
  const first = batcher.add([record], 10);
  await new Promise((resolve) => setImmediate(resolve));
  const queued = batcher.add([record], 10);
  requests[0]!.fail(new Error('record too large'));
  assert.equal(((await settled(first)) as Error).message, 'record too large');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(requests.length, 2, 'the queued publish went out in its own request');
  assert.equal(await settled(queued), 'pending');
  requests[1]!.succeed();
  assert.equal(await settled(queued), 'resolved');
});
