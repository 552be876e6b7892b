/**
 * Apache Kafka's Java client (kafka-clients 4.1, from `npm run setup`) against `herald serve`:
 * test/java/HeraldClientCheck.java, compiled once into a cache, run once per scenario. The
 * producer keeps its defaults (idempotence on, acks=all, 5 requests in flight); the stored batch
 * headers show the producer id and the codec it used. The consumer group commits synchronously,
 * is closed and resumes from its commit; the Admin client creates, describes and deletes topics,
 * lists and describes groups, alters and deletes offsets and deletes the group.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  compileJavaCheck,
  javaJsonLines,
  storedBatchHeaders,
  withLostProduceResponses,
} from './client-tools.ts';
import { type Serve, startServe } from './support.ts';

const CHECK = 'HeraldClientCheck';
/** RecordBatch attributes' codec bits: none 0, gzip 1, snappy 2, lz4 3, zstd 4. */
const CODEC = { none: 0, lz4: 3, zstd: 4 } as const;

describe('Java kafka-clients 4.1', { timeout: 240_000 }, () => {
  let serve: Serve;
  let classes: string;
  const run = (args: readonly string[]) => javaJsonLines(CHECK, args, { extraClassPath: classes });
  before(async () => {
    [serve, classes] = await Promise.all([startServe({ partitions: 3 }), compileJavaCheck()]);
  });
  after(async () => {
    await serve?.stop();
  });

  test('java - the default producer (idempotent, acks=all) with none, lz4 and zstd', async () => {
    for (const codec of ['none', 'lz4', 'zstd'] as const) {
      const topic = `java-produce-${codec}`;
      const [produced] = await run(['produce', serve.bootstrap, topic, '300', codec]);
      assert.deepEqual(produced, { event: 'produced', acked: 300, distinctOffsets: 300 }, codec);
      const headers = storedBatchHeaders(serve.dir, topic);
      assert.ok(headers.length > 0, `${topic}: batches stored`);
      const records = headers.reduce((sum, header) => sum + header.recordsCount, 0);
      assert.equal(records, 300, `${topic}: every record stored once`);
      for (const header of headers) {
        assert.ok(header.producerId >= 0n, `${topic}: an idempotent producer id (${header.producerId})`);
        assert.ok(header.baseSequence >= 0, `${topic}: a sequence number`);
        assert.equal(header.compression, CODEC[codec], `${topic}: stored as ${codec}`);
      }
    }
  });

  test('java - a group consumer commits synchronously, closes, and a new one resumes from the commit', async () => {
    await run(['produce', serve.bootstrap, 'java-group', '60', 'none']);
    const [first] = await run(['consume', serve.bootstrap, 'java-group', 'java-group-g', '60']);
    assert.equal(first!.count, 60);
    assert.equal(new Set(first!.values as string[]).size, 60);
    assert.equal(first!.committedTotal, 60, 'the commit covers every record');
    await run(['produce', serve.bootstrap, 'java-group', '10', 'none']);
    const [second] = await run(['consume', serve.bootstrap, 'java-group', 'java-group-g', '10']);
    const expected = Array.from({ length: 10 }, (_, index) => `v-${index}`).sort();
    assert.deepEqual((second!.values as string[]).sort(), expected, 'only the records after the commit');
    assert.equal(second!.committedTotal, 70);
  });

  test('java - Admin: topics, groups and offsets', async () => {
    await run(['produce', serve.bootstrap, 'java-admin-data', '20', 'none']);
    await run(['consume', serve.bootstrap, 'java-admin-data', 'java-admin-g', '20']);
    const events = await run(['admin', serve.bootstrap, 'java-admin-topic', 'java-admin-g']);
    const byName = new Map(events.map((event) => [event.event as string, event]));
    assert.deepEqual(byName.get('described-topic'), {
      event: 'described-topic',
      name: 'java-admin-topic',
      partitions: 3,
    });
    assert.ok((byName.get('listed-topics')!.names as string[]).includes('java-admin-topic'));
    assert.ok((byName.get('listed-groups')!.groups as string[]).includes('java-admin-g'));
    assert.deepEqual(byName.get('described-group'), { event: 'described-group', state: 'Empty', members: 0 });
    assert.deepEqual(byName.get('altered-offsets'), {
      event: 'altered-offsets',
      partitions: 3,
      committedTotal: 0,
    });
    assert.deepEqual(byName.get('deleted-offsets'), { event: 'deleted-offsets', remaining: 2 });
    assert.ok(!(byName.get('deleted-group')!.groups as string[]).includes('java-admin-g'));
    assert.ok(!(byName.get('deleted-topic')!.names as string[]).includes('java-admin-topic'));
  });
});

describe('Java kafka-clients 4.1 with lost acknowledgements', { timeout: 240_000 }, () => {
  test('java - batches resent after lost Produce responses are stored once (idempotent de-duplication)', async () => {
    const classes = await compileJavaCheck();
    const { result, dropped, stored } = await withLostProduceResponses('java-resent', 3, (bootstrap) =>
      javaJsonLines('HeraldClientCheck', ['produce', bootstrap, 'java-resent', '3000', 'none'], {
        extraClassPath: classes,
      }),
    );
    assert.equal(dropped, 3, 'three Produce responses were lost');
    assert.deepEqual(result[0], { event: 'produced', acked: 3000, distinctOffsets: 3000 });
    assert.equal(stored, 3000n, 'every record stored once although its batch was sent again');
  });
});
