/**
 * Bad input over a real socket to an in-process server: CRC mismatches, oversized batches, old
 * message formats, unknown API keys and versions, pipelined requests answered in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  API_KEY,
  APIS,
  decodeResponse,
  ERROR_CODE,
  type ListOffsetsResponse,
  type OffsetFetchResponse,
  type ProduceResponse,
} from '@herald/kafka-protocol';
import { encodeRecordBatch } from '@herald/log';
import { temporaryDirectory } from '@herald/test-support';
import { type KafkaServer, startKafkaServer } from '../src/index.ts';
import { WireClient } from './wire-client.ts';

const batch = (count: number) =>
  encodeRecordBatch(
    Array.from({ length: count }, (_, index) => ({
      key: null,
      value: Buffer.from(`v${index}`),
      headers: [],
      timestampMs: 1,
    })),
    { timestampMs: 1 },
  );

function produceBody(records: Uint8Array, topic = 'wire') {
  return {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  };
}

function produceError(frame: Buffer | null, version: number): number {
  assert.ok(frame !== null, 'a response');
  const { body } = decodeResponse(API_KEY.Produce, version, frame);
  return (body as ProduceResponse).responses[0]!.partitionResponses[0]!.errorCode;
}

describe('wire', { timeout: 600_000 }, () => {
  let server: KafkaServer;
  before(async () => {
    server = await startKafkaServer({ dir: temporaryDirectory(), port: 0, partitions: 1 });
    await server.broker.createTopic('wire');
  });
  after(async () => {
    await server.close();
  });

  test('wire - a CRC mismatch is CORRUPT_MESSAGE and nothing is stored', async () => {
    const client = new WireClient(server.port);
    const corrupt = Buffer.from(batch(3));
    corrupt[corrupt.length - 1]! ^= 0x01;
    const header = { apiKey: API_KEY.Produce, apiVersion: 7, correlationId: 1, clientId: 't' };
    assert.equal(
      produceError(await client.send(header, produceBody(corrupt)), 7),
      ERROR_CODE.CORRUPT_MESSAGE,
    );
    assert.deepEqual(await server.broker.partitionOffsets('wire', 0), {
      logStartOffset: 0n,
      highWatermark: 0n,
    });
    // A length field larger than the records is refused the same way.
    const truncated = Buffer.from(batch(3)).subarray(0, 70);
    assert.equal(
      produceError(await client.send(header, produceBody(truncated)), 7),
      ERROR_CODE.CORRUPT_MESSAGE,
    );
    client.close();
  });

  test('wire - oversized batches are MESSAGE_TOO_LARGE; message sets (Produce v0-2) are refused', async () => {
    const client = new WireClient(server.port);
    const big = encodeRecordBatch(
      Array.from({ length: 10 }, () => ({
        key: null,
        value: Buffer.alloc(900 * 1024, 7),
        headers: [],
        timestampMs: 1,
      })),
      { timestampMs: 1 },
    );
    const header = { apiKey: API_KEY.Produce, apiVersion: 8, correlationId: 2, clientId: 't' };
    assert.equal(produceError(await client.send(header, produceBody(big)), 8), ERROR_CODE.MESSAGE_TOO_LARGE);
    const old = { apiKey: API_KEY.Produce, apiVersion: 2, correlationId: 3, clientId: 't' };
    assert.equal(
      produceError(await client.send(old, produceBody(batch(1))), 2),
      ERROR_CODE.UNSUPPORTED_FOR_MESSAGE_FORMAT,
    );
    assert.deepEqual(await server.broker.partitionOffsets('wire', 0), {
      logStartOffset: 0n,
      highWatermark: 0n,
    });
    client.close();
  });

  test('wire - as Kafka from Produce v3: one batch per partition, magic 2, zstd only from v7', async () => {
    const client = new WireClient(server.port);
    const header = (apiVersion: number, correlationId: number) => ({
      apiKey: API_KEY.Produce,
      apiVersion,
      correlationId,
      clientId: 't',
    });
    await server.broker.createTopic('rules', { partitions: 1 });
    const before = await server.broker.partitionOffsets('rules', 0);
    const two = Buffer.concat([batch(1), batch(1)]);
    assert.equal(
      produceError(await client.send(header(7, 10), produceBody(two, 'rules')), 7),
      ERROR_CODE.INVALID_RECORD,
    );
    const magic1 = Buffer.from(batch(1));
    magic1[16] = 1;
    assert.equal(
      produceError(await client.send(header(7, 11), produceBody(magic1, 'rules')), 7),
      ERROR_CODE.INVALID_RECORD,
    );
    assert.equal(
      produceError(await client.send(header(7, 12), produceBody(new Uint8Array(0), 'rules')), 7),
      ERROR_CODE.INVALID_RECORD,
    );
    const zstd = encodeRecordBatch(
      [{ key: null, value: Buffer.alloc(100, 1), headers: [], timestampMs: 1 }],
      {
        timestampMs: 1,
        compression: 'zstd',
      },
    );
    assert.equal(
      produceError(await client.send(header(6, 13), produceBody(zstd, 'rules')), 6),
      ERROR_CODE.UNSUPPORTED_COMPRESSION_TYPE,
    );
    assert.deepEqual(await server.broker.partitionOffsets('rules', 0), before, 'nothing stored');
    assert.equal(
      produceError(await client.send(header(7, 14), produceBody(zstd, 'rules')), 7),
      ERROR_CODE.NONE,
    );
    client.close();
  });

  test('wire - OffsetFetch with null topics lists every committed partition at every advertised version from 2', async () => {
    await server.broker.createTopic('fetched', { partitions: 2 });
    await server.broker.commitOffsets(
      'fetched',
      'every-version',
      new Map([
        [0, { offset: 3n, metadata: 'm' }],
        [1, { offset: -2n, metadata: null }],
      ]),
    );
    const client = new WireClient(server.port);
    const api = APIS.find((entry) => entry.apiKey === API_KEY.OffsetFetch)!;
    for (let version = 2; version <= api.versionMax; version++) {
      const header = {
        apiKey: API_KEY.OffsetFetch,
        apiVersion: version,
        correlationId: version,
        clientId: 't',
      };
      const frame = await client.send(header, {
        groupId: 'every-version',
        topics: null,
        requireStable: false,
      });
      assert.ok(frame !== null, `a response at v${version}`);
      const body = decodeResponse(API_KEY.OffsetFetch, version, frame).body as OffsetFetchResponse;
      assert.deepEqual(
        body.topics.map((topic) => [
          topic.name,
          topic.partitions.map((partition) => [
            partition.partitionIndex,
            partition.committedOffset,
            partition.metadata,
          ]),
        ]),
        [
          [
            'fetched',
            [
              [0, 3n, 'm'],
              [1, -2n, ''],
            ],
          ],
        ],
        `OffsetFetch v${version}`,
      );
    }
    client.close();
  });

  test('wire - ListOffsets: a partition named twice is INVALID_REQUEST once; -3 needs v7', async () => {
    await server.broker.createTopic('listed', { partitions: 2 });
    const client = new WireClient(server.port);
    const header = { apiKey: API_KEY.ListOffsets, apiVersion: 5, correlationId: 1, clientId: 't' };
    const partition = (partitionIndex: number, timestamp: bigint) => ({
      partitionIndex,
      currentLeaderEpoch: -1,
      timestamp,
    });
    const frame = await client.send(header, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        { name: 'listed', partitions: [partition(0, -1n), partition(1, -3n), partition(0, -2n)] },
        { name: 'listed', partitions: [partition(1, -100n)] },
      ],
    });
    assert.ok(frame !== null);
    const body = decodeResponse(API_KEY.ListOffsets, 5, frame).body as ListOffsetsResponse;
    assert.deepEqual(
      body.topics.map((topic) =>
        topic.partitions.map((entry) => [entry.partitionIndex, entry.errorCode, entry.offset]),
      ),
      [
        [
          [0, ERROR_CODE.INVALID_REQUEST, -1n],
          [1, ERROR_CODE.INVALID_REQUEST, -1n],
        ],
        [],
      ],
    );
    const single = await client.send(
      { ...header, correlationId: 2 },
      { replicaId: -1, isolationLevel: 0, topics: [{ name: 'listed', partitions: [partition(1, -3n)] }] },
    );
    assert.ok(single !== null);
    const answer = (decodeResponse(API_KEY.ListOffsets, 5, single).body as ListOffsetsResponse).topics[0]!
      .partitions[0]!;
    assert.equal(answer.errorCode, ERROR_CODE.UNSUPPORTED_VERSION);
    client.close();
  });

  test('wire - pipelined requests are answered in request order', async () => {
    const client = new WireClient(server.port);
    const header = (correlationId: number) => ({
      apiKey: API_KEY.Produce,
      apiVersion: 7,
      correlationId,
      clientId: 't',
    });
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, index) => client.send(header(100 + index), produceBody(batch(2)))),
    );
    const offsets = responses.map((frame, index) => {
      const { correlationId, body } = decodeResponse(API_KEY.Produce, 7, frame!);
      assert.equal(correlationId, 100 + index);
      return (body as ProduceResponse).responses[0]!.partitionResponses[0]!.baseOffset;
    });
    assert.deepEqual(
      offsets,
      offsets.map((_, index) => BigInt(index * 2)),
      'appends keep request order',
    );
    client.close();
  });

  test('wire - unknown ApiVersions version gets error 35 in a v0 body; unknown APIs close the connection', async () => {
    const client = new WireClient(server.port);
    const frame = Buffer.from('0000000e00120009000000070000', 'hex');
    const response = await client.sendRaw(Buffer.concat([frame, Buffer.alloc(4)]).subarray(0, 14 + 4));
    assert.ok(response !== null);
    const { correlationId, body } = decodeResponse(API_KEY.ApiVersions, 0, response);
    assert.equal(correlationId, 7);
    assert.equal((body as { errorCode: number }).errorCode, ERROR_CODE.UNSUPPORTED_VERSION);
    assert.ok(
      (body as { apiKeys: { apiKey: number }[] }).apiKeys.some((range) => range.apiKey === API_KEY.Produce),
    );
    const unknown = await client.sendRaw(Buffer.from('0000000a0044000000000008ffff', 'hex'));
    assert.equal(unknown, null, 'connection closed');
    const negative = new WireClient(server.port);
    // A negative array count in Metadata v1 (other than -1, which means null) is malformed.
    assert.equal(
      await negative.sendRaw(Buffer.from('0000000e000300010000000900' + '00fffffffe', 'hex')),
      null,
    );
  });
});
