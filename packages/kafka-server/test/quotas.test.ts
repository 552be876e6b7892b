/**
 * Produce and fetch byte-rate quotas per principal: within the rate (and its one-second burst)
 * throttle_time_ms is 0; beyond it the response carries the throttle and the connection is not
 * read for that long, so the next response arrives no earlier; another server without quotas is
 * never throttled.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { API_KEY, type FetchResponse, type ProduceResponse } from '@herald/kafka-protocol';
import { encodeRecordBatch } from '@herald/log';
import { temporaryDirectory } from '@herald/test-support';
import { type KafkaServer, startKafkaServer } from '../src/index.ts';
import { WireClient } from './wire-client.ts';

const RATE_BYTES_PER_SECOND = 256 * 1024;
const VALUE = Buffer.alloc(64 * 1024, 7);

function produceBody(topic: string) {
  const records = encodeRecordBatch([{ key: null, value: VALUE, headers: [], timestampMs: Date.now() }], {
    timestampMs: Date.now(),
  });
  return {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5_000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  };
}

describe('quotas', { timeout: 120_000 }, () => {
  let server: KafkaServer;
  before(async () => {
    server = await startKafkaServer({
      dir: temporaryDirectory('herald-quotas-'),
      port: 0,
      partitions: 1,
      produceQuotaBytesPerSecond: RATE_BYTES_PER_SECOND,
      fetchQuotaBytesPerSecond: RATE_BYTES_PER_SECOND,
    });
    await server.broker.createTopic('quota', { partitions: 1 });
  });
  after(async () => {
    await server?.close();
  });

  test('quotas - produce over the byte rate is throttled with throttle_time_ms and a muted connection', async () => {
    const client = new WireClient(server.port);
    try {
      const throttles: number[] = [];
      // 8 × 64 KiB = 512 KiB at 256 KiB/s: the first second is free burst, the rest is throttled.
      for (let index = 0; index < 8; index++) {
        const response = await client.request<ProduceResponse>(API_KEY.Produce, 7, produceBody('quota'));
        assert.equal(response.responses[0]!.partitionResponses[0]!.errorCode, 0);
        throttles.push(response.throttleTimeMs ?? 0);
      }
      assert.equal(throttles[0], 0, `the first request is within the burst (${throttles})`);
      assert.ok(throttles.at(-1)! > 0, `the last request is throttled (${throttles})`);
      assert.ok(
        throttles.every((ms) => ms <= 30_000),
        'bounded',
      );
      // The connection stays muted for the throttle: the next answer comes no earlier.
      const mutedMs = throttles.at(-1)!;
      const started = performance.now();
      await client.request<ProduceResponse>(API_KEY.Produce, 7, produceBody('quota'));
      assert.ok(
        performance.now() - started >= mutedMs - 50,
        `muted ${performance.now() - started} ms of ${mutedMs}`,
      );
    } finally {
      client.close();
    }
  });

  test('quotas - fetch over the byte rate is throttled too', async () => {
    const client = new WireClient(server.port);
    try {
      const throttles: number[] = [];
      for (let index = 0; index < 4; index++) {
        const response = await client.request<FetchResponse>(API_KEY.Fetch, 11, {
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1 << 20,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [
            {
              topic: 'quota',
              partitions: [
                {
                  partition: 0,
                  currentLeaderEpoch: -1,
                  fetchOffset: 0n,
                  logStartOffset: -1n,
                  partitionMaxBytes: 1 << 20,
                },
              ],
            },
          ],
          forgottenTopicsData: [],
          rackId: '',
        });
        throttles.push(response.throttleTimeMs);
      }
      assert.ok(
        throttles.some((ms) => ms > 0),
        `fetches of ~512 KiB at 256 KiB/s are throttled (${throttles})`,
      );
    } finally {
      client.close();
    }
  });
});
