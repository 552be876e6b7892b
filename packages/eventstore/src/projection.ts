/**
 * Projections: read models built from the store's events, with the checkpoint written in the same
 * transaction as the read model's rows, so each page of events is applied exactly once even across
 * crashes (a crash rolls back the rows and the checkpoint together). Catch-up, then live; rebuild
 * by resetting the rows and the checkpoint in one transaction and replaying.
 */
import { ConfigurationError } from '@herald/bus';
import type { StoreCore } from './store-core.ts';
import type { EventStore, RecordedEvent, Subscription } from './types.ts';

/** Where a projection writes: a transaction that holds the read model and the checkpoint together. */
export interface ProjectionTarget<Tx> {
  /** `'sqlite'` or `'postgres'`. */
  readonly name: string;
  /** Runs `work` in one transaction: commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Creates the checkpoint table if missing. */
  ensureCheckpoints(tx: Tx): Promise<void>;
  /** The next position of projection `name`, or undefined before its first page. */
  loadCheckpoint(tx: Tx, name: string): Promise<bigint | undefined>;
  /** Saves the next position of projection `name`; `undefined` deletes it (a rebuild). */
  saveCheckpoint(tx: Tx, name: string, position: bigint | undefined): Promise<void>;
}

/** A projection: its name (the checkpoint key), the events it reads, and how it writes its read model. */
export interface Projection<Tx> {
  /** Unique name, e.g. `orders-by-customer`. */
  readonly name: string;
  /** Only streams of this category (`order` matches `order-1`); default every stream. */
  readonly category?: string;
  /** Creates the read model's tables if missing (idempotent), in the transaction of the first page. */
  setup?(tx: Tx): Promise<void> | void;
  /** Empties the read model (a rebuild); runs in one transaction with the checkpoint's deletion. */
  reset(tx: Tx): Promise<void> | void;
  /** Applies one event to the read model, in the page's transaction. */
  apply(tx: Tx, event: RecordedEvent): Promise<void> | void;
}

/** Where a projection reports its lag (e.g. a Prometheus gauge `herald_projection_lag_events`). */
export interface ProjectionMetrics {
  /** After each committed page: the positions projection `name` is behind the store's head. */
  projectionLag(name: string, lagPositions: number): void;
}

/** Options of {@link runProjection}. */
export interface RunProjectionOptions {
  /** Events per transaction (default 256, at most 4096): larger pages, fewer commits. */
  readonly pageCountMax?: number;
  /** Receives the lag after each committed page (default: none). */
  readonly metrics?: ProjectionMetrics;
}

/** A running projection. */
export interface ProjectionRunner extends Subscription {
  /**
   * Events' positions the read model is behind the store: the head position minus the
   * checkpoint (0 when up to date). The lag metric.
   */
  lag(): Promise<bigint>;
}

function asCore(store: EventStore): StoreCore {
  const core = store as Partial<StoreCore>;
  if (typeof core.startLoop !== 'function') {
    throw new ConfigurationError(
      'runProjection: the store must come from openEmbeddedEventStore or openPostgresEventStore',
    );
  }
  return store as StoreCore;
}

/**
 * Starts `projection` on `target`: catch-up from its checkpoint, then live. Each page of events
 * and the new checkpoint commit in one transaction. `done` rejects when `apply` throws (that
 * page rolls back; the projection stops).
 */
export function runProjection<Tx>(
  store: EventStore,
  target: ProjectionTarget<Tx>,
  projection: Projection<Tx>,
  options: RunProjectionOptions = {},
): ProjectionRunner {
  if (typeof projection.name !== 'string' || projection.name.length === 0) {
    throw new ConfigurationError(
      'runProjection: the projection needs a non-empty name (it keys the checkpoint)',
    );
  }
  const metrics = options.metrics;
  const loop = asCore(store).startLoop({
    what: `projection "${projection.name}"`,
    category: projection.category,
    pageCountMax: options.pageCountMax,
    start: () =>
      target.transaction(async (tx) => {
        await target.ensureCheckpoints(tx);
        await projection.setup?.(tx);
        return (await target.loadCheckpoint(tx, projection.name)) ?? 0n;
      }),
    handlePage: async (events, nextPosition) => {
      await target.transaction(async (tx) => {
        for (const event of events) await projection.apply(tx, event);
        await target.saveCheckpoint(tx, projection.name, nextPosition);
      });
      if (metrics !== undefined) {
        const lag = (await store.headPosition()) - nextPosition;
        metrics.projectionLag(projection.name, lag > 0n ? Number(lag) : 0);
      }
    },
  });
  return Object.assign(loop, {
    async lag(): Promise<bigint> {
      const lag = (await store.headPosition()) - loop.position;
      return lag > 0n ? lag : 0n;
    },
  });
}

/**
 * Rebuilds `projection` from scratch: empties its read model and deletes its checkpoint in one
 * transaction, then replays every event up to the head and resolves. A crash during the replay
 * leaves a consistent prefix (each page commits with its checkpoint); running the projection (or the
 * rebuild's replay) again continues from there. Stop the running projection first.
 */
export async function rebuildProjection<Tx>(
  store: EventStore,
  target: ProjectionTarget<Tx>,
  projection: Projection<Tx>,
  options: RunProjectionOptions = {},
): Promise<void> {
  await target.transaction(async (tx) => {
    await target.ensureCheckpoints(tx);
    await projection.setup?.(tx);
    await projection.reset(tx);
    await target.saveCheckpoint(tx, projection.name, undefined);
  });
  await catchUpProjection(store, target, projection, options);
}

/** Runs `projection` until it has applied everything appended before the call, then stops. */
export async function catchUpProjection<Tx>(
  store: EventStore,
  target: ProjectionTarget<Tx>,
  projection: Projection<Tx>,
  options: RunProjectionOptions = {},
): Promise<void> {
  const runner = runProjection(store, target, projection, options);
  try {
    await Promise.race([runner.caughtUp(), runner.done]);
  } finally {
    await runner.close();
  }
  await runner.done;
}
