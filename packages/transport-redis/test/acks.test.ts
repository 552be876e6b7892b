/**
 * The ack batcher: the acks of one event-loop turn reach Redis as one `XACK` per stream, each ack
 * resolves only once that `XACK` was applied, and a failed `XACK` rejects every ack it carried.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { withDeadline } from '@herald/bus/testing';
import { AckBatcher } from '../src/acks.ts';
import { deleteKeys, requireRedis, withRedis } from './support.ts';

await requireRedis();

const runPrefix = `herald-test:${randomUUID().slice(0, 8)}:acks:`;
after(async () => {
  await deleteKeys(runPrefix);
});

describe('AckBatcher', { timeout: 60_000 }, () => {
  it('sends the acks of one turn as one XACK per stream, and resolves them once applied', async () => {
    await withRedis(async (redis) => {
      const streams = [`${runPrefix}s:0`, `${runPrefix}s:1`];
      const ids: string[][] = [[], []];
      for (const [index, stream] of streams.entries()) {
        await redis.call('XGROUP', 'CREATE', stream, 'g', '0', 'MKSTREAM');
        for (let each = 0; each < 3; each++) ids[index]!.push((await redis.xadd(stream, '*', 'n', each))!);
        await redis.call('XREADGROUP', 'GROUP', 'g', 'm', 'STREAMS', stream, '>');
      }
      const sent: Array<{ stream: string; ids: string[] }> = [];
      const batcher = new AckBatcher((stream, batch) => {
        sent.push({ stream, ids: [...batch] });
        return redis.call('XACK', stream, 'g', ...batch);
      });
      const acks = streams.flatMap((stream, index) => ids[index]!.map((id) => batcher.ack(stream, id)));
      await withDeadline(Promise.all(acks), 10_000, 'the batched acks');
      assert.deepEqual(sent, [
        { stream: streams[0], ids: ids[0] },
        { stream: streams[1], ids: ids[1] },
      ]);
      for (const stream of streams) {
        const [pending] = (await redis.call('XPENDING', stream, 'g')) as [number];
        assert.equal(pending, 0, `${stream}: every acked entry left the pending list`);
      }
      // A later turn starts a new batch.
      await withDeadline(batcher.ack(streams[0]!, ids[0]![0]!), 10_000, 'a second batch');
      assert.equal(sent.length, 3);
    });
  });

  it('rejects every ack of a batch whose XACK failed, with its error', async () => {
    const failure = new Error('XACK failed');
    const batcher = new AckBatcher(() => Promise.reject(failure));
    const acks = ['1-0', '2-0'].map((id) => batcher.ack('stream', id));
    const outcomes = await withDeadline(Promise.allSettled(acks), 10_000, 'the failed acks');
    assert.deepEqual(outcomes, [
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure },
    ]);
  });
});
