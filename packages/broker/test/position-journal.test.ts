/**
 * The group-position journal's recovery rule, exhaustively on small journals: every single-bit
 * flip of a journal whose rounds are all marked durable is detected or harmless, and every way an
 * unsynced append can be torn is dropped quietly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerCorruptError } from '@herald/broker';
import { decodeJournal, encodeMarker, encodeRecord, type Op } from '../src/position-journal.ts';

/** Three rounds' ops: an acked position, commits with metadata, a topic deletion. */
const ROUNDS: Op[][] = [
  [{ topic: 'jobs', group: 'g', partitions: [{ partition: 0, committed: '4', ackedAhead: [['6', '7']] }] }],
  [{ topic: 'jobs', group: 'k', commits: [{ partition: 0, offset: '9', metadata: 'm ✓' }] }],
  [{ topic: 'old', deleted: true }],
];

/**
 * A journal as the store writes it: round 1's record, then each later round's write holding the
 * previous round's marker and its own record; `marked` says whether the last round's marker (a
 * write of its own) was written too.
 */
function journal(rounds: readonly Op[][], marked: boolean): { bytes: Buffer; lastWriteAt: number } {
  let bytes = Buffer.alloc(0);
  let lastWriteAt = 0;
  for (const [index, ops] of rounds.entries()) {
    lastWriteAt = bytes.byteLength;
    const write = index === 0 ? [encodeRecord(ops)] : [encodeMarker(bytes.byteLength), encodeRecord(ops)];
    bytes = Buffer.concat([bytes, ...write]);
  }
  if (marked) {
    lastWriteAt = bytes.byteLength;
    bytes = Buffer.concat([bytes, encodeMarker(bytes.byteLength)]);
  }
  return { bytes, lastWriteAt };
}

describe('position journal', () => {
  it('journal - every bit flip in a journal of marked rounds is detected or changes nothing', () => {
    const { bytes } = journal(ROUNDS, true);
    const expected = ROUNDS.flat();
    let detected = 0;
    for (let at = 0; at < bytes.byteLength; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Buffer.from(bytes);
        flipped[at]! ^= 1 << bit;
        let ops: Op[];
        try {
          ops = decodeJournal(flipped, 'group-positions.log');
        } catch (error) {
          assert.ok(error instanceof BrokerCorruptError, `byte ${at} bit ${bit}: ${String(error)}`);
          detected++;
          continue;
        }
        // Only the last marker may take a flip unnoticed: the rounds before it are whole.
        assert.ok(at >= bytes.byteLength - 16, `byte ${at} bit ${bit} went unnoticed`);
        assert.deepEqual(ops, expected, `byte ${at} bit ${bit}`);
      }
    }
    assert.ok(detected >= (bytes.byteLength - 16) * 8, `${detected} flips detected`);
  });

  it('journal - an append cut at any byte is dropped quietly, and the rounds before it are kept', () => {
    const { bytes, lastWriteAt } = journal(ROUNDS, false);
    const before = ROUNDS.slice(0, -1).flat();
    for (let end = lastWriteAt; end <= bytes.byteLength; end++) {
      const torn = bytes.subarray(0, end);
      const ops = decodeJournal(torn, 'group-positions.log');
      assert.deepEqual(ops, end === bytes.byteLength ? ROUNDS.flat() : before, `cut at ${end}`);
      // The space of the append allocated, but zeros where its bytes were never written.
      const zeros = Buffer.concat([torn, Buffer.alloc(bytes.byteLength - end + 8)]);
      assert.deepEqual(
        decodeJournal(zeros, 'group-positions.log'),
        end === bytes.byteLength ? ROUNDS.flat() : before,
      );
    }
  });

  it('journal - a bit flip in the last append, before its marker was written, drops that round only', () => {
    // The last write is the previous round's marker, then the last record: a flip in either leaves
    // the rounds before whole (the previous round's record is intact) and drops the last one.
    const { bytes, lastWriteAt } = journal(ROUNDS, false);
    for (let at = lastWriteAt; at < bytes.byteLength; at++) {
      const flipped = Buffer.from(bytes);
      flipped[at]! ^= 0x10;
      const ops = decodeJournal(flipped, 'group-positions.log');
      assert.deepEqual(ops, ROUNDS.slice(0, -1).flat(), `byte ${at}`);
    }
  });
});
