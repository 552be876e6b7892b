/**
 * Sync rounds (src/sync-rounds.ts): the partitions of a store fdatasync together. What must hold
 * is what the writer's durability rests on: a request is answered only by an fdatasync of its own
 * descriptor that started at or after the request, with that fdatasync's own result.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually, ownedTemporaryDirectory } from '@herald/test-support';
import { type FileSystem, nodeFileSystem, openLogStore, utf8 } from '../src/index.ts';
import { syncRounds } from '../src/sync-rounds.ts';

interface StartedSync {
  readonly fd: number;
  /** Requests made before this fdatasync started (by the test's count). */
  readonly requestsBefore: number;
  finish(code?: string): void;
}

/** A file system whose fdatasyncs wait until the test finishes them. */
function heldSyncs(): { fileSystem: FileSystem; started: StartedSync[]; requests: { count: number } } {
  const started: StartedSync[] = [];
  const requests = { count: 0 };
  const fileSystem: FileSystem = {
    ...nodeFileSystem,
    fdatasync: (fd) =>
      new Promise<void>((resolve, reject) => {
        started.push({
          fd,
          requestsBefore: requests.count,
          finish: (code) =>
            code === undefined ? resolve() : reject(Object.assign(new Error(`injected ${code}`), { code })),
        });
      }),
  };
  return { fileSystem, started, requests };
}

/** Settles on the next turns of the event loop (the next round starts in a setImmediate). */
async function turns(count = 3): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('sync rounds', { timeout: 60_000 }, () => {
  test('sync rounds - an idle store syncs at once; requests made meanwhile wait and start together', async () => {
    const { fileSystem, started, requests } = heldSyncs();
    const rounds = syncRounds(fileSystem);
    const results: string[] = [];
    const request = (fd: number) => {
      requests.count += 1;
      return rounds.fdatasync(fd).then(() => results.push(`synced ${fd}`));
    };
    const first = request(10);
    assert.equal(started.length, 1, 'with no round running the sync starts at once');
    const second = request(11);
    const third = request(12);
    const again = request(10);
    await turns();
    assert.equal(started.length, 1, 'no sync starts while a round runs');
    assert.deepEqual(results, []);
    started[0]!.finish();
    await first;
    await turns();
    assert.deepEqual(
      started.slice(1).map((sync) => sync.fd),
      [11, 12, 10],
      'the next round starts every gathered request together',
    );
    assert.deepEqual(
      results,
      ['synced 10'],
      'the second request of fd 10 waits for a sync that started after it',
    );
    for (const sync of started.slice(1)) {
      assert.equal(sync.requestsBefore, 4, 'each of them started after all four requests');
      sync.finish();
    }
    await Promise.all([second, third, again]);
    assert.deepEqual(results.sort(), ['synced 10', 'synced 10', 'synced 11', 'synced 12']);
  });

  test('sync rounds - requests for one descriptor in one round share its fdatasync; a failure reaches only that descriptor', async () => {
    const { fileSystem, started, requests } = heldSyncs();
    const rounds = syncRounds(fileSystem);
    const blocker = rounds.fdatasync(1);
    requests.count += 1;
    const a1 = rounds.fdatasync(20);
    const a2 = rounds.fdatasync(20);
    const b = rounds.fdatasync(21);
    started[0]!.finish();
    await blocker;
    await eventually(
      () => started.length === 3,
      () => `two syncs of the second round (started ${started.length - 1})`,
    );
    assert.deepEqual(
      started.slice(1).map((sync) => sync.fd),
      [20, 21],
    );
    started[1]!.finish('EIO');
    started[2]!.finish();
    await assert.rejects(a1, /injected EIO/);
    await assert.rejects(a2, /injected EIO/);
    await b;
    // The store keeps going after a failed round: the next request starts at once.
    const later = rounds.fdatasync(21);
    await turns();
    assert.equal(started.length, 4);
    started[3]!.finish();
    await later;
  });

  test('sync rounds - a round answers all its requests when its last sync ends', async () => {
    const { fileSystem, started } = heldSyncs();
    const rounds = syncRounds(fileSystem);
    const blocker = rounds.fdatasync(1);
    const answered: number[] = [];
    const a = rounds.fdatasync(30).then(() => answered.push(30));
    const b = rounds.fdatasync(31).then(() => answered.push(31));
    started[0]!.finish();
    await blocker;
    await eventually(
      () => started.length === 3,
      () => `the two syncs of the second round (started ${started.length - 1})`,
    );
    started[1]!.finish();
    await turns();
    assert.deepEqual(answered, [], 'the first sync to end answers nothing while the round runs');
    started[2]!.finish();
    await Promise.all([a, b]);
    assert.deepEqual(answered, [30, 31]);
  });

  test('sync rounds - a round due while writes run waits for those writes (not later ones), so their syncs join it', async () => {
    const { fileSystem: syncs, started } = heldSyncs();
    const writes: { fd: number; finish: () => void }[] = [];
    const fileSystem: FileSystem = {
      ...syncs,
      writev: (fd, buffers) =>
        new Promise<number>((resolve) => {
          writes.push({ fd, finish: () => resolve(buffers.reduce((sum, buffer) => sum + buffer.length, 0)) });
        }),
    };
    const rounds = syncRounds(fileSystem);
    const bytes = [new Uint8Array(4)];
    // fd 40's write ended and it asks for a sync while fd 41's and fd 42's writes still run.
    const write40 = rounds.writev(40, bytes, 0);
    const write41 = rounds.writev(41, bytes, 0);
    const write42 = rounds.writev(42, bytes, 0);
    writes[0]!.finish();
    await write40;
    const sync40 = rounds.fdatasync(40);
    await turns();
    assert.equal(started.length, 0, 'the round waits for the writes running when it became due');
    // A write started after that does not hold the round back.
    const write43 = rounds.writev(43, bytes, 0);
    writes[1]!.finish();
    await write41;
    const sync41 = rounds.fdatasync(41);
    writes[2]!.finish();
    await write42;
    const sync42 = rounds.fdatasync(42);
    await eventually(
      () => started.length === 3,
      () => `one round of the three files (started ${started.map((sync) => sync.fd)})`,
    );
    assert.deepEqual(
      started.map((sync) => sync.fd),
      [40, 41, 42],
    );
    for (const sync of started) sync.finish();
    await Promise.all([sync40, sync41, sync42]);
    writes[3]!.finish();
    await write43;
    // An idle store with no write running syncs at once.
    const sync43 = rounds.fdatasync(43);
    await turns();
    assert.equal(started.length, 4);
    started[3]!.finish();
    await sync43;
  });

  test('sync rounds - a store with several partitions appends durably through them', async () => {
    await using directory = await ownedTemporaryDirectory('herald-sync-rounds-');
    const store = await openLogStore({
      directory: directory.directory,
      partitionDefaults: { fsync: 'always' },
    });
    try {
      const partitions = await Promise.all(
        [0, 1, 2, 3].map((partition) => store.openPartition({ topic: 'orders', partition })),
      );
      await Promise.all(
        Array.from({ length: 400 }, (_, index) =>
          partitions[index % 4]!.append([{ value: utf8(`order ${index}`) }]),
        ),
      );
      for (const partition of partitions) assert.equal(partition.highWatermark, 100n);
    } finally {
      await store.close();
    }
  });
});
