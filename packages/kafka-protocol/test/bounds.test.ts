import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRequest, isKafkaProtocolError, Reader } from '../src/index.ts';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

test('bounds - a count larger than the frame is rejected before allocating', { timeout: 60_000 }, () => {
  // Metadata v1, topics count 0x7fffffff with nothing after it.
  const frame = hex('0003 0001 00000001 0000 7fffffff');
  assert.throws(
    () => decodeRequest(frame),
    (error) => isKafkaProtocolError(error, 'KAFKA_MALFORMED'),
  );
});

test('bounds - negative counts and lengths are malformed unless they mean null', { timeout: 60_000 }, () => {
  assert.throws(
    () => decodeRequest(hex('0003 0001 00000001 0000 fffffffe')),
    (error) => isKafkaProtocolError(error, 'KAFKA_MALFORMED'),
  );
  // -1 is null for Metadata v1 topics (all topics).
  const decoded = decodeRequest(hex('0003 0001 00000001 0000 ffffffff'));
  assert.equal(decoded.kind === 'request' && (decoded.body as { topics: unknown }).topics, null);
  // A string of length 5 with 2 bytes left.
  assert.throws(
    () => new Reader(hex('0005 6162')).string(),
    (error) => isKafkaProtocolError(error, 'KAFKA_MALFORMED'),
  );
  assert.throws(
    () => new Reader(hex('ffff')).string(false),
    (error) => isKafkaProtocolError(error, 'KAFKA_MALFORMED'),
  );
});

test('bounds - the element budget caps how many array elements one frame may decode', {
  timeout: 60_000,
}, () => {
  const reader = new Reader(Buffer.alloc(64), 0, 64, 10);
  assert.throws(
    () => new Reader(hex('00000020').subarray(0), 0, 4, 10).arrayCount(),
    (error) => isKafkaProtocolError(error, 'KAFKA_MALFORMED'),
  );
  reader.offset = 0;
  const budget = new Reader(Buffer.concat([hex('0000000b'), Buffer.alloc(40)]), 0, 44, 10);
  assert.throws(
    () => budget.arrayCount(),
    (error) => isKafkaProtocolError(error, 'KAFKA_TOO_MANY_ELEMENTS'),
  );
});

test('bounds - unknown API keys and versions decode as unsupported, not as errors', {
  timeout: 60_000,
}, () => {
  assert.equal(decodeRequest(hex('03e7 0000 00000005 0000')).kind, 'unsupported');
  const tooNew = decodeRequest(hex('0012 0009 00000005'));
  assert.equal(tooNew.kind, 'unsupported');
  assert.equal(tooNew.header.correlationId, 5);
  // Fetch v3 is below the implemented range.
  assert.equal(decodeRequest(hex('0001 0003 00000005 0000')).kind, 'unsupported');
});

test('bounds - overlong varints and truncated headers are malformed', { timeout: 60_000 }, () => {
  assert.throws(
    () => new Reader(hex('ffffffffff7f')).unsignedVarint(),
    (error) => isKafkaProtocolError(error, 'KAFKA_MALFORMED'),
  );
  assert.throws(
    () => decodeRequest(hex('0012')),
    (error) => isKafkaProtocolError(error, 'KAFKA_MALFORMED'),
  );
});
