/**
 * The keyed FIFO against a naive reference model (arrays, O(n) scans), on random command
 * sequences: they must agree on what is deliverable, the order per key, the commit point and the
 * window's bounds. Fixed seed; `FC_SEED` and `FC_RUNS` override it and the number of runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KeyedEntry, KeyedFifo, KeyedFifoEntry } from '@herald/bus/internal';
import { InvariantError } from '@herald/errors';
import fc from 'fast-check';

const SEED = Number(process.env.FC_SEED ?? 20261202);
const RUNS = Number(process.env.FC_RUNS ?? 1000);

type Command =
  | {
      readonly kind: 'enqueue';
      readonly key: number | undefined;
      readonly gap: number;
      readonly sizeBytes: number;
    }
  | { readonly kind: 'take' }
  | { readonly kind: 'ack'; readonly pick: number }
  | { readonly kind: 'ackAgain'; readonly pick: number }
  | { readonly kind: 'release'; readonly pick: number; readonly readyNow: boolean }
  | { readonly kind: 'retry'; readonly pick: number }
  | { readonly kind: 'skip'; readonly gap: number }
  | { readonly kind: 'reset'; readonly gap: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('enqueue' as const),
      key: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
      gap: fc.integer({ min: 0, max: 2 }),
      sizeBytes: fc.integer({ min: 0, max: 40 }),
    }),
  },
  { weight: 5, arbitrary: fc.constant({ kind: 'take' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('ack' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ackAgain' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat(), readyNow: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('skip' as const), gap: fc.integer({ min: 0, max: 3 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('reset' as const), gap: fc.integer({ min: 0, max: 3 }) }),
  },
);

interface ModelEntry {
  readonly id: number;
  readonly key: string | undefined;
  readonly offset: bigint;
  readonly sizeBytes: number;
  state: 'idle' | 'taken' | 'parked' | 'settled';
}

/** The reference: every entry since the last reset in an array, everything computed by scanning. */
class Model {
  entries: ModelEntry[] = [];
  nextOffset = 0n;
  readonly entriesMax: number;
  readonly bytesMax: number;
  readonly countingUnsettled: boolean;

  constructor(entriesMax: number, bytesMax: number, countingUnsettled: boolean) {
    this.entriesMax = entriesMax;
    this.bytesMax = bytesMax;
    this.countingUnsettled = countingUnsettled;
  }

  commitPoint(): bigint {
    let lowest: bigint | undefined;
    for (const entry of this.entries) {
      if (entry.state !== 'settled' && (lowest === undefined || entry.offset < lowest)) lowest = entry.offset;
    }
    return lowest ?? this.nextOffset;
  }

  window(): ModelEntry[] {
    const point = this.commitPoint();
    return this.entries.filter((entry) => entry.offset >= point);
  }

  hasRoom(): boolean {
    const window = this.countingUnsettled
      ? this.entries.filter((entry) => entry.state !== 'settled')
      : this.window();
    const bytes = window.reduce((sum, entry) => sum + entry.sizeBytes, 0);
    return window.length === 0 || (window.length < this.entriesMax && bytes < this.bytesMax);
  }

  /** Idle entries with no earlier unsettled entry of their key. */
  deliverable(): ModelEntry[] {
    return this.entries.filter(
      (entry) =>
        entry.state === 'idle' &&
        (entry.key === undefined ||
          !this.entries.some(
            (other) => other.key === entry.key && other.offset < entry.offset && other.state !== 'settled',
          )),
    );
  }

  inState(state: ModelEntry['state']): ModelEntry[] {
    return this.entries.filter((entry) => entry.state === state);
  }
}

interface Run {
  readonly fifo: KeyedFifo<number>;
  readonly model: Model;
  readonly handles: Map<number, KeyedEntry<number>>;
  /** Handles from before a reset, and settled ones: acking them must do nothing. */
  readonly stale: KeyedEntry<number>[];
  /** Per key, the offsets of first deliveries, to check they increase. */
  readonly deliveredByKey: Map<string, bigint[]>;
  nextId: number;
}

function pick<T>(items: readonly T[], index: number): T | undefined {
  return items.length === 0 ? undefined : items[index % items.length];
}

