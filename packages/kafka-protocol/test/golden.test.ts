/**
 * Golden frames: bytes as real clients send them (from the protocol grammar and the clients'
 * sources), compared byte for byte in both directions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_KEY, decodeRequest, encodeRequest, encodeResponse } from '../src/index.ts';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

test('golden - kafka-python ApiVersions v0 probe', () => {
  const frame = hex('0000001c 0012 0000 00000001 0012 6b61666b612d707974686f6e2d322e302e32');
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  assert.deepEqual(decoded.header, {
    apiKey: 18,
    apiVersion: 0,
    correlationId: 1,
    clientId: 'kafka-python-2.0.2',
  });
  assert.deepEqual(
    Buffer.concat(encodeRequest(decoded.header, decoded.kind === 'request' ? (decoded.body as object) : {})),
    frame,
  );
});

test('golden - librdkafka ApiVersions v3 (request header v2, compact strings)', () => {
  const frame = hex(
    '00000024 0012 0003 00000002 0007 72646b61666b61 00 0b 6c69627264 6b61666b61 06 322e302e32 00',
  );
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  if (decoded.kind !== 'request') return;
  assert.deepEqual(decoded.body, { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
  assert.deepEqual(Buffer.concat(encodeRequest(decoded.header, decoded.body as object)), frame);
});

test('golden - ApiVersions v3 response keeps header v0 and uses a compact array', () => {
  const bytes = Buffer.concat(
    encodeResponse(API_KEY.ApiVersions, 3, 2, {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }],
      throttleTimeMs: 0,
    }),
  );
  assert.deepEqual(bytes, hex('00000013 00000002 0000 02 0012 0000 0003 00 00000000 00'));
});

test('golden - ApiVersions v0 response (the unsupported-version answer)', () => {
  const bytes = Buffer.concat(
    encodeResponse(API_KEY.ApiVersions, 0, 9, {
      errorCode: 35,
      apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 8 }],
    }),
  );
  assert.deepEqual(bytes, hex('00000010 00000009 0023 00000001 0000 0000 0008'));
});

test('golden - Metadata v0 request with an empty topic list', () => {
  const frame = hex('0000000e 0003 0000 00000002 0000 00000000');
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  if (decoded.kind !== 'request') return;
  assert.deepEqual(decoded.body, {
    topics: [],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
});
