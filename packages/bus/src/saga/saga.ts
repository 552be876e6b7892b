/**
 * Saga definitions (process managers): which messages start and advance a saga, how each message
 * finds its saga (a correlation function), the state's schema, and the transitions. A definition
 * is pure data and functions; `registerSaga` (saga-runtime.ts) runs it on a bus over a
 * {@link SagaStore} (saga-store.ts).
 */
import type { PublishOptions } from '../context.ts';
import {
  type CommandContract,
  defineCommand,
  type EventContract,
  type InputOf,
  type PayloadOf,
} from '../contracts.ts';
import type { Envelope } from '../envelope.ts';
import { ConfigurationError } from '../errors.ts';
import { assertName } from '../names.ts';
import type { Infer, StandardSchemaV1 } from '../schema.ts';

/**
 * Where a saga is: `active` (advancing), `compensating` (undoing what it did), or finished —
 * `completed` (never compensated) or `compensated`. Finished sagas are archived: read-only,
 * queryable, pruned after the runtime's `retentionMs`.
 */
export type SagaStatus = 'active' | 'compensating' | 'completed' | 'compensated';

/** A message a transition sends: staged in the transition's transaction, published after its commit. */
export interface SagaOutgoing {
  readonly contract: EventContract | CommandContract;
  readonly data: unknown;
  readonly options?: PublishOptions;
}

/** A typed {@link SagaOutgoing}: `sagaMessage(ProcessPayment, { orderId, amountCents })`. */
export function sagaMessage<C extends EventContract | CommandContract>(
  contract: C,
  data: InputOf<C>,
  options?: PublishOptions,
): SagaOutgoing {
  return options === undefined ? { contract, data } : { contract, data, options };
}

/**
 * One compensation step: its messages are staged the first time a transition asks for the step
 * by `name`, and never again for that saga (the names that ran are stored with the state), so a
 * redelivered or repeated request cannot undo something twice.
 */
export interface SagaCompensation {
  /** Unique within the saga: 1-100 characters. */
  readonly name: string;
  readonly send: readonly SagaOutgoing[];
}

/**
 * What a transition returns; `undefined` means the message does not apply (nothing changes and no
 * history entry is written). Every field is optional: an empty object records the message in the
 * history and cancels a pending timeout.
 */
export interface SagaTransition<S> {
  /** The new state (default: unchanged); validated against the saga's schema before it is saved. */
  readonly state?: S;
  /** Messages to send, staged in the same transaction as the new state. */
  readonly send?: readonly SagaOutgoing[];
  /**
   * Schedules the saga's timeout `afterMs` from now (1 ms…400 days), replacing a pending one;
   * `'keep'` leaves a pending one as it is. Default: a pending timeout is cancelled, since the saga
   * moved on. The timeout arrives as a call of the `onTimeout` transition.
   */
  readonly timeout?: { readonly afterMs: number } | 'keep';
  /** Compensation steps to run (each at most once per saga); the status becomes `compensating`. */
  readonly compensate?: readonly SagaCompensation[];
  /**
   * Finishes the saga with this outcome (1-100 characters, e.g. `'confirmed'`): status `completed`,
   * or `compensated` if it compensated; a pending timeout is cancelled. Later messages are ignored.
   */
  readonly complete?: string;
}

/** What a transition receives besides the message and the state. */
export interface SagaContext<Transaction = unknown> {
  /** The saga instance's id (what the message correlated to). */
  readonly sagaId: string;
  readonly status: SagaStatus;
  /** The handled message's envelope (its id is the history entry's `messageId`). */
  readonly envelope: Envelope;
  /**
   * The database transaction the transition commits in (a `DatabaseSync` for SQLite, a `pg`
   * client for PostgreSQL): business rows written here commit with the new state and messages.
   */
  readonly transaction: Transaction;
}

/** A transition of a saga for messages of one contract. */
export type SagaHandler<S, T, Transaction = unknown> = (
  data: T,
  state: S,
  context: SagaContext<Transaction>,
) => SagaTransition<S> | undefined | Promise<SagaTransition<S> | undefined>;

/** How a saga starts from a message: its first state, and what it sends. */
export type SagaStarter<S, T, Transaction = unknown> = (
  data: T,
  context: SagaContext<Transaction>,
) => (SagaTransition<S> & { readonly state: S }) | Promise<SagaTransition<S> & { readonly state: S }>;

/** One message a saga reacts to. */
export interface SagaStep {
  readonly contract: EventContract | CommandContract;
  readonly correlate: (data: unknown) => string;
  /** Set for messages that start a saga (and advance it, if it already exists, through `advance`). */
  readonly start?: SagaStarter<unknown, unknown, unknown>;
  readonly advance?: SagaHandler<unknown, unknown, unknown>;
}

