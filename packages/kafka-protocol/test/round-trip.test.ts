import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  APIS,
  decodeMessage,
  decodeRequest,
  decodeResponse,
  encodeMessage,
  encodeRequest,
  encodeResponse,
  Reader,
  Writer,
} from '../src/index.ts';
import { projection, sampleMessage } from './sample.ts';

function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks);
}

describe('kafka-protocol - round trip of every implemented API version', { timeout: 120_000 }, () => {
  for (const api of APIS) {
    for (let version = api.versionMin; version <= api.versionMax; version++) {
      test(`${api.name} v${version} request and response`, () => {
        for (const seed of [1, 2, 3]) {
          const request = sampleMessage(api.request, version, seed);
          const frame = concat(
            encodeRequest(
              { apiKey: api.apiKey, apiVersion: version, correlationId: seed, clientId: 'c' },
              request,
            ),
          );
          assert.equal(frame.readInt32BE(0), frame.length - 4, 'size prefix');
          const decoded = decodeRequest(frame.subarray(4));
          assert.equal(decoded.kind, 'request');
          if (decoded.kind !== 'request') return;
          assert.equal(decoded.header.correlationId, seed);
          assert.equal(decoded.header.clientId, 'c');
          assert.deepEqual(
            projection(api.request.fields, decoded.body, version),
            projection(api.request.fields, request, version),
          );
          // Re-encoding the decoded body gives the same bytes.
          const again = concat(encodeRequest(decoded.header, decoded.body as object));
          assert.deepEqual(again, frame);

          const response = sampleMessage(api.response, version, seed + 10);
          const responseFrame = concat(encodeResponse(api.apiKey, version, seed, response));
          const decodedResponse = decodeResponse(api.apiKey, version, responseFrame.subarray(4));
          assert.equal(decodedResponse.correlationId, seed);
          assert.deepEqual(
            projection(api.response.fields, decodedResponse.body, version),
            projection(api.response.fields, response, version),
          );
        }
      });
    }
  }
});

describe('kafka-protocol - primitives', { timeout: 120_000 }, () => {
  test('varints, varlongs and unsigned varints round-trip at their limits', () => {
    const writer = new Writer();
    const ints = [0, 1, -1, 63, -64, 64, 2 ** 31 - 1, -(2 ** 31)];
    const longs = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)];
    const unsigned = [0, 127, 128, 2 ** 32 - 1];
    for (const value of ints) writer.varint(value);
    for (const value of longs) writer.varlong(value);
    for (const value of unsigned) writer.unsignedVarint(value);
    const reader = new Reader(writer.toBuffer());
    for (const value of ints) assert.equal(reader.varint(), value);
    for (const value of longs) assert.equal(reader.varlong(), value);
    for (const value of unsigned) assert.equal(reader.unsignedVarint(), value);
    assert.equal(reader.remaining, 0);
  });

  test('tagged fields are skipped when unknown and decoded when known', () => {
    const schema = APIS.find((api) => api.name === 'ApiVersions')!.response;
    const writer = new Writer();
    encodeMessage(
      writer,
      schema,
      { errorCode: 0, apiKeys: [], throttleTimeMs: 0, finalizedFeaturesEpoch: 5n },
      3,
    );
    // finalizedFeaturesEpoch is tagged (tag 1): one tag of 8 bytes after throttle_time_ms.
    const bytes = writer.toBuffer();
    assert.deepEqual([...bytes], [0, 0, 1, 0, 0, 0, 0, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5]);
    const defaults = { supportedFeatures: [], finalizedFeatures: [], zkMigrationReady: false };
    assert.deepEqual(decodeMessage(new Reader(bytes), schema, 3), {
      errorCode: 0,
      apiKeys: [],
      throttleTimeMs: 0,
      finalizedFeaturesEpoch: 5n,
      ...defaults,
    });
    // A frame with an unknown tag 7 of 3 bytes decodes, skipping it; absent tags take their defaults.
    const withTag = Buffer.from([0, 0, 1, 0, 0, 0, 0, 1, 7, 3, 9, 9, 9]);
    assert.deepEqual(decodeMessage(new Reader(withTag), schema, 3), {
      errorCode: 0,
      apiKeys: [],
      throttleTimeMs: 0,
      finalizedFeaturesEpoch: -1n,
      ...defaults,
    });
  });
});
