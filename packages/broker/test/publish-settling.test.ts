/**
 * How a publish settles: the log's writer settles the publish's own promise through one request
 * object (`Partition.appendTo`), telling the broker's hooks and the embedded transport's health
 * before it settles, with no `then` between the log and the caller.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FileSystem, LogError, nodeFileSystem } from '@herald/log';
import { BrokerStorageError, embeddedTransport } from '../src/index.ts';
import type { PartitionLog } from '../src/partition-log.ts';
import { appendMessages } from '../src/publish-path.ts';
import { freshDirectory, tracked } from './support.ts';

/** A partition that keeps the waiter of each append for the test to answer. */
function heldLog() {
  const waiters: Parameters<PartitionLog['appendTo']>[1][] = [];
  const log: PartitionLog = {
    highWatermark: 0n,
    logStartOffset: 0n,
    appendTo: (_records, waiter) => {
      waiters.push(waiter);
    },
    read: () => Promise.reject(new Error('not read')),
    offsetForTimestamp: async () => undefined,
    onAppend: () => () => {},
    close: async () => {},
  };
  return { log, waiters };
}

const message = { key: 'k', headers: {}, body: new Uint8Array(1) };

describe('publish settling', { timeout: 60_000 }, () => {
  it('publish settling - a one-message publish settles in the microtask after the log tells it, its hooks told first', async () => {
    const { log, waiters } = heldLog();
    const target = { metadata: { name: 'orders' }, logs: [log], nextKeylessPartition: 0 };
    const told: string[] = [];
    const hooks = { published: () => told.push('hooks'), failed: () => told.push('hooks failed') };
    const observer = { published: () => told.push('observer'), failed: () => told.push('observer failed') };
    const publishing = appendMessages(target, [message], [1], hooks, observer);
    void publishing.then(() => told.push('settled'));
    assert.equal(waiters.length, 1);
    waiters[0]!.appended(0n, 1);
    assert.deepEqual(told, ['hooks', 'observer'], 'the hooks are told before the promise settles');
    // One turn: the promise's reaction was queued when the waiter was told, ahead of this await.
    await Promise.resolve();
    assert.deepEqual(told, ['hooks', 'observer', 'settled']);
  });

  it('publish settling - a failure reaches the hooks and the promise wrapped as the broker reports storage failures', async () => {
    const { log, waiters } = heldLog();
    const target = { metadata: { name: 'orders' }, logs: [log], nextKeylessPartition: 0 };
    const failures: unknown[] = [];
    const hooks = { published: () => {}, failed: (error: unknown) => failures.push(error) };
    const publishing = appendMessages(target, [message], [1], hooks);
    waiters[0]!.failed(new LogError('LOG_IO', 'injected'));
    await assert.rejects(publishing, (error: unknown) => {
      assert.ok(error instanceof BrokerStorageError);
      assert.match(error.message, /^publish to orders\/0: injected/);
      assert.equal(failures[0], error, 'the hooks get the error the promise rejects with');
      return true;
    });
  });

  it('publish settling - the embedded transport is unready after a failed write and ready after the next publish succeeds', async () => {
    let failWrites = false;
    const fileSystem: FileSystem = {
      ...nodeFileSystem,
      writev: (fd, buffers, position) =>
        failWrites
          ? Promise.reject(Object.assign(new Error('injected EIO'), { code: 'EIO' }))
          : nodeFileSystem.writev(fd, buffers, position),
    };
    const transport = tracked(await embeddedTransport({ dir: freshDirectory(), partitions: 2, fileSystem }));
    const body = new Uint8Array(1);
    await transport.publish('orders', [{ key: 'a', headers: {}, body }]);
    await transport.publish('orders', [{ key: 'b', headers: {}, body }]);
    assert.equal(transport.health().connected, true);
    failWrites = true;
    await assert.rejects(transport.publish('orders', [{ key: 'a', headers: {}, body }]));
    assert.equal(transport.health().connected, false, 'unready once the publish rejected');
    failWrites = false;
    // Key 'a''s partition is read-only now; try the other keys until one lands on the other partition.
    let recovered = false;
    for (const key of ['b', 'c', 'd', 'e', 'f', 'g']) {
      const published = await transport.publish('orders', [{ key, headers: {}, body }]).then(
        () => true,
        () => false,
      );
      if (published) {
        recovered = true;
        break;
      }
    }
    assert.ok(recovered, 'a publish to the other partition succeeded');
    assert.equal(transport.health().connected, true, 'ready once a publish succeeded');
  });
});
