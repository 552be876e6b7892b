import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { int8At, int16At, int32At, int64At, int64NumberAt, uint32At } from '../src/big-endian.ts';
import { decodeRecordBatchInto, encodeRecordBatch, type RecordFields } from '../src/index.ts';

describe('big-endian', () => {
  it('big-endian - byte reads equal DataView reads at any position, extremes included', () => {
    const extremes = [
      0n,
      1n,
      -1n,
      2n ** 53n - 1n,
      2n ** 53n + 1n,
      2n ** 63n - 1n,
      -(2n ** 63n),
      2n ** 32n,
      -(2n ** 32n) - 1n,
    ];
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(...extremes)),
        fc.nat(7),
        (value, position) => {
          const bytes = new Uint8Array(16).fill(0xa5);
          const view = new DataView(bytes.buffer);
          view.setBigInt64(position, value);
          assert.equal(int64At(bytes, position), view.getBigInt64(position));
          assert.equal(int64NumberAt(bytes, position), Number(view.getBigInt64(position)));
          assert.equal(int32At(bytes, position), view.getInt32(position));
          assert.equal(uint32At(bytes, position), view.getUint32(position));
          assert.equal(int16At(bytes, position), view.getInt16(position));
          assert.equal(int8At(bytes, position), view.getInt8(position));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('big-endian - reads from a view into a larger buffer start at the view', () => {
    const backing = new Uint8Array([9, 9, 0x80, 0, 0, 1, 9]);
    const bytes = backing.subarray(2);
    assert.equal(int32At(bytes, 0), -(2 ** 31) + 1);
    assert.equal(int8At(bytes, 0), -128);
  });

  it('big-endian - the decoder keeps no bytes past a decode (its reused fields object lets them go)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const decodeOnce = (): WeakRef<Uint8Array> => {
      // A batch inside a 1 MiB buffer, as a read buffer holds it.
      const batch = encodeRecordBatch(
        [{ key: null, value: new Uint8Array(8), headers: [], timestampMs: 1 }],
        {
          baseOffset: 0n,
        },
      );
      const bytes = new Uint8Array(1024 * 1024);
      bytes.set(batch);
      decodeRecordBatchInto(bytes, 0, {}, () => undefined, []);
      return new WeakRef(bytes);
    };
    const held = decodeOnce();
    // A few collections, each after a turn (a WeakRef's target lives through the turn it was made in).
    for (let attempt = 0; attempt < 5 && held.deref() !== undefined; attempt++) {
      await nextTurn();
      gc();
    }
    assert.ok(held.deref() === undefined, 'the decoded bytes were collected');
  });

  it('big-endian - a builder that decodes another batch during a decode gets fields of its own', () => {
    const encode = (baseOffset: bigint, values: string[]) =>
      encodeRecordBatch(
        values.map((value, index) => ({
          key: null,
          value: new TextEncoder().encode(value),
          headers: [[`h${index}`, new TextEncoder().encode(value)]] as const,
          timestampMs: 5,
        })),
        { baseOffset },
      );
    const outer = encode(10n, ['a', 'bb']);
    const inner = encode(20n, ['ccc']);
    const seen: string[] = [];
    const describeFields = (fields: RecordFields) =>
      `${fields.offset}:${Buffer.from(fields.bytes.subarray(fields.valueStart, fields.valueStart + fields.valueLength))}:${fields.headerNames.slice(0, fields.headerCount).join(',')}`;
    decodeRecordBatchInto(
      outer,
      0,
      {},
      (fields) => {
        const before = describeFields(fields);
        decodeRecordBatchInto(inner, 0, {}, (innerFields) => seen.push(describeFields(innerFields)), []);
        assert.equal(describeFields(fields), before, 'the outer record is unchanged by the inner decode');
        seen.push(before);
        return undefined;
      },
      [],
    );
    assert.deepEqual(seen, ['20:ccc:h0', '10:a:h0', '20:ccc:h0', '11:bb:h1']);
  });
});