function take(run: Run): void {
  const { fifo, model } = run;
  const deliverable = model.deliverable();
  const entry = fifo.take();
  if (entry === undefined) {
    assert.deepEqual(deliverable, [], 'the model has deliverable entries the fifo does not give');
    return;
  }
  const expected = model.entries.find((candidate) => candidate.id === entry.value);
  assert.ok(
    expected !== undefined && deliverable.includes(expected),
    `took ${entry.offset}, not deliverable`,
  );
  assert.equal(entry.state, 'taken');
  if (expected.key !== undefined) {
    const offsets = run.deliveredByKey.get(expected.key) ?? [];
    if (!offsets.includes(expected.offset)) {
      assert.ok(
        offsets.every((offset) => offset < expected.offset),
        `key ${expected.key} out of order`,
      );
      offsets.push(expected.offset);
      run.deliveredByKey.set(expected.key, offsets);
    }
  }
  expected.state = 'taken';
}

function apply(run: Run, step: Command): void {
  const { fifo, model } = run;
  switch (step.kind) {
    case 'enqueue': {
      assert.equal(fifo.hasRoom(), model.hasRoom(), 'hasRoom');
      if (!model.hasRoom()) {
        assert.throws(() => fifo.enqueue(-1, undefined), /without room/);
        return;
      }
      const key = step.key === undefined ? undefined : `k${step.key}`;
      const offset = model.nextOffset + BigInt(step.gap);
      const id = run.nextId++;
      run.handles.set(id, fifo.enqueue(id, key, offset, step.sizeBytes));
      model.entries.push({ id, key, offset, sizeBytes: step.sizeBytes, state: 'idle' });
      model.nextOffset = offset + 1n;
      return;
    }
    case 'take':
      take(run);
      return;
    case 'ack': {
      const target = pick([...model.inState('taken'), ...model.inState('parked')], step.pick);
      if (target === undefined) return;
      assert.equal(fifo.ack(run.handles.get(target.id)!), true);
      target.state = 'settled';
      run.stale.push(run.handles.get(target.id)!);
      return;
    }
    case 'ackAgain': {
      const handle = pick(run.stale, step.pick);
      if (handle !== undefined) assert.equal(fifo.ack(handle), false, 'a second ack must do nothing');
      return;
    }
    case 'release': {
      const target = pick(model.inState('taken'), step.pick);
      if (target === undefined) return;
      assert.equal(fifo.release(run.handles.get(target.id)!, step.readyNow), true);
      target.state = step.readyNow ? 'idle' : 'parked';
      return;
    }
    case 'retry': {
      const target = pick(model.inState('parked'), step.pick);
      if (target === undefined) return;
      assert.equal(fifo.retry(run.handles.get(target.id)!), true);
      target.state = 'idle';
      return;
    }
    case 'skip':
      fifo.skipTo(model.nextOffset + BigInt(step.gap));
      model.nextOffset += BigInt(step.gap);
      return;
    case 'reset': {
      for (const entry of model.entries) run.stale.push(run.handles.get(entry.id)!);
      model.nextOffset += BigInt(step.gap);
      fifo.reset(model.nextOffset);
      model.entries = [];
      return;
    }
  }
}

function compare(run: Run): void {
  const { fifo, model } = run;
  const window = model.window();
  assert.equal(fifo.commitPoint(), model.commitPoint(), 'commit point');
  assert.equal(fifo.size, window.length, 'size');
  assert.equal(
    fifo.bytes,
    window.reduce((sum, entry) => sum + entry.sizeBytes, 0),
    'bytes',
  );
  assert.equal(fifo.takenCount, model.inState('taken').length, 'takenCount');
  const unsettled = model.entries.filter((entry) => entry.state !== 'settled');
  assert.equal(fifo.unsettledCount, unsettled.length, 'unsettledCount');
  assert.equal(
    fifo.unsettledBytes,
    unsettled.reduce((sum, entry) => sum + entry.sizeBytes, 0),
    'unsettledBytes',
  );
  assert.equal(fifo.hasReady, model.deliverable().length > 0, 'hasReady');
  assert.equal(fifo.nextOffset, model.nextOffset, 'nextOffset');
}

