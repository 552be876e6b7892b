/**
 * The embedded backend's index of streams: per stream, the global positions of its events in
 * version order (version `n` is at index `n - 1`), plus the versions reserved by appends not yet
 * durable. It lives in memory and is rebuilt from the log on open, so it can never disagree with
 * what is on disk. Memory: about 8 bytes per event plus the stream names.
 */
import { WrongExpectedVersionError } from './errors.ts';
import type { ExpectedVersion } from './types.ts';

interface StreamEntry {
  /** Global positions of the durable events, version order. */
  readonly positions: number[];
  /** Durable events plus those of appends in flight: the version the next append is checked against. */
  reserved: number;
}

/** Streams to positions, and the reservations that make concurrent appends check against each other. */
export class StreamIndex {
  readonly #streams = new Map<string, StreamEntry>();

  /** Number of streams. */
  get size(): number {
    return this.#streams.size;
  }

  #entry(stream: string): StreamEntry {
    let entry = this.#streams.get(stream);
    if (entry === undefined) {
      entry = { positions: [], reserved: 0 };
      this.#streams.set(stream, entry);
    }
    return entry;
  }

  /** The durable version of `stream` (0 when it has no event). */
  version(stream: string): number {
    return this.#streams.get(stream)?.positions.length ?? 0;
  }

  /**
   * Checks `expected` against the reserved version and reserves `count` versions; returns the
   * first. Synchronous, so two appends in one process can never both pass the same check.
   */
  reserve(stream: string, expected: ExpectedVersion, count: number): number {
    const entry = this.#entry(stream);
    if (expected !== 'any' && expected !== entry.reserved) {
      throw new WrongExpectedVersionError(stream, expected, entry.reserved);
    }
    const first = entry.reserved + 1;
    entry.reserved += count;
    return first;
  }

  /**
   * Records durable events of `stream` from version `first` at consecutive positions from
   * `position`. Appends are acknowledged in log order, so `first` is always the next version.
   */
  commit(stream: string, first: number, position: number, count: number): void {
    const entry = this.#entry(stream);
    if (first !== entry.positions.length + 1) {
      throw new Error(`stream index: "${stream}" got version ${first} after ${entry.positions.length}`);
    }
    for (let index = 0; index < count; index++) entry.positions.push(position + index);
    if (entry.reserved < entry.positions.length) entry.reserved = entry.positions.length;
  }

  /** Adds one event found by the scan on open; false when its version is not the next one (a corrupt log). */
  load(stream: string, version: number, position: number): boolean {
    const entry = this.#entry(stream);
    if (version !== entry.positions.length + 1) return false;
    entry.positions.push(position);
    entry.reserved = entry.positions.length;
    return true;
  }

  /** Positions of versions `fromVersion`.. in `direction`, at most `countMax`. */
  positions(
    stream: string,
    fromVersion: number,
    direction: 'forward' | 'backward',
    countMax: number,
  ): number[] {
    const positions = this.#streams.get(stream)?.positions ?? [];
    if (direction === 'forward') {
      const start = Math.max(fromVersion, 1) - 1;
      return positions.slice(start, start + countMax);
    }
    const end = Math.min(fromVersion, positions.length);
    return positions.slice(Math.max(0, end - countMax), end).reverse();
  }
}
