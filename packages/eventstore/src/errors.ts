/** The event store's own error: an append that lost the optimistic-concurrency race. */
import { HeraldError } from '@herald/errors';
import type { ExpectedVersion } from './types.ts';

/**
 * `appendToStream` found the stream at another version than expected: another writer appended
 * first. Nothing was written. Retriable: read the stream again, decide again, append again.
 */
export class WrongExpectedVersionError extends HeraldError {
  /** The stream appended to. */
  readonly stream: string;
  /** The version the caller expected. */
  readonly expectedVersion: ExpectedVersion;
  /** The version the stream was at. */
  readonly actualVersion: number;

  constructor(stream: string, expectedVersion: ExpectedVersion, actualVersion: number) {
    super(
      'HERALD_WRONG_EXPECTED_VERSION',
      `cannot append to stream "${stream}": expected version ${expectedVersion}, but it is at ` +
        `version ${actualVersion} (another writer appended first); read the stream again, decide ` +
        'again and retry the append',
      { retriable: true },
    );
    this.stream = stream;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}
