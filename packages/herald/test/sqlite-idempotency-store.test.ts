import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spawnChild } from '@herald/test-support';
import { createBus, defineEvent, encodeEnvelope, sqliteIdempotencyStore } from 'herald';
import { z } from 'zod';
import { RememberWriter, WAL_PAGES_MAX, WAL_RESTART_PAGES } from '../src/sqlite-remember-writer.ts';

const directory = mkdtempSync(join(tmpdir(), 'herald-sqlite-'));
after(() => rmSync(directory, { recursive: true, force: true }));

/**
 * The most frames the WAL of the database at `path` ever held: SQLite reuses the WAL file from its
 * start when it starts the WAL over and never shrinks it here, so its size is the high-water mark
 * (a 32-byte header, then a 24-byte header and a 4 KiB page per frame).
 */
const walFramesMax = (path: string): number => (statSync(`${path}-wal`).size - 32) / (24 + 4096);

/**
 * Steady writes: `writers` loops each committing `keys` keys one at a time (each awaits its commit
 * before the next), so the writer commits back to back in small commits (≈ 6 pages each).
 */
const steadyKeys = async (remember: (id: string) => Promise<void>, writers: number, keys: number) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < keys) await remember(`0193-${String(next++).padStart(8, '0')}`);
    }),
  );
};

/** Worker threads of this process (Linux names them `WorkerThread` in `/proc/self/task/TID/comm`). */
const workerThreads = (): number =>
  readdirSync('/proc/self/task').filter((task) => {
    try {
      return readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim() === 'WorkerThread';
    } catch {
      return false; // the thread ended while listed
    }
  }).length;

