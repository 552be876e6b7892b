import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PendingAcks } from '../src/pending-acks.ts';

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('pending acks', () => {
  test('counts acks until they settle; settled() resolves when the last one does', async () => {
    const failures: [unknown, string, number][] = [];
    const acks = new PendingAcks<string>((error, subject, count) => failures.push([error, subject, count]));
    const first = deferred();
    const second = deferred();
    acks.track(first.promise, 'first');
    acks.track(second.promise, 'second');
    assert.equal(acks.count, 2);
    let settled = false;
    const waiting = acks.settled(performance.now() + 10_000).then(() => {
      settled = true;
    });
    first.resolve();
    await first.promise;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(acks.count, 1);
    assert.equal(settled, false, 'one ack is still pending');
    second.resolve();
    await waiting;
    assert.equal(acks.count, 0);
    assert.deepEqual(failures, []);
  });

  test('a rejected ack is counted as settled and reported, never unhandled', async () => {
    const failures: [unknown, string, number][] = [];
    const acks = new PendingAcks<string>((error, subject, count) => failures.push([error, subject, count]));
    const ack = deferred();
    acks.track(ack.promise, 'the message');
    const error = new Error('position store closed');
    ack.reject(error);
    await acks.settled(performance.now() + 10_000);
    assert.equal(acks.count, 0);
    assert.deepEqual(failures, [[error, 'the message', 1]]);
  });

  test('acks sharing one promise (one position write) are one batch: counted, settled and reported together', async () => {
    const failures: [unknown, string, number][] = [];
    const acks = new PendingAcks<string>((error, subject, count) => failures.push([error, subject, count]));
    const write = deferred();
    for (const subject of ['a', 'b', 'c']) acks.track(write.promise, subject);
    const other = deferred();
    acks.track(other.promise, 'd');
    assert.equal(acks.count, 4);
    const error = new Error('position write failed');
    write.reject(error);
    other.resolve();
    await acks.settled(performance.now() + 10_000);
    assert.equal(acks.count, 0);
    assert.deepEqual(failures, [[error, 'a', 3]], 'one report for the batch, with its first subject');
    // A promise settled earlier and tracked again (a shared settled promise) starts a new batch.
    const done = Promise.resolve();
    acks.track(done, 'e');
    await acks.settled(performance.now() + 10_000);
    acks.track(done, 'f');
    assert.equal(acks.count, 1);
    await acks.settled(performance.now() + 10_000);
    assert.equal(acks.count, 0);
  });

  test('settled() gives up at its deadline while an ack is still pending', async () => {
    const acks = new PendingAcks<string>(() => {});
    acks.track(new Promise<void>(() => {}), 'stuck');
    const startedMs = performance.now();
    await acks.settled(startedMs + 50);
    const waitedMs = performance.now() - startedMs;
    assert.ok(waitedMs >= 45 && waitedMs < 5_000, `waited ${waitedMs} ms for a 50 ms deadline`);
    assert.equal(acks.count, 1);
    // A deadline already passed returns at once.
    await acks.settled(performance.now() - 1);
  });
});
