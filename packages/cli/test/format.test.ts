/** Output formats in-process: kcat's layouts, the CloudEvents JSON format, and offsets as JSON numbers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Envelope, encodeEnvelope } from '@herald/bus';
import {
  cloudEventJson,
  formatRecord,
  formatRecordBytes,
  kcatJson,
  messageJson,
  rawRecord,
  rawRecordBytes,
  unescapeDelimiter,
} from '../src/format.ts';
import type { ConsumedRecord } from '../src/targets/target.ts';
import { toJson } from '../src/terminal.ts';

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

function record(overrides: Partial<ConsumedRecord> = {}): ConsumedRecord {
  return {
    topic: 'orders',
    partition: 2,
    offset: 41n,
    timestampMs: 1_700_000_000_000,
    key: bytes('k1'),
    value: bytes('hello'),
    headers: [['source', bytes('test')]],
    ...overrides,
  };
}

test('format - offsets and other bigints are JSON numbers, digit for digit beyond 2^53', () => {
  assert.equal(toJson({ offset: 41n }), '{"offset":41}');
  const huge = 2n ** 63n - 1n; // Kafka's largest offset, far above Number.MAX_SAFE_INTEGER
  assert.equal(toJson({ offset: huge }), '{"offset":9223372036854775807}');
  assert.equal(toJson([{ lag: 0n }], 2), '[\n  {\n    "lag": 0\n  }\n]');
});

test("format - kcat's -J envelope: kcat's fields and order, headers only when present", () => {
  assert.equal(
    toJson(kcatJson({ ...record(), brokerId: 0 })),
    '{"topic":"orders","partition":2,"offset":41,"tstype":"create","ts":1700000000000,"broker":0,' +
      '"headers":["source","test"],"key":"k1","payload":"hello"}',
  );
  const bare = kcatJson(record({ key: null, value: null, headers: [], timestampType: 'logappend' }));
  assert.deepEqual(bare, {
    topic: 'orders',
    partition: 2,
    offset: 41n,
    tstype: 'logappend',
    ts: 1_700_000_000_000,
    broker: -1,
    key: null,
    payload: null,
  });
});

test('format - the CloudEvents JSON format puts extensions at the top level', () => {
  const envelope: Envelope = {
    specversion: '1.0',
    id: 'e-1',
    source: '/shop',
    type: 'OrderCreated',
    time: '2026-01-01T00:00:00.000Z',
    datacontenttype: 'application/json',
    dataversion: 2,
    partitionkey: 'o-1',
    correlationid: 'c-1',
    extensions: { tenant: 'acme' },
    data: { orderId: 'o-1' },
  };
  const message = encodeEnvelope(envelope);
  const consumed = record({
    value: message.body,
    headers: Object.entries(message.headers).map(([name, value]) => [name, bytes(value)] as const),
  });
  const json = messageJson(consumed);
  assert.equal(json.extensions, undefined);
  assert.equal(json.tenant, 'acme');
  assert.equal(json.partitionkey, 'o-1');
  assert.equal(json.correlationid, 'c-1');
  assert.equal(json.dataversion, 2);
  assert.deepEqual(json.data, { orderId: 'o-1' });
  assert.equal(Object.keys(json).at(-1), 'data');
  assert.deepEqual(messageJson(record()), kcatJson(record()), 'a record that is not a CloudEvent');
  assert.deepEqual(json, cloudEventJson(envelope));
  assert.deepEqual(Object.keys(json).slice(0, 4), ['specversion', 'id', 'source', 'type']);
});

test("format - kcat's default output, -K, -D, -Z and -f escapes", () => {
  const newline = { keyDelimiter: undefined, messageDelimiter: '\n', nullText: '' };
  assert.equal(rawRecord(record(), newline), 'hello\n');
  assert.equal(
    rawRecord(record({ key: null }), { ...newline, keyDelimiter: '|', nullText: 'NULL' }),
    'NULL|hello\n',
  );
  assert.equal(unescapeDelimiter('\\n--\\t\\x21\\\\'), '\n--\t!\\');
  assert.equal(formatRecord('%k=%s %K %S\\x21\\n', record({ key: null })), '=hello -1 5!\n');
  assert.equal(formatRecord('%k', record({ key: null }), 'NULL'), 'NULL');
  assert.equal(formatRecord('%q %%', record()), '%q %', 'unknown tokens kept');
});

test('format - on a pipe keys and values are written as the bytes they are', () => {
  const binary = record({ key: Uint8Array.of(0xff, 0x00), value: Uint8Array.of(0xc3, 0x28, 0x0a) });
  const layout = { keyDelimiter: '|', messageDelimiter: '\n', nullText: '' };
  assert.deepEqual(
    [...rawRecordBytes(binary, layout)],
    [0xff, 0x00, 0x7c, 0xc3, 0x28, 0x0a, 0x0a],
    'key | value newline',
  );
  assert.equal(rawRecord(binary, layout), 'base64:/wA=|base64:wygK\n', 'as text: base64, marked');
  assert.deepEqual(
    [...formatRecordBytes('%k=%s %S\\n', binary)],
    [0xff, 0x00, 0x3d, 0xc3, 0x28, 0x0a, 0x20, 0x33, 0x0a],
  );
  const text = record({ key: null });
  assert.equal(
    Buffer.from(formatRecordBytes('%t %k=%s %%\\x21', text, 'NULL')).toString(),
    formatRecord('%t %k=%s %%\\x21', text, 'NULL'),
  );
});
