/**
 * Fetch response size with librdkafka (kcat): four partitions whose batches are each nearly as
 * large as the consumer's `fetch.max.bytes`. Only the first partition with data may go past the
 * limits (with one batch), so no response exceeds what librdkafka accepts
 * (`receive.message.max.bytes`), and every message is consumed. The server runs in this process so
 * the test also sees, through `onResponse`, the size of every Fetch response it sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { API_KEY } from '@herald/kafka-protocol';
import { encodeRecordBatch } from '@herald/log';
import { runTool, temporaryDirectory } from '@herald/test-support';
import { type KafkaServer, type ResponseSize, startKafkaServer } from '../src/index.ts';
import { lines } from './support.ts';

const PARTITIONS = 4;
const BATCHES_PER_PARTITION = 3;
const RECORDS_PER_BATCH = 90;
const VALUE_BYTES = 10_000;
/** librdkafka's fetch.max.bytes for the consumer; a batch is about 0.9 of it. */
const FETCH_BYTES_MAX = 1_000_000;
/** librdkafka requires receive.message.max.bytes >= fetch.max.bytes + 512 and rejects larger responses. */
const RECEIVE_BYTES_MAX = FETCH_BYTES_MAX + 512;

describe('fetch limits', () => {
  let server: KafkaServer | undefined;
  const fetchSizes: number[] = [];

  before(async () => {
    server = await startKafkaServer({
      dir: temporaryDirectory(),
      port: 0,
      partitions: PARTITIONS,
      onResponse: (response: ResponseSize) => {
        if (response.apiKey === API_KEY.Fetch) fetchSizes.push(response.bytes);
      },
    });
    await server.broker.createTopic('large-batches', { partitions: PARTITIONS });
    for (let partition = 0; partition < PARTITIONS; partition++) {
      for (let index = 0; index < BATCHES_PER_PARTITION; index++) {
        const batch = encodeRecordBatch(
          Array.from({ length: RECORDS_PER_BATCH }, () => ({
            key: null,
            value: Buffer.alloc(VALUE_BYTES, 'v'),
            headers: [],
            timestampMs: Date.now(),
          })),
          { timestampMs: Date.now() },
        );
        assert.ok(batch.length > 0.85 * FETCH_BYTES_MAX && batch.length < FETCH_BYTES_MAX);
        await server.broker.appendBatch('large-batches', partition, batch);
      }
    }
  });

  after(async () => {
    await server?.close();
  });

  test('fetch limits - kcat consumes batches near fetch.max.bytes from 4 partitions', async () => {
    const result = await runTool(
      'kcat',
      [
        '-b',
        `127.0.0.1:${server!.port}`,
        '-C',
        '-t',
        'large-batches',
        '-o',
        'beginning',
        '-e',
        '-q',
        '-f',
        '%p %o\\n',
        '-X',
        `fetch.max.bytes=${FETCH_BYTES_MAX}`,
        '-X',
        `receive.message.max.bytes=${RECEIVE_BYTES_MAX}`,
      ],
      { timeoutMs: 30_000 },
    );
    assert.doesNotMatch(result.stderr, /Invalid response size/);
    assert.equal(result.code, 0, `kcat did not finish (stalled?):\n${result.stderr.slice(-2000)}`);
    const consumed = new Set(lines(result.stdout));
    assert.equal(consumed.size, PARTITIONS * BATCHES_PER_PARTITION * RECORDS_PER_BATCH);
    assert.ok(fetchSizes.length > 0, 'the server answered Fetch requests');
    const largest = Math.max(...fetchSizes);
    assert.ok(largest > 0.85 * FETCH_BYTES_MAX, `a fetch carried a whole batch (${largest} bytes)`);
    assert.ok(largest <= RECEIVE_BYTES_MAX, `largest Fetch response ${largest} bytes > ${RECEIVE_BYTES_MAX}`);
  });
});
