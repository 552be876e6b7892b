import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crc32c, crc32cUpdate } from '../src/crc32c.ts';
import {
  decodeRecordBatchHeader,
  decodeRecordBatchInto,
  decodeRecordBatchRecords,
  encodeRecordBatch,
  findRecordBatchProblem,
  isLogError,
  utf8,
  verifyRecordBatch,
} from '../src/index.ts';
import { BATCH_FIELD, writeBatchBaseOffset, writeBatchLeaderEpoch } from '../src/record-batch.ts';
import { readVarint, readVarlong, varintSize, writeVarint, writeVarlong } from '../src/varint.ts';

/** Bit-at-a-time reference CRC-32C, independent of the table-driven implementation under test. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    }
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Copies a view (possibly a Buffer) into a plain Uint8Array so deep equality compares bytes only. */
function plain(bytes: Uint8Array | null): Uint8Array | null {
  return bytes === null ? null : new Uint8Array(bytes);
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

describe('crc32c', { timeout: 120_000 }, () => {
  test('matches the known check values', () => {
    assert.equal(crc32c(utf8('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    // RFC 3720 (iSCSI) B.4 vectors.
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, index) => index)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, index) => 31 - index)), 0x113fdb5c);
  });

  test('agrees with a bitwise reference for every length and alignment up to 100 bytes', () => {
    const data = Uint8Array.from({ length: 140 }, (_, index) => (index * 97 + 13) & 0xff);
    for (let start = 0; start < 9; start++) {
      for (let length = 0; length <= 100; length++) {
        assert.equal(
          crc32c(data, start, start + length),
          referenceCrc32c(data.subarray(start, start + length)),
        );
      }
    }
  });

  test('agrees with the reference on the word path at every address alignment', () => {
    // Views at byte offsets 0..7 into one ArrayBuffer exercise the aligned Int32Array loop with
    // every leading and trailing remainder.
    const backing = new Uint8Array(1200).map((_, index) => (index * 131 + 7) & 0xff);
    for (let viewStart = 0; viewStart < 8; viewStart++) {
      const bytes = new Uint8Array(backing.buffer, viewStart, 1100);
      for (const [start, end] of [
        [0, 64],
        [3, 80],
        [21, 131],
        [5, 1100],
        [1, 1099],
      ] as const) {
        assert.equal(crc32c(bytes, start, end), referenceCrc32c(bytes.subarray(start, end)));
      }
    }
  });

  test('can be computed in pieces', () => {
    const data = utf8('the quick brown fox jumps over the lazy dog');
    assert.equal(crc32cUpdate(crc32cUpdate(0, data, 0, 11), data, 11), crc32c(data));
  });
});

describe('varint', { timeout: 120_000 }, () => {
  test('encodes the spec examples', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [-1, '01'],
      [1, '02'],
      [63, '7e'],
      [-64, '7f'],
      [64, '8001'],
      [300, 'd804'],
      [2147483647, 'feffffff0f'],
      [-2147483648, 'ffffffff0f'],
    ];
    for (const [value, expected] of cases) {
      const target = new Uint8Array(5);
      const end = writeVarint(target, 0, value);
      assert.equal(Buffer.from(target.subarray(0, end)).toString('hex'), expected, `varint ${value}`);
      assert.equal(varintSize(value), end);
      const cursor = { position: 0 };
      assert.equal(readVarint(target, cursor, end), value);
      assert.equal(cursor.position, end);
    }
  });

  test('varlongs round-trip beyond 32 bits', () => {
    for (const value of [0, -1, 2 ** 31, -(2 ** 31) - 1, 1_700_000_000_000, -1_700_000_000_000, 2 ** 51]) {
      const target = new Uint8Array(10);
      const end = writeVarlong(target, 0, value);
      assert.equal(readVarlong(target, { position: 0 }, end), value);
    }
  });

  test('rejects truncated and over-long encodings', () => {
    assert.throws(
      () => readVarint(hex('80'), { position: 0 }, 1),
      (error) => isLogError(error, 'LOG_INVALID_BATCH'),
    );
    assert.throws(
      () => readVarint(hex('ffffffff7f'), { position: 0 }, 5),
      (error) => isLogError(error, 'LOG_INVALID_BATCH'),
    );
    assert.throws(
      () => readVarlong(hex('ffffffffffffffffffff01'), { position: 0 }, 11),
      (error) => isLogError(error, 'LOG_INVALID_BATCH'),
    );
  });
});

