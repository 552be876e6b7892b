/**
 * kcat (librdkafka 2.0.2) against `herald serve`: metadata, the four compression codecs, murmur2
 * key placement, offset selection, group consumption across a restart, idempotent production.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { partitionForKey } from '@herald/bus/internal';
import { requireTool } from '@herald/test-support';
import { kcat, lines, type Serve, startServe } from './support.ts';

const needKcat = () => requireTool('kcat', ['-V'], "kcat (Debian's kcat)");

const payload = (count: number, prefix: string): string =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index}-${'compressible '.repeat(8)}`).join('\n');

describe('kcat', { timeout: 300_000 }, () => {
  let serve: Serve;
  before(async () => {
    needKcat();
    serve = await startServe({ partitions: 4 });
  });
  after(async () => {
    await serve?.stop();
  });

  test('kcat - -L lists brokers and the topics produced to', async () => {
    await kcat(serve.bootstrap, ['-P', '-t', 'listed'], 'one\ntwo\n');
    const { stdout } = await kcat(serve.bootstrap, ['-L']);
    assert.match(stdout, /1 brokers:\s+broker 0 at 127\.0\.0\.1:\d+ \(controller\)/);
    assert.match(stdout, /topic "listed" with 4 partitions:/);
    assert.match(stdout, /partition 3, leader 0, replicas: 0, isrs: 0/);
  });

  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
    test(`kcat - produce and consume with ${codec}`, async () => {
      const topic = `codec-${codec}`;
      const produced = await kcat(serve.bootstrap, ['-P', '-t', topic, '-z', codec], payload(300, codec));
      const consumed = await kcat(serve.bootstrap, ['-C', '-t', topic, '-e', '-q']);
      for (const output of [produced.stderr, consumed.stderr]) {
        assert.doesNotMatch(output, /does not support compression/i);
      }
      const got = lines(consumed.stdout).sort();
      assert.deepEqual(got, lines(payload(300, codec)).sort());
      // Batches are stored as the producer compressed them, so the log is much smaller than the data.
      let stored = 0;
      for (let partition = 0; partition < 4; partition++) {
        const directory = path.join(serve.dir, `${topic}-${partition}`);
        for (const file of readdirSync(directory)) {
          if (file.endsWith('.log')) stored += statSync(path.join(directory, file)).size;
        }
      }
      assert.ok(stored < payload(300, codec).length / 3, `${stored} bytes stored for ${codec}`);
    });
  }

  // librdkafka's default partitioner is CRC32-based; murmur2_random is the Java client's (and Herald's).
  test('kcat - keyed messages land on the murmur2 partition of their key', async () => {
    const keys = Array.from({ length: 200 }, (_, index) => `key-${index}`);
    await kcat(
      serve.bootstrap,
      ['-P', '-t', 'keyed', '-K', ':', '-X', 'partitioner=murmur2_random'],
      keys.map((key) => `${key}:value`).join('\n'),
    );
    const { stdout } = await kcat(serve.bootstrap, ['-C', '-t', 'keyed', '-e', '-q', '-f', '%k %p\n']);
    const placed = lines(stdout);
    assert.equal(placed.length, keys.length);
    for (const line of placed) {
      const [key, partition] = line.split(' ');
      assert.equal(
        Number(partition),
        partitionForKey(new TextEncoder().encode(key!), 4),
        `partition of ${key}`,
      );
    }
  });

  test('kcat - -o beginning, end, an offset and a timestamp', async () => {
    const topic = 'offsets';
    await kcat(serve.bootstrap, ['-P', '-t', topic, '-p', '0'], payload(10, 'early'));
    const boundary = Date.now() + 1;
    // Wait until the clock has passed the boundary so the next batch is strictly later.
    while (Date.now() <= boundary) await new Promise((resolve) => setImmediate(resolve));
    await kcat(serve.bootstrap, ['-P', '-t', topic, '-p', '0'], payload(5, 'late'));
    const read = async (offset: string) =>
      lines(
        (
          await kcat(serve.bootstrap, [
            '-C',
            '-t',
            topic,
            '-p',
            '0',
            '-o',
            offset,
            '-e',
            '-q',
            '-f',
            '%o %s\n',
          ])
        ).stdout,
      );
    assert.equal((await read('beginning')).length, 15);
    assert.deepEqual(await read('end'), []);
    const fromSeven = await read('7');
    assert.deepEqual(
      fromSeven.map((line) => line.split(' ')[0]),
      ['7', '8', '9', '10', '11', '12', '13', '14'],
    );
    const fromTime = await read(`s@${boundary}`);
    assert.equal(fromTime.length, 5);
    assert.ok(fromTime.every((line) => line.includes(' late-')));
  });

  test('kcat - -X enable.idempotence=true produces', async () => {
    const produced = await kcat(
      serve.bootstrap,
      ['-P', '-t', 'idempotent', '-X', 'enable.idempotence=true'],
      payload(50, 'idem'),
    );
    assert.doesNotMatch(produced.stderr, /error|fatal/i);
    const { stdout } = await kcat(serve.bootstrap, ['-C', '-t', 'idempotent', '-e', '-q']);
    assert.equal(lines(stdout).length, 50);
  });
});

describe('kcat groups', { timeout: 120_000 }, () => {
  before(needKcat);
  test('kcat - -G consumes and commits; a rerun after a broker restart reads nothing new', async () => {
    let serve = await startServe({ partitions: 3 });
    const dir = serve.dir;
    try {
      await kcat(serve.bootstrap, ['-P', '-t', 'grouped'], payload(30, 'g'));
      const groupArgs = ['-G', 'kcat-group', '-X', 'auto.offset.reset=earliest', '-e', '-q', 'grouped'];
      const first = await kcat(serve.bootstrap, groupArgs);
      assert.equal(lines(first.stdout).length, 30, first.stderr);
      await serve.stop();
      serve = await startServe({ dir, partitions: 3 });
      const second = await kcat(serve.bootstrap, groupArgs);
      assert.deepEqual(lines(second.stdout), [], 'nothing new after the restart');
      await kcat(serve.bootstrap, ['-P', '-t', 'grouped'], 'after-restart');
      const third = await kcat(serve.bootstrap, groupArgs);
      assert.deepEqual(lines(third.stdout), ['after-restart']);
    } finally {
      await serve.stop();
    }
  });
});
