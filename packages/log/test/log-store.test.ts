/**
 * The bound of log-store.ts on partitions opening at once: a broker reopening hundreds of
 * uncleanly closed partitions recovers at most PARTITIONS_OPENING_MAX together, each with its own
 * scan window, and every partition still opens.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { eventually, ownedTemporaryDirectory } from '@herald/test-support';
import { nodeFileSystem } from '../src/index.ts';
import { openLogStore, PARTITIONS_OPENING_MAX } from '../src/log-store.ts';

describe('log store', { timeout: 120_000 }, () => {
  test('log store - at most PARTITIONS_OPENING_MAX partitions open at once; the rest wait their turn', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partitions = PARTITIONS_OPENING_MAX * 3;
    let inside = 0;
    let most = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Recovery lists the partition directory first: hold every listing until the test has seen
    // how many partitions got that far together.
    const fileSystem = {
      ...nodeFileSystem,
      async readdir(directory: string) {
        if (/^opening-\d+$/.test(path.basename(directory))) {
          inside++;
          most = Math.max(most, inside);
          await released;
          inside--;
        }
        return nodeFileSystem.readdir(directory);
      },
    };
    const store = await openLogStore({ directory: temporary.directory, fileSystem });
    try {
      const opened = Promise.all(
        Array.from({ length: partitions }, (_, partition) =>
          store.openPartition({ topic: 'opening', partition }),
        ),
      );
      await eventually(
        () => inside === PARTITIONS_OPENING_MAX,
        () => `${PARTITIONS_OPENING_MAX} partitions opening (have ${inside})`,
      );
      // Every open was asked for at once: the others are queued, not listing.
      assert.equal(most, PARTITIONS_OPENING_MAX);
      release();
      const all = await opened;
      assert.equal(new Set(all).size, partitions);
      assert.equal(most, PARTITIONS_OPENING_MAX);
    } finally {
      release();
      await store.close();
    }
  });
});
