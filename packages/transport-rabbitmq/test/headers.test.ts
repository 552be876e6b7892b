import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromAmqpHeaders, reservedHeaderOf, toAmqpHeaders } from '../src/headers.ts';

describe('headers', { timeout: 120_000 }, () => {
  it('headers - ce_ headers become cloudEvents: application properties and content-type the property', () => {
    const mapped = toAmqpHeaders({
      key: 'k',
      headers: { ce_id: '1', ce_type: 'order.created', 'content-type': 'application/json', 'x-other': 'v' },
      body: new Uint8Array(),
    });
    assert.deepEqual(mapped, {
      headers: { 'cloudEvents:id': '1', 'cloudEvents:type': 'order.created', 'x-other': 'v' },
      contentType: 'application/json',
    });
  });

  it('headers - receiving maps back, strips bookkeeping and broker headers, and reads the key', () => {
    const fields = fromAmqpHeaders(
      {
        'cloudEvents:id': '1',
        cloudEvents_source: '/jms',
        'x-other': 'v',
        'herald-key': 'k-1',
        'herald-shard': '2',
        'herald-prior-attempts': '3',
        'herald-timestamp-ms': '1700000000123',
        'herald-topic': 'orders.eu',
        'x-delivery-count': 4,
        'x-death': [{ count: 1 }],
      },
      'application/json',
    );
    assert.deepEqual(fields, {
      key: 'k-1',
      headers: { ce_id: '1', ce_source: '/jms', 'x-other': 'v', 'content-type': 'application/json' },
      priorAttempts: 3,
      timestampMs: 1700000000123,
      topic: 'orders.eu',
    });
  });

  it('headers - foreign value types are rendered as text, an AMQP timestamp time as RFC 3339', () => {
    const fields = fromAmqpHeaders(
      {
        'cloudEvents:partitionkey': 'p-1',
        'cloudEvents:time': 1700000000,
        'x-number': 7,
        'x-flag': true,
        'x-bytes': Buffer.from('bytes'),
        'x-table': { a: 1 },
      },
      undefined,
    );
    assert.equal(fields.key, 'p-1', 'the CloudEvents partitioning extension is the key');
    assert.deepEqual(fields.headers, {
      ce_partitionkey: 'p-1',
      ce_time: '2023-11-14T22:13:20.000Z',
      'x-number': '7',
      'x-flag': 'true',
      'x-bytes': 'bytes',
      'x-table': '{"a":1}',
    });
  });

  it('headers - a herald- header is reserved', () => {
    assert.equal(reservedHeaderOf({ headers: { 'herald-key': 'x' }, body: new Uint8Array() }), 'herald-key');
    assert.equal(reservedHeaderOf({ headers: { 'x-herald': 'x' }, body: new Uint8Array() }), undefined);
  });
});
