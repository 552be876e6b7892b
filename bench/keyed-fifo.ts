/**
 * `npm run bench -- keyed-fifo [--quick]`: the cost of one message through `@herald/bus`'s
 * `KeyedFifo` (enqueue + take + ack) with 100 to 100,000 messages in flight, to show it does not
 * grow with the number in flight.
 *
 * Each row fills a window with `inFlight` taken messages over `2 × inFlight` keys (one message in
 * ten keyless; colliding keys leave messages waiting behind their key's head), then
 * runs rounds of: ack one taken message, enqueue a new one, take what is ready. Acks go oldest
 * first (the commit point moves every round) or at random (out of order: the commit point moves
 * irregularly, and every access lands somewhere else in memory). The figure is the wall time per round,
 * best of three runs. A quick measurement printed as a Markdown table, not a timed assertion.
 */
import { type KeyedEntry, KeyedFifo } from '@herald/bus/internal';
import { format, markdownTable, progressLine } from './_common.ts';

const IN_FLIGHT_COUNTS = [100, 1_000, 10_000, 100_000];

/** A small deterministic generator, so every run and row sees the same sequence. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value ^= value + Math.imul(value ^ (value >>> 7), 61 | value);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Nanoseconds per round (ack + enqueue + take) with `inFlight` messages taken and unsettled. */
function measure(
  inFlight: number,
  rounds: number,
  acks: 'random' | 'oldest',
): { nsPerRound: number; unsettled: number } {
  const next = random(inFlight);
  const keys = Array.from({ length: inFlight * 2 }, (_, index) => `key-${index}`);
  const keyOf = () => (next() < 0.1 ? undefined : keys[Math.floor(next() * keys.length)]);
  // Counting unsettled entries: random acks leave the oldest unsettled behind, and a log window
  // counted from it would stop admitting (as it should) long before the steady state measured here.
  const fifo = new KeyedFifo<number>({ entriesMax: inFlight * 4, counting: 'unsettled' });
  let taken: KeyedEntry<number>[] = [];
  let takenHead = 0;
  const takeReady = () => {
    for (let entry = fifo.take(); entry !== undefined; entry = fifo.take()) taken.push(entry);
  };
  // Fill: keys repeat, so many messages wait behind their key's head; keep enqueueing until
  // `inFlight` are taken.
  while (taken.length < inFlight && fifo.hasRoom()) {
    fifo.enqueue(0, keyOf());
    takeReady();
  }
  const startNs = process.hrtime.bigint();
  for (let round = 0; round < rounds; round++) {
    let entry: KeyedEntry<number>;
    if (acks === 'oldest') {
      entry = taken[takenHead++]!;
      if (takenHead * 2 > taken.length) {
        taken = taken.slice(takenHead);
        takenHead = 0;
      }
    } else {
      const index = Math.floor(next() * taken.length);
      entry = taken[index]!;
      taken[index] = taken[taken.length - 1]!;
      taken.pop();
    }
    fifo.ack(entry);
    if (fifo.hasRoom()) fifo.enqueue(round, keyOf());
    takeReady();
  }
  const elapsedNs = Number(process.hrtime.bigint() - startNs);
  return { nsPerRound: elapsedNs / rounds, unsettled: fifo.unsettledCount };
}

/**
 * The memory cost alone: per round the same kind of random touches as an ack + enqueue + take (a
 * random entry read and written, a key looked up in a map, two link writes, one new entry), with
 * no ordering logic. Once the entries no longer fit in the CPU caches this grows like the window.
 */
function measureBaseline(inFlight: number, rounds: number): number {
  const next = random(inFlight);
  const keys = Array.from({ length: inFlight * 2 }, (_, index) => `key-${index}`);
  const count = Math.round(inFlight * 1.27);
  interface Touched {
    key: string;
    state: string;
    link: Touched | undefined;
  }
  const make = (): Touched => ({
    key: keys[Math.floor(next() * keys.length)]!,
    state: 'ready',
    link: undefined,
  });
  const entries = Array.from({ length: count }, make);
  const byKey = new Map(keys.map((key) => [key, { length: 0 }]));
  let sum = 0;
  const startNs = process.hrtime.bigint();
  for (let round = 0; round < rounds; round++) {
    const index = Math.floor(next() * count);
    const entry = entries[index]!;
    entry.state = 'settled';
    sum += byKey.get(entry.key)?.length ?? 0;
    const other = entries[Math.floor(next() * count)]!;
    other.link = entry;
    entry.link = other;
    entries[index] = make();
  }
  const elapsedNs = Number(process.hrtime.bigint() - startNs);
  return sum >= 0 ? elapsedNs / rounds : 0;
}

/**
 * What the shared delivery window did before `KeyedFifo`: per delivery, walk every entry in
 * offset order skipping keys blocked by an earlier unacked entry; an ack removes the entry from
 * the array. Far fewer rounds: each costs O(in flight).
 */
function measureScan(inFlight: number, rounds: number): number {
  const next = random(inFlight);
  const keys = Array.from({ length: inFlight * 2 }, (_, index) => `key-${index}`);
  interface Scanned {
    key: string | undefined;
    taken: boolean;
  }
  const keyOf = () => (next() < 0.1 ? undefined : keys[Math.floor(next() * keys.length)]);
  const window: Scanned[] = [];
  const taken: Scanned[] = [];
  const scan = () => {
    const blocked = new Set<string>();
    for (const entry of window) {
      if (entry.key !== undefined) {
        if (blocked.has(entry.key)) continue;
        blocked.add(entry.key);
      }
      if (entry.taken) continue;
      entry.taken = true;
      taken.push(entry);
    }
  };
  while (taken.length < inFlight) {
    window.push({ key: keyOf(), taken: false });
    if (window.length % 100 === 0) scan();
  }
  const startNs = process.hrtime.bigint();
  for (let round = 0; round < rounds; round++) {
    const index = Math.floor(next() * taken.length);
    const entry = taken[index]!;
    taken[index] = taken[taken.length - 1]!;
    taken.pop();
    window.splice(window.indexOf(entry), 1);
    window.push({ key: keyOf(), taken: false });
    scan();
  }
  return Number(process.hrtime.bigint() - startNs) / rounds;
}

export async function run(args: string[]): Promise<void> {
  const rounds = args.includes('--quick') ? 100_000 : 1_000_000;
  const rows: string[][] = [];
  for (const inFlight of IN_FLIGHT_COUNTS) {
    progressLine('keyed-fifo', `${inFlight} in flight`);
    const row = [format(inFlight)];
    for (const acks of ['oldest', 'random'] as const) {
      measure(inFlight, rounds / 10, acks); // Warm-up.
      const runs = [1, 2, 3].map(() => measure(inFlight, rounds, acks));
      const best = runs.reduce((low, one) => (one.nsPerRound < low.nsPerRound ? one : low));
      if (acks === 'random') row.push(format(best.unsettled));
      row.push(format(best.nsPerRound, 0));
    }
    measureBaseline(inFlight, rounds / 10);
    row.push(format(Math.min(...[1, 2, 3].map(() => measureBaseline(inFlight, rounds))), 0));
    row.push(format(measureScan(inFlight, Math.max(20, Math.round(2e7 / inFlight ** 1.5))), 0));
    rows.push(row);
  }
  const headers = [
    'taken',
    'ns, acks oldest first',
    'unsettled',
    'ns, acks at random',
    'ns, memory touches only',
    'ns, the old full scan',
  ];
  const align = headers.map(() => 'right' as const);
  process.stdout.write(`${markdownTable(headers, rows, { align })}\n`);
}
