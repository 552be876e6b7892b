/**
 * Upgrading a data directory of the two-store layout (Kafka-style commits in
 * `groups/<topic>/<group>.commits` beside the positions journal) to the one group-position
 * journal. The fixture was written by the broker before the change (see its README.md); every
 * test opens a copy of it.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { type Broker, type CommittedOffset, openBroker } from '@herald/broker';
import type { ReceivedMessage } from '@herald/bus';
import { eventually } from '@herald/test-support';
import { freshDirectory } from './support.ts';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'commits-files-layout');

const opened: Broker[] = [];
afterEach(async () => {
  for (const broker of opened.splice(0)) await broker.close().catch(() => {});
});
async function open(dir: string): Promise<Broker> {
  const broker = await openBroker({ dir, partitions: 2 });
  opened.push(broker);
  return broker;
}

/** A copy of the fixture (never the fixture itself: opening migrates it). */
function fixtureCopy(): string {
  const dir = freshDirectory();
  cpSync(FIXTURE, dir, { recursive: true, filter: (source) => !/README\.md$|\.gitignore$/.test(source) });
  return dir;
}

/** Every file under `dir` whose name ends with `suffix`, relative. */
function filesEnding(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith(suffix));
}

const commit = (offset: bigint, metadata: string | null = null): CommittedOffset => ({ offset, metadata });

/** What the fixture's `.commits` files hold (see its README.md). */
const FIXTURE_COMMITS: Record<string, Record<string, Map<number, CommittedOffset>>> = {
  orders: {
    billing: new Map([
      [0, commit(3n, 'billing-o0 ✓')],
      [1, commit(5n)],
    ]),
    audit: new Map([
      [0, commit(1n, '')],
      [1, commit(-1n, 'reset-latest')],
    ]),
  },
  payments: {
    billing: new Map([
      [0, commit(2n)],
      [1, commit(4n)],
    ]),
    audit: new Map([[1, commit(7n, '{"k":"v"}')]]),
  },
};

/** Asserts every position of the fixture, both kinds, as `broker` reports them. */
async function assertFixturePositions(broker: Broker): Promise<void> {
  for (const [topic, groups] of Object.entries(FIXTURE_COMMITS)) {
    for (const [group, commits] of Object.entries(groups)) {
      assert.deepEqual(await broker.committedOffsetsWithMetadata(topic, group), commits, `${topic}/${group}`);
    }
  }
  const workers = await broker.describeGroup('orders', 'workers');
  assert.deepEqual(
    workers.partitions.map(({ partition, committed, ackedAhead }) => ({ partition, committed, ackedAhead })),
    [
      { partition: 0, committed: 8n, ackedAhead: [] },
      { partition: 1, committed: 2n, ackedAhead: [3n] },
    ],
  );
  const billing = await broker.describeGroup('payments', 'billing');
  assert.deepEqual(
    billing.partitions.map(({ committed }) => committed),
    [1n, 3n],
  );
  assert.deepEqual(await broker.listGroups(), [
    { group: 'audit', kind: 'committed', topics: ['orders', 'payments'], members: 0 },
    { group: 'billing', kind: 'acked', topics: ['payments'], members: 0 },
    { group: 'billing', kind: 'committed', topics: ['orders', 'payments'], members: 0 },
    { group: 'workers', kind: 'acked', topics: ['orders'], members: 0 },
  ]);
}

describe('upgrade of the two-store layout', { timeout: 120_000 }, () => {
  it('upgrade - a directory with .commits files opens with every position and metadata, and the files are gone', async () => {
    const dir = fixtureCopy();
    assert.equal(filesEnding(dir, '.commits').length, 4, 'the fixture has the old files');
    const broker = await open(dir);
    await assertFixturePositions(broker);
    assert.deepEqual(filesEnding(dir, '.commits'), [], 'no .commits file is left');
    assert.ok(!existsSync(path.join(dir, 'groups')), 'the emptied groups directory is removed');
    await broker.close();
    // Reopening the migrated directory gives the same, from the journal alone.
    await assertFixturePositions(await open(dir));
  });

  it('upgrade - a migrated subscribe group redelivers only what it had not acked', async () => {
    const broker = await open(fixtureCopy());
    const delivered: ReceivedMessage[] = [];
    let acked = 0;
    const subscription = await broker.subscribe(
      { topic: 'orders', group: 'workers', inFlightMax: 4 },
      async (message) => {
        delivered.push(message);
        await message.ack();
        acked += 1;
      },
    );
    try {
      await eventually(
        () => acked >= 1,
        () => `the unacked message, acked (have ${acked})`,
      );
      assert.deepEqual(
        delivered.map((message) => `${message.partition}/${message.offset}`),
        ['1/2'],
      );
      const workers = await broker.describeGroup('orders', 'workers');
      assert.deepEqual(
        workers.partitions.map(({ committed }) => committed),
        [8n, 4n],
        'partition 1 committed past the acked-ahead offset',
      );
    } finally {
      await subscription.close();
    }
  });

  it('upgrade - re-running after a crash between the journal write and the file removal keeps the journal', async () => {
    const dir = fixtureCopy();
    let broker = await open(dir);
    // After the upgrade commits go to the journal only.
    await broker.commitOffsets('orders', 'billing', new Map([[0, commit(9n, 'after upgrade')]]));
    await broker.close();
    // A crash between the journal write and the removals: the old files of `orders` are still
    // there, beside a journal that is newer than them (here with a later commit on top).
    cpSync(path.join(FIXTURE, 'groups', 'orders'), path.join(dir, 'groups', 'orders'), { recursive: true });
    broker = await open(dir);
    assert.deepEqual(
      await broker.committedOffsetsWithMetadata('orders', 'billing'),
      new Map([
        [0, commit(9n, 'after upgrade')],
        [1, commit(5n)],
      ]),
      'the journal is newer than the files',
    );
    assert.deepEqual(
      await broker.committedOffsetsWithMetadata('orders', 'audit'),
      FIXTURE_COMMITS.orders!.audit,
    );
    assert.deepEqual(filesEnding(dir, '.commits'), []);
    await broker.close();
  });
});