/** A saga definition: build it with {@link defineSaga}, run it with `registerSaga`. */
export interface SagaDefinition<Schema extends StandardSchemaV1 = StandardSchemaV1, Transaction = unknown> {
  readonly name: string;
  readonly schema: Schema;
  /**
   * The command the runtime schedules for the saga's timeouts (type `herald.saga.timeout.<name>`,
   * payload `{ sagaId }`). List it in `createBus({ contracts })` of a bus that relays the outbox
   * without running the saga, so that relay can schedule it.
   */
  readonly timeoutContract: CommandContract<StandardSchemaV1<{ sagaId: string }>>;
  readonly steps: ReadonlyMap<string, SagaStep>;
  readonly timeoutHandler: SagaHandler<Infer<Schema>, undefined, Transaction> | undefined;
  /**
   * Starts a saga on `contract` (if none with that id exists): `correlate` gives its id, `start`
   * its first state. A starter message for a saga that exists is ignored, unless `on` also
   * registers it.
   */
  startedBy<C extends EventContract | CommandContract>(
    contract: C,
    correlate: (data: PayloadOf<C>) => string,
    start: SagaStarter<Infer<Schema>, PayloadOf<C>, Transaction>,
  ): SagaDefinition<Schema, Transaction>;
  /** Advances the saga `correlate` names on `contract`; a message for no saga is ignored (logged). */
  on<C extends EventContract | CommandContract>(
    contract: C,
    correlate: (data: PayloadOf<C>) => string,
    advance: SagaHandler<Infer<Schema>, PayloadOf<C>, Transaction>,
  ): SagaDefinition<Schema, Transaction>;
  /** The transition when the saga's timeout (`{ timeout: { afterMs } }`) fires before it moved on. */
  onTimeout(advance: SagaHandler<Infer<Schema>, undefined, Transaction>): SagaDefinition<Schema, Transaction>;
}

/** Options of {@link defineSaga}. */
export interface SagaOptions<Schema extends StandardSchemaV1> {
  /** The saga's name: 1-100 characters from A-Z a-z 0-9 . _ - (also its consumer group by default). */
  readonly name: string;
  /** Standard Schema of the state (zod, valibot, arktype); the state is stored as JSON. */
  readonly state: Schema;
  /** Topic of the saga's timeout command (default `commands.herald.saga.timeout.<name>`). */
  readonly timeoutTopic?: string;
}

/**
 * The timeout command's payload schema (Standard Schema, written out to keep the bus free of a
 * validator), with the Standard JSON Schema extension so AsyncAPI documents describe it.
 */
const TIMEOUT_JSON_SCHEMA = {
  type: 'object',
  properties: { sagaId: { type: 'string' } },
  required: ['sagaId'],
};
const TIMEOUT_STANDARD = {
  version: 1 as const,
  vendor: 'herald',
  jsonSchema: { input: () => ({ ...TIMEOUT_JSON_SCHEMA }), output: () => ({ ...TIMEOUT_JSON_SCHEMA }) },
  validate: (value: unknown) =>
    typeof value === 'object' && value !== null && typeof (value as { sagaId?: unknown }).sagaId === 'string'
      ? { value: { sagaId: (value as { sagaId: string }).sagaId } }
      : { issues: [{ message: 'expected { sagaId: string }', path: ['sagaId'] }] },
};
const TIMEOUT_SCHEMA: StandardSchemaV1<{ sagaId: string }> = { '~standard': TIMEOUT_STANDARD };

/**
 * Defines a saga: `defineSaga({ name, state }).startedBy(...).on(...).onTimeout(...)`. Each call
 * returns a new definition (definitions are immutable). Throws `ConfigurationError` for a bad
 * name or a contract registered twice.
 */
export function defineSaga<Schema extends StandardSchemaV1, Transaction = unknown>(
  options: SagaOptions<Schema>,
): SagaDefinition<Schema, Transaction> {
  assertName(options?.name, 'saga name', 'defineSaga');
  const timeoutContract = defineCommand(`herald.saga.timeout.${options.name}`, {
    schema: TIMEOUT_SCHEMA,
    ...(options.timeoutTopic === undefined ? {} : { topic: options.timeoutTopic }),
    key: (data) => data.sagaId,
  });
  return definition({ name: options.name, schema: options.state, timeoutContract }, new Map(), undefined);
}

interface Fixed<Schema extends StandardSchemaV1> {
  readonly name: string;
  readonly schema: Schema;
  readonly timeoutContract: CommandContract<StandardSchemaV1<{ sagaId: string }>>;
}

function definition<Schema extends StandardSchemaV1, Transaction>(
  fixed: Fixed<Schema>,
  steps: ReadonlyMap<string, SagaStep>,
  timeoutHandler: SagaHandler<Infer<Schema>, undefined, Transaction> | undefined,
): SagaDefinition<Schema, Transaction> {
  const withStep = (contract: EventContract | CommandContract, step: Partial<SagaStep>) => {
    const known = steps.get(contract.type);
    if ((known?.start && step.start) || (known?.advance && step.advance)) {
      throw new ConfigurationError(
        `defineSaga(${fixed.name}): "${contract.type}" is registered twice; give it at most one startedBy and one on`,
      );
    }
    const next = new Map(steps);
    next.set(contract.type, { ...known, ...step, contract } as SagaStep);
    return definition(fixed, next, timeoutHandler);
  };
  return {
    ...fixed,
    steps,
    timeoutHandler,
    startedBy: (contract, correlate, start) =>
      withStep(contract, {
        correlate: correlate as (data: unknown) => string,
        start: start as SagaStarter<unknown, unknown, unknown>,
      }),
    on: (contract, correlate, advance) =>
      withStep(contract, {
        correlate: correlate as (data: unknown) => string,
        advance: advance as SagaHandler<unknown, unknown, unknown>,
      }),
    onTimeout: (advance) => definition(fixed, steps, advance),
  };
}