/** Acks everything to the end: every entry is delivered, each key in order, and the window empties. */
function drain(run: Run): void {
  const { fifo, model } = run;
  for (const entry of model.inState('parked')) {
    fifo.retry(run.handles.get(entry.id)!);
    entry.state = 'idle';
  }
  for (let round = 0; round <= model.entries.length + 1; round++) {
    for (const entry of model.inState('taken')) {
      fifo.ack(run.handles.get(entry.id)!);
      entry.state = 'settled';
    }
    while (fifo.hasReady) take(run);
    compare(run);
  }
  assert.deepEqual(model.deliverable(), []);
  assert.equal(fifo.size, 0, 'everything acked: the window is empty');
  assert.equal(fifo.commitPoint(), model.nextOffset);
}

describe('keyed fifo', () => {
  it('keyed fifo - agrees with a naive model on random command sequences', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
        fc.constantFrom('window' as const, 'unsettled' as const),
        fc.array(command, { maxLength: 120 }),
        (entriesMax, bytesMax, counting, commands) => {
          const run: Run = {
            fifo: new KeyedFifo<number>({ entriesMax, bytesMax, counting }),
            model: new Model(entriesMax, bytesMax ?? Number.POSITIVE_INFINITY, counting === 'unsettled'),
            handles: new Map(),
            stale: [],
            deliveredByKey: new Map(),
            nextId: 0,
          };
          for (const step of commands) {
            apply(run, step);
            compare(run);
          }
          drain(run);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('keyed fifo - ready entries come out in order across the queue moving its spent front down and refilling after it drained', () => {
    // More than 1,024 ready at once and taken only partly, so the queue compacts in place; then
    // drained and filled again, so it reuses its array.
    const fifo = new KeyedFifo<number>({ entriesMax: 10_000, counting: 'unsettled' });
    const taken: number[] = [];
    let next = 0;
    const takeAll = (count: number) => {
      for (let index = 0; index < count; index++) {
        const entry = fifo.take();
        assert.ok(entry !== undefined, `entry ${taken.length} is ready`);
        taken.push(entry.value);
        fifo.ack(entry);
      }
    };
    for (const [enqueue, take] of [
      [3_000, 2_500],
      [2_000, 1_500],
      [0, 1_000],
      [5, 5],
      [4_000, 4_000],
    ] as const) {
      for (let index = 0; index < enqueue; index++) fifo.enqueue(next++, undefined);
      takeAll(take);
    }
    assert.equal(fifo.take(), undefined);
    assert.deepEqual(
      taken,
      Array.from({ length: next }, (_, index) => index),
    );
  });

  it('keyed fifo - an entry the caller built (enqueueEntry) is its own value, keeps key order, and is enqueued once', () => {
    class Own extends KeyedFifoEntry<Own> {
      readonly name: string;
      constructor(name: string, key: string | undefined, offset: bigint) {
        super(undefined as unknown as Own, key, offset, 10);
        this.value = this;
        this.name = name;
      }
    }
    const fifo = new KeyedFifo<Own>({ entriesMax: 10, bytesMax: 25 }, 3n);
    const a3 = new Own('a3', 'a', 3n);
    const a5 = new Own('a5', 'a', 5n);
    fifo.enqueueEntry(a3);
    fifo.enqueueEntry(a5);
    assert.equal(fifo.nextOffset, 6n);
    assert.equal(fifo.bytes, 20);
    assert.equal(fifo.take(), a3);
    assert.equal(fifo.take(), undefined, 'a5 waits behind a3');
    assert.equal(a5.state, 'waiting');
    assert.throws(() => fifo.enqueueEntry(a3), InvariantError, 'enqueued twice');
    assert.throws(
      () => new KeyedFifo<Own>({ entriesMax: 10 }, 0n).enqueueEntry(a5),
      InvariantError,
      'enqueued in a second window',
    );
    assert.equal(fifo.ack(a3), true);
    assert.equal(fifo.take()?.value, a5);
    assert.equal(fifo.commitPoint(), 5n);
  });

  it('keyed fifo - a nacked head is redelivered before its key moves on; other keys pass it', () => {
    const fifo = new KeyedFifo<string>({ entriesMax: 10 }, 5n);
    const a0 = fifo.enqueue('a0', 'a');
    fifo.enqueue('a1', 'a');
    fifo.enqueue('b0', 'b');
    assert.equal(fifo.take(), a0);
    assert.equal(fifo.take()?.value, 'b0');
    assert.equal(fifo.take(), undefined);
    fifo.release(a0);
    assert.equal(fifo.take(), undefined, 'parked until retried');
    fifo.retry(a0);
    assert.equal(fifo.take(), a0);
    assert.equal(fifo.commitPoint(), 5n);
    fifo.ack(a0);
    assert.equal(fifo.commitPoint(), 6n);
    assert.equal(fifo.take()?.value, 'a1');
    assert.equal(fifo.ack(a0), false, 'settling twice does nothing');
  });

  it('keyed fifo - misuse throws: offsets going back, enqueue past the bound, acking an untaken entry', () => {
    const fifo = new KeyedFifo<string>({ entriesMax: 2 });
    const first = fifo.enqueue('x', undefined, 3n);
    assert.throws(() => fifo.enqueue('y', undefined, 3n), /below the next offset/);
    assert.throws(() => fifo.ack(first), /ack of a ready entry/);
    fifo.enqueue('y', undefined);
    assert.throws(() => fifo.enqueue('z', undefined), /without room/);
    assert.throws(() => new KeyedFifo({ entriesMax: 0 }), /entriesMax/);
  });

  /** Whether `error` is the typed failure of a broken invariant whose message matches `pattern`. */
  const broken = (pattern: RegExp) => (error: unknown) =>
    error instanceof InvariantError &&
    error.code === 'HERALD_INVARIANT_VIOLATED' &&
    pattern.test(error.message);

  it('keyed fifo - settling an entry of another window, or a made-up one, is an InvariantError, not a no-op', () => {
    const fifo = new KeyedFifo<string>({ entriesMax: 4 });
    const other = new KeyedFifo<string>({ entriesMax: 4 });
    const foreign = other.enqueue('x', 'k');
    other.take();
    assert.throws(() => fifo.ack(foreign), broken(/ack of an entry this window never handed out/));
    assert.throws(() => fifo.release(foreign), broken(/release of an entry this window never handed out/));
    assert.throws(() => fifo.retry(foreign), broken(/retry of an entry this window never handed out/));
    const madeUp = {
      value: 'y',
      key: undefined,
      offset: 0n,
      sizeBytes: 0,
      state: 'taken',
      holder: undefined,
    } as const;
    assert.throws(() => fifo.ack(madeUp), broken(/never handed out/));
    assert.equal(other.ack(foreign), true, 'its own window still settles it');
    // Misuse is typed the same way.
    assert.throws(() => fifo.retry(fifo.enqueue('z', undefined)), broken(/retry of a ready entry/));
  });

  it('keyed fifo - the checks fire when the bookkeeping is corrupted: commit point backwards, counters negative', () => {
    // Entries are plain objects; writing their fields stands in for a bug in the window itself.
    const corrupt = (entry: KeyedEntry<string>) => entry as { offset: bigint; state: string };

    const moving = new KeyedFifo<string>({ entriesMax: 4 }, 5n);
    const first = moving.enqueue('a', 'k');
    assert.equal(moving.commitPoint(), 5n);
    corrupt(first).offset = 1n;
    assert.throws(() => moving.commitPoint(), broken(/commit point 1 below 5/));

    const counted = new KeyedFifo<string>({ entriesMax: 4 });
    const ready = counted.enqueue('a', undefined);
    corrupt(ready).state = 'taken'; // "taken" without take(): the taken count would go below 0.
    assert.throws(() => counted.release(ready), broken(/taken count never negative/));

    // A reset may move the commit point back on purpose (a rewind), and the check follows it.
    const rewound = new KeyedFifo<string>({ entriesMax: 4 }, 10n);
    assert.equal(rewound.commitPoint(), 10n);
    rewound.reset(3n);
    assert.equal(rewound.commitPoint(), 3n);
  });
});