describe('record batch', { timeout: 120_000 }, () => {
  test('a one-record batch is encoded byte for byte as the spec lays it out', () => {
    const batch = encodeRecordBatch([{ value: utf8('a'), timestampMs: 1000 }], { timestampMs: 1000 });
    const record = hex('0e 00 00 00 01 02 61 00'); // length 7, attrs, ts delta 0, offset delta 0, key -1, value len 1, 'a', 0 headers
    const afterCrc = hex(
      '0000' + // attributes
        '00000000' + // last offset delta
        '00000000000003e8' + // base timestamp 1000
        '00000000000003e8' + // max timestamp 1000
        'ffffffffffffffff' + // producer id -1
        'ffff' + // producer epoch -1
        'ffffffff' + // base sequence -1
        '00000001', // records count
    );
    const covered = new Uint8Array([...afterCrc, ...record]);
    const crc = referenceCrc32c(covered);
    const expected = new Uint8Array([
      ...hex('0000000000000000'), // base offset 0
      ...hex('00000039'), // batch length 57 = 69 - 12
      ...hex('ffffffff'), // partition leader epoch -1
      ...hex('02'), // magic
      (crc >>> 24) & 0xff,
      (crc >>> 16) & 0xff,
      (crc >>> 8) & 0xff,
      crc & 0xff,
      ...covered,
    ]);
    assert.deepEqual(new Uint8Array(batch), expected);
    assert.equal(findRecordBatchProblem(batch), undefined);
  });

  test('record batch - a string header value is stored as its UTF-8 bytes, the same batch as the bytes give', () => {
    const text = 'order-1 ✓ 注文';
    const asString = encodeRecordBatch(
      [
        {
          value: utf8('v'),
          headers: [
            ['ce_id', text],
            ['empty', ''],
            ['none', null],
          ],
          timestampMs: 1,
        },
      ],
      { timestampMs: 1 },
    );
    const asBytes = encodeRecordBatch(
      [
        {
          value: utf8('v'),
          headers: [
            ['ce_id', utf8(text)],
            ['empty', utf8('')],
            ['none', null],
          ],
          timestampMs: 1,
        },
      ],
      { timestampMs: 1 },
    );
    assert.deepEqual(new Uint8Array(asString), new Uint8Array(asBytes));
    const [record] = decodeRecordBatchRecords(asString);
    assert.deepEqual(
      record!.headers.map(([name, value]) => [name, plain(value)]),
      [
        ['ce_id', utf8(text)],
        ['empty', new Uint8Array(0)],
        ['none', null],
      ],
    );
  });

  test('record batch - string headers of many records, ASCII or not, short or long, plain or compressed, encode as their bytes do', () => {
    const values = ['a'.repeat(64), 'b'.repeat(65), 'naïve ✓', 'lone \ud800 surrogate', '', 'order-42'];
    const names = ['ce_id', 'näme', 'x'.repeat(70)];
    const records = (asBytes: boolean) =>
      values.map((value, index) => ({
        value: utf8(`v${index}`),
        headers: names.map((name) => [name, asBytes ? utf8(value) : value] as const),
        timestampMs: 1 + index,
      }));
    for (const compression of ['none', 'gzip'] as const) {
      const options = { timestampMs: 1, compression };
      const asString = encodeRecordBatch(records(false), options);
      const decoded = decodeRecordBatchRecords(asString);
      assert.deepEqual(
        decoded.map((record) => record.headers.map(([name, value]) => [name, plain(value)])),
        records(true).map((record) =>
          record.headers.map(([name, value]) => [name, plain(value as Uint8Array)]),
        ),
      );
      if (compression === 'none')
        assert.deepEqual(new Uint8Array(asString), new Uint8Array(encodeRecordBatch(records(true), options)));
    }
  });

  test('record batch - a batch of 1,500 records with 3 string headers each encodes every header, and the next batch too', () => {
    const records = Array.from({ length: 1500 }, (_, index) => ({
      value: utf8(`v${index}`),
      headers: [
        ['ce_id', `id-${index}`],
        ['ünï', 'é'.repeat(index % 5)],
        ['n', String(index)],
      ] as const,
    }));
    for (const batch of [records, records.slice(0, 2)]) {
      const decoded = decodeRecordBatchRecords(encodeRecordBatch(batch, { timestampMs: 1 }));
      assert.deepEqual(
        decoded.map((record) =>
          record.headers.map(([name, value]) => [name, Buffer.from(value!).toString()]),
        ),
        batch.map((record) => record.headers.map(([name, value]) => [name, value])),
      );
    }
  });

  test('record batch - a header repeated at its place is not measured again, and one changed at its place (same length, not ASCII) is measured anew', () => {
    // The encoder remembers the UTF-8 length of the string last measured at each header place;
    // 'abc' and 'äbc' have one UTF-16 length and different UTF-8 lengths (3 and 4 bytes).
    const type = 'OrderPlaced';
    const sequence = ['abc', 'abc', 'äbc', 'abc', 'äbc', 'äbc', 'a'.repeat(70), 'ü'.repeat(70), 'abc'];
    const records = (asBytes: boolean, values: readonly string[]) =>
      values.map((value, index) => ({
        value: utf8(`v${index}`),
        headers: [
          ['ce_type', asBytes ? utf8(type) : type],
          [index % 2 === 0 ? 'ce_id' : 'cé_id', asBytes ? utf8(value) : value],
        ] as const,
        timestampMs: 1,
      }));
    // One batch holding the whole sequence, then one batch per record (the lengths are remembered
    // across batches too).
    const batches = [sequence, ...sequence.map((value) => [value])];
    for (const values of batches) {
      const asString = encodeRecordBatch(records(false, values), { timestampMs: 1 });
      const asBytes = encodeRecordBatch(records(true, values), { timestampMs: 1 });
      assert.deepEqual(new Uint8Array(asString), new Uint8Array(asBytes));
      assert.deepEqual(
        decodeRecordBatchRecords(asString).map((record) => Buffer.from(record.headers[1]![1]!).toString()),
        values,
      );
    }
  });

  test('record batch - a plain header object is stored byte for byte as the pairs of its Object.keys, ASCII or not; other objects are refused', () => {
    const id = '0193a5f2-1c2b-7d3e-8f40-123456789abc';
    const objects: Record<string, string>[] = [
      { 'content-type': 'application/json', ce_specversion: '1.0', ce_id: id, ce_correlationid: id },
      { ce_type: 'Bestellung.aufgegeben', ce_source: '/läden/köln', ce_subject: '注文', emoji: '\u{1F4E6}' },
      { lone: '\ud800', low: 'a\udc00b', both: '\udc00\ud800' },
      { b: '1', 10: 'ten', a: '2', 2: 'two' },
      {},
      Object.fromEntries(Array.from({ length: 40 }, (_, index) => [`h${index}`, 'v'.repeat(index)])),
      Object.assign(Object.create(null) as Record<string, string>, { own: 'y' }),
      { long: 'x'.repeat(200), longer: 'é'.repeat(100) },
    ];
    const asPairs = (object: Record<string, string>) =>
      Object.keys(object).map((name) => [name, object[name]!] as const);
    // Each object alone, then all in one batch, twice (the measured-length cache warm).
    const batches = [...objects.map((object) => [object]), objects, objects];
    for (const batch of batches) {
      const fromObjects = encodeRecordBatch(
        batch.map((headers, index) => ({ value: utf8(`v${index}`), headers, timestampMs: 1 })),
        { timestampMs: 1 },
      );
      const fromPairs = encodeRecordBatch(
        batch.map((headers, index) => ({
          value: utf8(`v${index}`),
          headers: asPairs(headers),
          timestampMs: 1,
        })),
        { timestampMs: 1 },
      );
      assert.deepEqual(new Uint8Array(fromObjects), new Uint8Array(fromPairs));
    }
    const decoded = decodeRecordBatchRecords(
      encodeRecordBatch([{ value: null, headers: objects[6]! }], { timestampMs: 1 }),
    );
    assert.deepEqual(
      decoded[0]!.headers.map(([name, value]) => [name, Buffer.from(value!).toString()]),
      [['own', 'y']],
    );
    assert.throws(
      () => encodeRecordBatch([{ value: null, headers: { ok: 'x', bad: 5 as unknown as string } }]),
      (error: Error & { code?: string }) =>
        error.code === 'LOG_INVALID_ARGUMENT' && error.message.includes('"bad"'),
    ); // Walked as objects these would store no headers at all: refused rather than silently dropped.
    for (const headers of [
      new Map([['ce_id', id]]),
      Object.assign(Object.create({ inherited: 'x' }), { own: 'y' }),
      new Uint8Array(0),
    ]) {
      assert.throws(
        () => encodeRecordBatch([{ value: null, headers: headers as unknown as Record<string, string> }]),
        (error: Error & { code?: string }) => error.code === 'LOG_INVALID_ARGUMENT',
        `refused: ${Object.prototype.toString.call(headers)}`,
      );
    }
  });

  test("record batch - recordBytesMax counts a header object's names and values", () => {
    const record = { value: utf8('12345'), headers: { h: 'ü' } };
    // 5 + 1 + 2 = 8 bytes.
    assert.doesNotThrow(() => encodeRecordBatch([record], { recordBytesMax: 8 }));
    assert.throws(
      () => encodeRecordBatch([record], { recordBytesMax: 7 }),
      (error: Error & { code?: string }) =>
        error.code === 'LOG_RECORD_TOO_LARGE' && error.message.includes('record 0 has 8 bytes'),
    );
  });

  test('record batch - recordBytesMax refuses the first record whose key, value and headers exceed it', () => {
    const records = [
      { value: utf8('12345'), headers: [['h', 'ü']] as const },
      { value: utf8('123456'), headers: [['h', 'üü']] as const },
    ];
    // Record 0: 5 + 1 + 2 = 8 bytes; record 1: 6 + 1 + 4 = 11 bytes.
    assert.doesNotThrow(() => encodeRecordBatch(records, { recordBytesMax: 11 }));
    assert.throws(
      () => encodeRecordBatch(records, { recordBytesMax: 10 }),
      (error: Error & { code?: string }) =>
        error.code === 'LOG_RECORD_TOO_LARGE' && error.message.includes('record 1 has 11 bytes'),
    );
  });

  test('decodes every header field as the spec says', () => {
    const batch = encodeRecordBatch(
      [
        { key: utf8('k1'), value: utf8('v1'), timestampMs: 5_000 },
        { key: null, value: null, timestampMs: 4_000 },
        { value: utf8('v3'), headers: [['h', utf8('x')]], timestampMs: 7_000 },
      ],
      {
        baseOffset: 42n,
        partitionLeaderEpoch: 3,
        producerId: 99n,
        producerEpoch: 2,
        baseSequence: 10,
        transactional: true,
      },
    );
    const header = decodeRecordBatchHeader(batch);
    assert.equal(header.baseOffset, 42n);
    assert.equal(header.batchLength, batch.length - 12);
    assert.equal(header.partitionLeaderEpoch, 3);
    assert.equal(header.magic, 2);
    assert.equal(header.crc, crc32c(batch, 21));
    assert.equal(header.attributes, 0x10);
    assert.equal(header.compression, 0);
    assert.equal(header.lastOffsetDelta, 2);
    assert.equal(header.baseTimestampMs, 5_000);
    assert.equal(header.timestampMsMax, 7_000);
    assert.equal(header.producerId, 99n);
    assert.equal(header.producerEpoch, 2);
    assert.equal(header.baseSequence, 10);
    assert.equal(header.recordsCount, 3);
    const records = decodeRecordBatchRecords(batch);
    assert.deepEqual(
      records.map((record) => [
        record.offset,
        record.timestampMs,
        plain(record.key),
        plain(record.value),
        record.headers.map(([key, value]) => [key, plain(value)]),
      ]),
      [
        [42n, 5_000, utf8('k1'), utf8('v1'), []],
        [43n, 4_000, null, null, []],
        [44n, 7_000, null, utf8('v3'), [['h', utf8('x')]]],
      ],
    );
  });

  test('record batch - header names repeated from record to record decode the same, and a changed name at the same place is decoded anew', () => {
    const bytes = (text: string) => utf8(text);
    const batch = encodeRecordBatch(
      [
        {
          value: null,
          headers: [
            ['ce_id', bytes('1')],
            ['ce_type', bytes('a')],
          ],
          timestampMs: 1,
        },
        {
          value: null,
          headers: [
            ['ce_id', bytes('2')],
            ['ce_type', bytes('b')],
          ],
          timestampMs: 1,
        },
        // Same lengths, other bytes; then a longer name, fewer and more headers, and non-ASCII.
        {
          value: null,
          headers: [
            ['ce_ix', bytes('3')],
            ['ce_tape', bytes('c')],
          ],
          timestampMs: 1,
        },
        { value: null, headers: [['ce_id_long', bytes('4')]], timestampMs: 1 },
        {
          value: null,
          headers: [
            ['ce_id', bytes('5')],
            ['ce_type', bytes('e')],
            ['é', bytes('f')],
          ],
          timestampMs: 1,
        },
        {
          value: null,
          headers: [
            ['ce_id', bytes('6')],
            ['ce_type', bytes('g')],
            ['è', bytes('h')],
          ],
          timestampMs: 1,
        },
      ],
      { baseOffset: 0n },
    );
    // Twice: the second decode meets names cached by the first.
    for (let round = 0; round < 2; round++) {
      const names = decodeRecordBatchRecords(batch).map((record) => record.headers.map(([name]) => name));
      assert.deepEqual(names, [
        ['ce_id', 'ce_type'],
        ['ce_id', 'ce_type'],
        ['ce_ix', 'ce_tape'],
        ['ce_id_long'],
        ['ce_id', 'ce_type', 'é'],
        ['ce_id', 'ce_type', 'è'],
      ]);
    }
  });

  for (const compression of ['gzip', 'zstd'] as const) {
    test(`round-trips ${compression}-compressed records`, () => {
      const input = Array.from({ length: 50 }, (_, index) => ({
        key: utf8(`key-${index}`),
        value: utf8('payload '.repeat(index + 1)),
        timestampMs: 1_000 + index,
      }));
      const batch = encodeRecordBatch(input, { compression });
      assert.equal(decodeRecordBatchHeader(batch).compression, compression === 'gzip' ? 1 : 4);
      assert.equal(verifyRecordBatch(batch).recordsCount, 50);
      const records = decodeRecordBatchRecords(batch);
      assert.equal(records.length, 50);
      assert.deepEqual(plain(records[49]!.value), input[49]!.value);
      assert.equal(records[49]!.timestampMs, 1_049);
    });
  }

  test('record batch - decodeRecordBatchInto reports each record as places in the bytes, plain or compressed, and keeps what the builder returns', () => {
    const records = [
      {
        key: utf8('k1'),
        value: utf8('first'),
        headers: [
          ['a', utf8('x')],
          ['b', null],
        ] as const,
        timestampMs: 5,
      },
      { key: null, value: null, headers: [], timestampMs: 7 },
      { key: utf8(''), value: utf8('third'), headers: [['a', utf8('')]] as const, timestampMs: 9 },
    ];
    for (const compression of ['none', 'gzip'] as const) {
      const batch = encodeRecordBatch(records, { baseOffset: 40n, compression, timestampMs: 1 });
      const seen: unknown[] = [];
      const kept: bigint[] = [];
      decodeRecordBatchInto(
        batch,
        0,
        {},
        (fields) => {
          const at = (start: number, length: number) =>
            length === -1 ? null : Buffer.from(fields.bytes.subarray(start, start + length)).toString();
          seen.push({
            offset: fields.offset,
            timestampMs: fields.timestampMs,
            key: at(fields.keyStart, fields.keyLength),
            value: at(fields.valueStart, fields.valueLength),
            headers: Array.from({ length: fields.headerCount }, (_, index) => [
              fields.headerNames[index],
              at(fields.headerValueStarts[index]!, fields.headerValueLengths[index]!),
            ]),
          });
          return fields.offset === 41n ? undefined : fields.offset;
        },
        kept,
      );
      assert.deepEqual(seen, [
        {
          offset: 40n,
          timestampMs: 5,
          key: 'k1',
          value: 'first',
          headers: [
            ['a', 'x'],
            ['b', null],
          ],
        },
        { offset: 41n, timestampMs: 7, key: null, value: null, headers: [] },
        { offset: 42n, timestampMs: 9, key: '', value: 'third', headers: [['a', '']] },
      ]);
      // Undefined from the builder keeps nothing.
      assert.deepEqual(kept, [40n, 42n]);
    }
  });

  test('decompression is bounded', () => {
    const batch = encodeRecordBatch([{ value: new Uint8Array(100_000) }], { compression: 'zstd' });
    assert.throws(
      () => decodeRecordBatchRecords(batch, 0, { decompressedBytesMax: 1_000 }),
      (error) => isLogError(error, 'LOG_INVALID_BATCH'),
    );
  });

  test('unregistered codecs are reported as unsupported', () => {
    const batch = encodeRecordBatch([{ value: utf8('x') }]);
    batch.writeInt16BE(2, BATCH_FIELD.attributes); // snappy
    assert.throws(
      () => decodeRecordBatchRecords(batch),
      (error) => isLogError(error, 'LOG_UNSUPPORTED_COMPRESSION'),
    );
  });

  test('base offset and leader epoch can be rewritten without breaking the CRC', () => {
    const batch = encodeRecordBatch([{ value: utf8('x') }, { value: utf8('y') }]);
    writeBatchBaseOffset(batch, 0, 1_000_000n);
    writeBatchLeaderEpoch(batch, 0, 7);
    assert.equal(findRecordBatchProblem(batch), undefined);
    assert.deepEqual(
      decodeRecordBatchRecords(batch).map((record) => record.offset),
      [1_000_000n, 1_000_001n],
    );
  });

  test('detects damage: CRC, magic, lengths, counts', () => {
    const good = encodeRecordBatch([{ value: utf8('hello') }, { value: utf8('world') }]);
    const flipped = Buffer.from(good);
    flipped[good.length - 3]! ^= 0x10;
    assert.match(findRecordBatchProblem(flipped) ?? '', /CRC-32C mismatch/);
    const badMagic = Buffer.from(good);
    badMagic[BATCH_FIELD.magic] = 1;
    assert.match(findRecordBatchProblem(badMagic) ?? '', /magic/);
    assert.match(findRecordBatchProblem(good.subarray(0, good.length - 1)) ?? '', /torn/);
    assert.match(findRecordBatchProblem(good.subarray(0, 5)) ?? '', /torn/);
    const tiny = Buffer.from(good);
    tiny.writeInt32BE(10, BATCH_FIELD.batchLength);
    assert.match(findRecordBatchProblem(tiny) ?? '', /smaller/);
    assert.throws(
      () => verifyRecordBatch(flipped),
      (error) => isLogError(error, 'LOG_INVALID_BATCH'),
    );
  });

  test('lengths inside records are checked before slicing', () => {
    const batch = encodeRecordBatch([{ value: utf8('abc') }]);
    // The value length varint sits at 61 + 1 (length) + 1 (attrs) + 1 (ts) + 1 (offset) + 1 (key).
    batch[66] = 0x7e; // claims a 63-byte value
    assert.throws(
      () => decodeRecordBatchRecords(batch),
      (error) => isLogError(error, 'LOG_INVALID_BATCH'),
    );
    const huge = encodeRecordBatch([{ value: utf8('abc') }]);
    huge.writeInt32BE(1_000_000_000, BATCH_FIELD.recordsCount);
    assert.throws(
      () => decodeRecordBatchRecords(huge),
      (error) => isLogError(error, 'LOG_INVALID_BATCH'),
    );
  });

  test('timestamps survive the int64 header fields, including negative and large ones', () => {
    for (const timestampMs of [
      0,
      1,
      -1,
      1_700_000_000_123,
      -1_700_000_000_123,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
    ]) {
      const header = decodeRecordBatchHeader(encodeRecordBatch([{ value: null, timestampMs }]));
      assert.equal(header.baseTimestampMs, timestampMs);
      assert.equal(header.timestampMsMax, timestampMs);
      assert.equal(header.producerId, -1n);
    }
  });

  test('an empty record list is refused', () => {
    assert.throws(
      () => encodeRecordBatch([]),
      (error) => isLogError(error, 'LOG_INVALID_BATCH'),
    );
  });
});
