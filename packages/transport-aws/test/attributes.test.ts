/** The SNS/SQS message mapping, without a broker: what is published comes back unchanged. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TransportMessage } from '@herald/bus';
import { deduplicationId, fromSqsMessage, HERALD_ATTRIBUTE, toPublishEntry } from '../src/attributes.ts';

/** What SQS hands a subscriber for an entry (raw delivery: body and attributes as published). */
function roundTrip(message: TransportMessage) {
  const entry = toPublishEntry(message);
  return { entry, received: fromSqsMessage(entry.Message, entry.MessageAttributes) };
}

const SQS_UNSAFE = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

describe('aws attributes', { timeout: 30_000 }, () => {
  test('a CloudEvent with more than 10 headers uses at most 8 attributes and comes back whole', () => {
    const headers: Record<string, string> = {
      ce_id: 'id-1',
      ce_source: '/s',
      ce_specversion: '1.0',
      ce_type: 'T',
      ce_time: '2026-01-01T00:00:00Z',
      ce_subject: 'sub',
      'content-type': 'application/json',
      ce_correlationid: 'c',
      ce_causationid: 'k',
      ce_traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      ce_tenant: 'acme',
      'x-empty': '',
    };
    const body = new TextEncoder().encode('{"a":"naïve ✓"}');
    const { entry, received } = roundTrip({ key: 'order-1', headers, body });
    assert.ok(Object.keys(entry.MessageAttributes).length <= 8);
    assert.equal(entry.MessageAttributes.ce_type?.StringValue, 'T');
    assert.equal(entry.MessageGroupId, 'order-1');
    assert.equal(entry.MessageDeduplicationId, deduplicationId({ key: 'order-1', headers, body }));
    assert.equal(entry.Message, '{"a":"naïve ✓"}', 'a JSON body travels as text');
    assert.deepEqual(received.headers, headers);
    assert.equal(received.key, 'order-1');
    assert.deepEqual([...received.body], [...body]);
  });

  test('only an exact copy shares a deduplication id: same id with other headers (two groups dead-lettering one event) does not', () => {
    const body = text('{}');
    const headers = { ce_id: 'e-1', ce_type: 'T' };
    const first = toPublishEntry({ key: 'k', headers, body });
    assert.equal(
      toPublishEntry({ key: 'k', headers: { ...headers }, body }).MessageDeduplicationId,
      first.MessageDeduplicationId,
    );
    for (const other of [
      { key: 'k', headers: { ...headers, herald_dlq_group: 'b' }, body },
      { key: 'k2', headers, body },
      { key: 'k', headers, body: text('{"a":1}') },
      { headers, body },
    ]) {
      assert.notEqual(toPublishEntry(other).MessageDeduplicationId, first.MessageDeduplicationId);
    }
    assert.match(first.MessageDeduplicationId, /^[A-Za-z0-9_-]{43}$/);
    // Without a CloudEvents id nothing identifies a copy: every publish is its own.
    const raw = { headers: {}, body };
    assert.notEqual(toPublishEntry(raw).MessageDeduplicationId, toPublishEntry(raw).MessageDeduplicationId);
  });

  test('binary and empty bodies travel base64 and come back byte for byte', () => {
    for (const bytes of [[0, 255, 128, 7], [], [0x41, 0x00, 0x42], [0xef, 0xbf, 0xbe]]) {
      const body = new Uint8Array(bytes);
      const { entry, received } = roundTrip({ headers: {}, body });
      assert.ok(entry.Message.length > 0, 'SNS refuses an empty message');
      assert.ok(!SQS_UNSAFE.test(entry.Message));
      assert.deepEqual([...received.body], bytes);
      assert.equal(received.key, undefined);
      assert.match(entry.MessageGroupId, /^n:/, 'a keyless message has a group of its own');
    }
  });

  test('header values SQS refuses, long and non-ASCII keys and ids survive; attributes stay SQS-safe', () => {
    const key = `ключ-${'x'.repeat(200)}`;
    const headers = { ce_id: 'ü'.repeat(10), ce_type: 'bad\u0001type', 'x-odd': '\uffff\u0000\ud800' };
    const { entry, received } = roundTrip({ key, headers, body: new Uint8Array([1]) });
    assert.match(entry.MessageGroupId, /^h:[A-Za-z0-9_-]{43}$/);
    assert.match(entry.MessageDeduplicationId, /^[A-Za-z0-9_-]{43}$/);
    for (const attribute of Object.values(entry.MessageAttributes)) {
      assert.ok(!SQS_UNSAFE.test(attribute.StringValue), attribute.StringValue);
    }
    assert.equal(received.key, key);
    assert.deepEqual(received.headers, headers);
  });

  test("a foreign publisher's attributes arrive as headers; ce_partitionkey is its key", () => {
    const received = fromSqsMessage('hello', {
      ce_type: { DataType: 'String', StringValue: 'Foreign' },
      ce_partitionkey: { DataType: 'String', StringValue: 'p-1' },
      [HERALD_ATTRIBUTE]: { DataType: 'String', StringValue: 'not json' },
    });
    assert.equal(received.key, 'p-1');
    assert.equal(received.headers.ce_type, 'Foreign');
    assert.equal(received.headers[HERALD_ATTRIBUTE], 'not json');
    assert.equal(new TextDecoder().decode(received.body), 'hello');
  });
});