/** Waits (bounded) until `condition` holds; fails with `what` otherwise. */
const waitFor = async (condition: () => boolean, what: string) => {
  const deadlineMs = performance.now() + 10_000;
  while (!condition()) {
    assert.ok(performance.now() < deadlineMs, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('sqlite idempotency store', { timeout: 120_000 }, () => {
  it('sqlite idempotency store - open() starts the writer and checkpointer threads up front; remember then starts none', {
    skip: process.platform !== 'linux' && 'counts threads in /proc/self/task (Linux)',
  }, async () => {
    const path = join(directory, 'open', 'keys.sqlite');
    const before = workerThreads();
    const store = sqliteIdempotencyStore({ path });
    try {
      assert.equal(workerThreads(), before, 'creating the store started a thread');
      await store.open();
      assert.equal(workerThreads(), before + 2, 'open() resolved before both threads ran');
      await store.open(); // again: nothing more
      const key = { group: 'g', source: '/s', id: 'after-open' };
      await store.remember(key);
      assert.equal(await store.seen(key), true);
      assert.equal(workerThreads(), before + 2, 'remember after open() started another thread');
    } finally {
      await store.close();
    }
    await waitFor(() => workerThreads() === before, 'the threads to end after close()');
    await assert.rejects(store.open(), /used after close/);
  });

  it('sqlite idempotency store - open() rejects with the cause when the database cannot be opened', async () => {
    const blocker = join(directory, 'not-a-directory');
    writeFileSync(blocker, 'a file where the store wants a directory');
    const store = sqliteIdempotencyStore({ path: join(blocker, 'keys.sqlite') });
    try {
      await assert.rejects(store.open(), {
        name: 'ConfigurationError',
        message:
          /cannot open .*keys\.sqlite \((EEXIST|ENOTDIR).*\); pass a path whose directory exists or can be created/,
      });
    } finally {
      await store.close();
    }
  });

  it('remembers keys across reopen, per group, within the retention window', async () => {
    const path = join(directory, 'a', 'keys.sqlite');
    const key = { group: 'g', source: '/s', id: '1' };
    const first = sqliteIdempotencyStore({ path });
    assert.equal(await first.seen(key), false);
    await first.remember(key);
    await first.remember(key);
    assert.equal(await first.seen(key), true);
    assert.equal(await first.seen({ ...key, group: 'other' }), false);
    await first.close();
    await first.close();
    const reopened = sqliteIdempotencyStore({ path });
    assert.equal(await reopened.seen(key), true, 'forgot a key across reopen');
    await reopened.close();
    const expired = sqliteIdempotencyStore({ path, retentionMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5)); // Let the 1 ms window pass.
    assert.equal(await expired.seen(key), false, 'a key outside the window still counts');
    await expired.close();
  });

  it('sqlite idempotency store - concurrent remembers share a commit, each resolving once durable, beside a transaction whose work awaits', async () => {
    const path = join(directory, 'group-commit', 'keys.sqlite');
    const store = sqliteIdempotencyStore({ path });
    const keys = Array.from({ length: 2_500 }, (_, index) => ({
      group: 'g',
      source: '/s',
      id: `k-${index}`,
    }));
    // A transaction holds the one connection across an await while the remembers queue behind it.
    const inTransaction = store.transaction!({ group: 'g', source: '/s', id: 'tx' }, async (database) => {
      await new Promise((resolve) => setImmediate(resolve));
      (database as { exec(sql: string): void }).exec('CREATE TABLE IF NOT EXISTS effects (id TEXT)');
      return 'done';
    });
    await Promise.all([...keys.map((key) => store.remember(key)), inTransaction]);
    for (const key of [keys[0]!, keys[1_234]!, keys.at(-1)!]) assert.equal(await store.seen(key), true);
    const late = store.remember({ group: 'g', source: '/s', id: 'late' });
    await store.close();
    await late;
    await assert.rejects(store.remember({ group: 'g', source: '/s', id: 'closed' }), /used after close/);
    const reopened = sqliteIdempotencyStore({ path });
    for (const key of [
      ...keys,
      { group: 'g', source: '/s', id: 'late' },
      { group: 'g', source: '/s', id: 'tx' },
    ])
      assert.equal(await reopened.seen(key), true, `forgot ${key.id} across reopen`);
    await reopened.close();
  });

  it('remembers handed over while earlier batches commit each resolve only once their key reads back', async () => {
    const path = join(directory, 'pipelined', 'keys.sqlite');
    const store = sqliteIdempotencyStore({ path });
    const resolved: Promise<void>[] = [];
    const missing: string[] = [];
    // 40 turns of the event loop, 50 keys each: batches reach the writer while others commit.
    for (let turn = 0; turn < 40; turn++) {
      for (let index = 0; index < 50; index++) {
        const key = { group: 'g', source: '/s', id: `t${turn}-${index}` };
        resolved.push(
          store.remember(key).then(async () => {
            if (!(await store.seen(key))) missing.push(key.id);
          }),
        );
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(resolved);
    assert.deepEqual(missing, [], 'a remember resolved before its key was committed');
    await store.close();
  });

  it('sqlite idempotency store - the seens of one run share lookups yet each answers for its own key, across (group, source) pairs and beyond one query', async () => {
    const path = join(directory, 'batched-seen', 'keys.sqlite');
    const store = sqliteIdempotencyStore({ path });
    // 2,500 keys over 3 (group, source) pairs, interleaved, every third one remembered: more keys
    // than one lookup query takes (1,000), runs of one pair broken by the others.
    const pairs = [
      { group: 'g1', source: '/a' },
      { group: 'g2', source: '/a' },
      { group: 'g1', source: '/b' },
    ];
    const keys = Array.from({ length: 2_500 }, (_, index) => ({
      ...pairs[Math.floor(index / 7) % pairs.length]!,
      id: `k-${index % 1_300}`, // The same id under another pair must not count.
    }));
    const remembered = new Set<number>();
    await Promise.all(
      keys.map((key, index) => {
        if (index % 3 !== 0) return undefined;
        remembered.add(index);
        return store.remember(key);
      }),
    );
    const text = (key: { group: string; source: string; id: string }) =>
      `${key.group} ${key.source} ${key.id}`;
    const rememberedText = new Set([...remembered].map((index) => text(keys[index]!)));
    const answers = await Promise.all(keys.map((key) => store.seen(key)));
    const wrong = keys.filter((key, index) => answers[index] !== rememberedText.has(text(key)));
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} seen answers wrong`);
    // After close a seen rejects at once.
    const stats = store.writerStats;
    assert.ok(stats.commits >= 1 && stats.keys >= remembered.size, `writer stats: ${JSON.stringify(stats)}`);
    // Each batch handed over is counted with how long it waited to be taken and its answer waited.
    assert.ok(
      stats.batches >= stats.commits && Number.isFinite(stats.queuedMs) && Number.isFinite(stats.answerMs),
      `writer stats: ${JSON.stringify(stats)}`,
    );
    await store.close();
    await assert.rejects(store.seen(keys[0]!), /used after close/);
    const expired = sqliteIdempotencyStore({ path, retentionMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5)); // Let the 1 ms window pass.
    assert.deepEqual(await Promise.all([expired.seen(keys[0]!), expired.seen(keys[1]!)]), [false, false]);
    await expired.close();
  });

  it('sqlite idempotency store - odd ids (NUL, quotes, emoji, a lone surrogate, empty) and NULs in group or source read back through the batched paths as through a transaction', async () => {
    const store = sqliteIdempotencyStore({ path: join(directory, 'odd-keys', 'keys.sqlite') });
    try {
      const ids = ['a\u0000b', 'é"\\/\n😀', '\ud800x', ' ', ''];
      await Promise.all(ids.map((id) => store.remember({ group: 'g', source: '/s', id })));
      assert.deepEqual(
        await Promise.all(ids.map((id) => store.seen({ group: 'g', source: '/s', id }))),
        ids.map(() => true),
      );
      assert.equal(await store.seen({ group: 'g', source: '/s', id: 'a' }), false, 'an id cut at its NUL');
      for (const id of ids) {
        const outcome = await store.transaction!({ group: 'g', source: '/s', id }, async () => 'ran');
        assert.deepEqual(outcome, { duplicate: true }, `the transaction path missed ${JSON.stringify(id)}`);
      }
      // Two pairs that would collide if group and source were joined with a NUL.
      await store.remember({ group: 'x\u0000y', source: 'z', id: 'n' });
      assert.deepEqual(
        await Promise.all([
          store.seen({ group: 'x\u0000y', source: 'z', id: 'n' }),
          store.seen({ group: 'x', source: 'y\u0000z', id: 'n' }),
        ]),
        [true, false],
      );
    } finally {
      await store.close();
    }
  });

  it('sqlite idempotency store - the checkpointer thread checkpoints the WAL every 10,000 keys', async () => {
    const path = join(directory, 'checkpoints', 'keys.sqlite');
    const store = sqliteIdempotencyStore({ path });
    // 25,000 keys in turns of 500: two checkpoints are due (one per 10,000 committed keys).
    for (let turn = 0; turn < 50; turn++) {
      await Promise.all(
        Array.from({ length: 500 }, (_, index) =>
          store.remember({
            group: 'g',
            source: '/s',
            id: `0193-${String(turn * 500 + index).padStart(8, '0')}`,
          }),
        ),
      );
    }
    // The checkpoint's report follows its commit's answer: wait for it (bounded).
    const deadlineMs = performance.now() + 30_000;
    while (store.writerStats.checkpoints < 2 && performance.now() < deadlineMs)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const stats = { ...store.writerStats };
    await store.close();
    assert.equal(stats.keys, 25_000);
    assert.ok(stats.checkpoints >= 2, `checkpoints: ${JSON.stringify(stats)}`);
    // ≈ 0.063 pages per key measured: 10,000 keys are ≈ 630 pages; 2,000 leaves room for batches.
    assert.ok(stats.walPagesMax > 0 && stats.walPagesMax < 2_000, `WAL pages: ${JSON.stringify(stats)}`);
    const reopened = sqliteIdempotencyStore({ path });
    assert.equal(await reopened.seen({ group: 'g', source: '/s', id: '0193-00024999' }), true);
    await reopened.close();
  });

  it('sqlite idempotency store - under steady small commits the WAL starts over and stays under its bound', async () => {
    const path = join(directory, 'wal-bound', 'keys.sqlite');
    const store = sqliteIdempotencyStore({ path });
    try {
      await steadyKeys((id) => store.remember({ group: 'g', source: '/s', id }), 16, 40_000);
      const stats = { ...store.writerStats };
      // Thousands of commits of a few keys: far more pages were committed than the WAL holds.
      assert.ok(stats.commits > 1_000, `commits: ${JSON.stringify(stats)}`);
      assert.ok(stats.checkpoints >= 5, `checkpoints: ${JSON.stringify(stats)}`);
      const frames = walFramesMax(path);
      // The restart threshold, plus the pages committed while the last checkpoints ran.
      assert.ok(frames <= WAL_RESTART_PAGES + 1_000, `WAL frames ${frames}: ${JSON.stringify(stats)}`);
      assert.equal(await store.seen({ group: 'g', source: '/s', id: '0193-00039999' }), true);
    } finally {
      await store.close();
    }
  });

  it("sqlite idempotency store - with no checkpointer, the writer's fallback keeps the WAL under WAL_PAGES_MAX", async () => {
    const path = join(directory, 'wal-fallback', 'keys.sqlite');
    const store = sqliteIdempotencyStore({ path });
    await store.seen({ group: 'g', source: '/s', id: 'creates-the-table' });
    // The checkpointer never asked: only the writer's autocheckpoint at WAL_PAGES_MAX runs.
    const writer = new RememberWriter(path, 'FULL', 1_000, Number.POSITIVE_INFINITY);
    try {
      await steadyKeys(
        (id) =>
          writer.write({ groups: ['g'], sources: ['/s'], ids: [JSON.stringify([id])], keys: 1 }, Date.now()),
        16,
        60_000,
      );
      assert.equal(writer.stats.checkpoints, 0);
      const frames = walFramesMax(path);
      // ≈ 6 pages per commit of a few keys: several times WAL_PAGES_MAX was committed in all.
      assert.ok(writer.stats.commits * 4 > 2 * WAL_PAGES_MAX, `commits: ${JSON.stringify(writer.stats)}`);
      assert.ok(frames >= WAL_PAGES_MAX / 2, `the fallback was not reached: WAL frames ${frames}`);
      assert.ok(frames <= WAL_PAGES_MAX + 200, `WAL frames ${frames}: ${JSON.stringify(writer.stats)}`);
      assert.equal(await store.seen({ group: 'g', source: '/s', id: '0193-00059999' }), true);
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it('createBus() on the embedded broker deduplicates a redelivered message, across a restart', async () => {
    const dir = join(directory, 'bus');
    const Paid = defineEvent('Paid', { topic: 'payments', schema: z.object({ amount: z.number() }) });
    const applied: number[] = [];
    const first = createBus({ embedded: { dir } });
    const done = Promise.withResolvers<void>();
    first.on(Paid, { group: 'ledger' }, (paid) => {
      applied.push(paid.amount);
      done.resolve();
    });
    await first.start();
    const envelope = await first.publish(Paid, { amount: 5 });
    await done.promise;
    await first.stop();

    const second = createBus({ embedded: { dir } });
    const marker = Promise.withResolvers<void>();
    second.on(Paid, { group: 'ledger' }, (paid) => {
      applied.push(paid.amount);
      if (paid.amount === 6) marker.resolve();
    });
    await second.start();
    await second.transport.publish('payments', [encodeEnvelope(envelope)]); // The same message again.
    await second.publish(Paid, { amount: 6 });
    await marker.promise;
    assert.deepEqual(applied, [5, 6]);
    assert.equal(second.stats().duplicatesSkipped, 1);
    await second.stop();
  });
});

describe('sqlite idempotency store - crash', { timeout: 180_000 }, () => {
  it('sqlite idempotency store - a writer killed -9 mid-commit (3 times) loses no key whose remember had resolved', async () => {
    const path = join(directory, 'crash', 'keys.sqlite');
    const writer = join(import.meta.dirname, 'fixtures', 'remember-writer.ts');
    const resolved: string[] = [];
    for (let run = 0; run < 3; run++) {
      const child = spawnChild(process.execPath, [writer, path, `run${run}`]);
      try {
        await child.waitForLine(/^ready$/, 30_000, 'the writer to start');
        const before = resolved.length;
        const stop = child.onLine((line) => {
          if (line.startsWith('remembered ')) resolved.push(line.slice('remembered '.length));
        });
        // Killed once it has resolved at least 500 keys, so commits are running when it dies.
        const deadlineMs = performance.now() + 30_000;
        while (resolved.length - before < 500 && performance.now() < deadlineMs)
          await new Promise((resolve) => setTimeout(resolve, 5));
        await child.kill();
        stop();
        assert.ok(
          resolved.length - before >= 500,
          `run ${run}: ${resolved.length - before} keys resolved in 30 s`,
        );
      } finally {
        await child.kill().catch(() => undefined);
      }
    }
    const reopened = sqliteIdempotencyStore({ path });
    try {
      const answers = await Promise.all(
        resolved.map((id) => reopened.seen({ group: 'g', source: '/crash', id })),
      );
      const lost = resolved.filter((_, index) => !answers[index]);
      assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${resolved.length} resolved keys lost`);
    } finally {
      await reopened.close();
    }
  });
});

describe('sqlite idempotency store - transactional inbox', { timeout: 120_000 }, () => {
  it('commits the handler writes with the dedup record once; a failure leaves neither', async () => {
    const store = sqliteIdempotencyStore({ path: join(directory, 'inbox', 'inbox.sqlite') });
    type Database = import('node:sqlite').DatabaseSync;
    const key = { group: 'g', source: '/s', id: 'tx-1' };
    assert.deepEqual(
      await store.transaction!(key, async (database) => {
        (database as Database).exec('CREATE TABLE IF NOT EXISTS effects (id TEXT)');
      }),
      { duplicate: false, value: undefined },
    );
    const apply = (id: string, fail: boolean) =>
      store.transaction!({ ...key, id }, async (database) => {
        (database as Database).prepare('INSERT INTO effects (id) VALUES (?)').run(id);
        if (fail) throw new Error('handler failed after writing');
        return 'ok';
      });
    await assert.rejects(apply('e-1', true), /handler failed/);
    assert.equal(
      await store.seen({ ...key, id: 'e-1' }),
      false,
      'a failed transaction left its dedup record',
    );
    assert.deepEqual(await Promise.all([apply('e-1', false), apply('e-1', false)]), [
      { duplicate: false, value: 'ok' },
      { duplicate: true },
    ]);
    const rows = await store.transaction!({ ...key, id: 'read' }, async (database) =>
      (database as Database)
        .prepare('SELECT id FROM effects')
        .all()
        .map((row) => ({ ...row })),
    );
    assert.deepEqual(rows, { duplicate: false, value: [{ id: 'e-1' }] });
    await store.close();
  });
});
