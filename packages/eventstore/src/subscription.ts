/**
 * The subscription loop shared by `subscribe` and projections: read a page from the position,
 * hand the matching events over, move the position, and when nothing is left wait for an append.
 * One page at a time, so memory is bounded by the page size.
 */
import { ConfigurationError } from '@herald/bus';
import type { StoreBackend } from './backend.ts';
import { type EventDecoder, inCategory } from './codec.ts';
import { READ_COUNT_MAX, type RecordedEvent, type Subscription } from './types.ts';

/** Default events per page of a subscription. */
export const SUBSCRIPTION_PAGE_COUNT_DEFAULT = 256;

/** Longest wait for an append before a subscription reads again anyway (a safety net, not the wake-up). */
export const SUBSCRIPTION_WAIT_MS_MAX = 1000;

/** What the loop needs: where to start, what to keep, and what to do with each page. */
export interface PageLoopOptions {
  readonly what: string;
  readonly category?: string | undefined;
  readonly pageCountMax?: number | undefined;
  /** Resolves the starting position (a checkpoint load). */
  start(): Promise<bigint>;
  /**
   * Handles the matching events of one page; `nextPosition` is where the loop goes on from (save
   * it as the checkpoint together with the page's effects).
   */
  handlePage(events: readonly RecordedEvent[], nextPosition: bigint): Promise<void>;
}

/** Checks a page size option. */
export function pageCount(value: number | undefined, what: string): number {
  const count = value ?? SUBSCRIPTION_PAGE_COUNT_DEFAULT;
  if (!Number.isInteger(count) || count < 1 || count > READ_COUNT_MAX) {
    throw new ConfigurationError(
      `${what}: pageCountMax must be an integer from 1 to ${READ_COUNT_MAX}, got ${count}`,
    );
  }
  return count;
}

/** Starts the catch-up-then-live loop; `onClose` runs once it has stopped. */
export function startPageLoop(
  backend: StoreBackend,
  decoder: EventDecoder,
  options: PageLoopOptions,
  onClose: () => void,
): Subscription {
  const countMax = pageCount(options.pageCountMax, options.what);
  const abort = new AbortController();
  let position = -1n;
  const waiters: { target: bigint; resolve: () => void }[] = [];
  const release = (): void => {
    for (let index = waiters.length - 1; index >= 0; index--) {
      const waiter = waiters[index]!;
      if (position >= waiter.target || abort.signal.aborted) {
        waiters.splice(index, 1);
        waiter.resolve();
      }
    }
  };
  const run = async (): Promise<void> => {
    position = await options.start();
    while (!abort.signal.aborted) {
      const page = await backend.readAll(position, countMax);
      if (page.events.length === 0) {
        release();
        await backend.waitForAppend(position, SUBSCRIPTION_WAIT_MS_MAX, abort.signal);
        continue;
      }
      const matching: RecordedEvent[] = [];
      for (const stored of page.events) {
        if (inCategory(stored.stream, options.category)) matching.push(decoder.decode(stored));
      }
      await options.handlePage(matching, page.nextPosition);
      position = page.nextPosition;
      release();
    }
  };
  const done = run().finally(() => {
    abort.abort();
    release();
    onClose();
  });
  done.catch(() => {});
  return {
    get position() {
      return position < 0n ? 0n : position;
    },
    async caughtUp() {
      const target = await backend.headPosition();
      if (position >= target) return;
      await new Promise<void>((resolve) => {
        waiters.push({ target, resolve });
        done.then(resolve, resolve);
      });
    },
    done,
    async close() {
      abort.abort();
      await done.catch(() => {});
    },
  };
}
