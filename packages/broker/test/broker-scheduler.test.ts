/**
 * The embedded broker's persisted schedule: what waits survives a close and reopen (and its
 * timer is armed again), cancellations are journaled too, the journal is compacted into a new
 * generation, and the bounds refuse with `SCHEDULE_FULL`. The crash (kill -9) case is
 * `herald/test/schedule-crash.test.ts`.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { embeddedTransport } from '@herald/broker';
import { ScheduleError, type Transport, type TransportMessage } from '@herald/bus';
import { eventually } from '@herald/test-support';
import { freshDirectory, tracked } from './support.ts';

function scheduled(id: string): TransportMessage {
  return { key: `k-${id}`, headers: { ce_id: id, 'x-name': id }, body: new TextEncoder().encode(id) };
}

/** Ids arriving on `topic`, with their keys, for a group reading from the start. */
async function arrivals(transport: Transport, topic: string): Promise<{ id: string; key?: string }[]> {
  const seen: { id: string; key?: string }[] = [];
  await transport.subscribe({ topic, group: 'reader', inFlightMax: 64 }, async (message) => {
    seen.push({ id: message.headers.ce_id!, key: message.key });
    await message.ack();
  });
  return seen;
}

describe('broker scheduler', { timeout: 60_000 }, () => {
  it('broker scheduler - waiting messages and cancellations survive a reopen; due ones are delivered once', async () => {
    const dir = freshDirectory();
    const first = tracked(await embeddedTransport({ dir }));
    const nowMs = Date.now();
    await first.scheduler.schedule('jobs', scheduled('soon'), nowMs + 600);
    await first.scheduler.schedule('jobs', scheduled('cancelled'), nowMs + 700);
    await first.scheduler.schedule('jobs', scheduled('later'), nowMs + 60_000);
    assert.equal(await first.scheduler.cancel('cancelled'), 'cancelled');
    assert.equal(await first.scheduler.cancel('unknown'), 'not-pending');
    await first.close();
    const second = tracked(await embeddedTransport({ dir }));
    const seen = await arrivals(second, 'jobs');
    await eventually(() => seen.length >= 1, 'the due message after the reopen');
    assert.deepEqual(seen, [{ id: 'soon', key: 'k-soon' }]);
    assert.ok(Date.now() >= nowMs + 600);
    assert.equal(await second.scheduler.cancel('later'), 'cancelled');
    await second.close();
    const third = tracked(await embeddedTransport({ dir }));
    assert.equal(await third.scheduler.cancel('later'), 'not-pending');
    assert.equal(await third.scheduler.cancel('soon'), 'not-pending');
  });

  it('broker scheduler - the journal is compacted into a new generation; what waits is kept', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir }));
    const nowMs = Date.now();
    await transport.scheduler.schedule('jobs', scheduled('keeper'), nowMs + 60_000);
    // 10,001 records ended by their done records: past the compaction threshold.
    const count = 5001;
    await Promise.all(
      Array.from({ length: count }, (_, index) =>
        transport.scheduler.schedule('jobs', scheduled(`m-${index}`), nowMs),
      ),
    );
    const seen = await arrivals(transport, 'jobs');
    await eventually(
      () => seen.length === count,
      () => `all ${count} due messages (${seen.length})`,
    );
    await eventually(
      () => readdirSync(path.join(dir, 'schedule')).includes('journal-1'),
      'the journal compacted into generation 1',
    );
    await transport.close();
    assert.deepEqual(readdirSync(path.join(dir, 'schedule')).sort(), ['current', 'journal-1']);
    const reopened = tracked(await embeddedTransport({ dir }));
    assert.equal(await reopened.scheduler.cancel('keeper'), 'cancelled');
    assert.equal(await reopened.scheduler.cancel('m-0'), 'not-pending');
  });

  it('broker scheduler - beyond scheduledMax or scheduledBytesMax, schedule rejects with SCHEDULE_FULL', async () => {
    const transport = tracked(
      await embeddedTransport({ dir: freshDirectory(), scheduledMax: 2, scheduledBytesMax: 10_000 }),
    );
    const laterMs = Date.now() + 60_000;
    await transport.scheduler.schedule('jobs', scheduled('a'), laterMs);
    await transport.scheduler.schedule('jobs', scheduled('b'), laterMs);
    await assert.rejects(transport.scheduler.schedule('jobs', scheduled('c'), laterMs), (error: unknown) => {
      assert.ok(error instanceof ScheduleError);
      assert.equal(error.reason, 'SCHEDULE_FULL');
      assert.equal(error.retriable, true);
      return true;
    });
    assert.equal(await transport.scheduler.cancel('a'), 'cancelled');
    const big: TransportMessage = { ...scheduled('big'), body: new Uint8Array(20_000) };
    await assert.rejects(transport.scheduler.schedule('jobs', big, laterMs), {
      name: 'ScheduleError',
      reason: 'SCHEDULE_FULL',
    });
    await transport.scheduler.schedule('jobs', scheduled('c'), laterMs);
  });
});
