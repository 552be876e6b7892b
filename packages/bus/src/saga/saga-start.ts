/**
 * Starting a saga inside the caller's transaction (`SagaRuntime.start`): the start message is
 * staged in the outbox as usual, and the saga's first transition runs right there, in the same
 * transaction as the caller's business rows, instead of after the message went through the broker
 * and came back to the saga's handler. That hop cost a relay pass, a broker round trip and a
 * second transaction before the saga's first command was even staged. The later delivery of the
 * start message to the saga's own handler finds the saga started and is ignored, so the saga
 * still starts exactly once, and a start message staged without `start` still starts it the old way.
 */
import type { Bus } from '../bus-api.ts';
import type { PublishOptions } from '../context.ts';
import type { CommandContract, EventContract } from '../contracts.ts';
import type { Envelope } from '../envelope.ts';
import { ConfigurationError } from '../errors.ts';
import type { OutboxStaging, OutboxTransaction } from '../outbox.ts';
import { isoNow } from '../outgoing.ts';
import { validate } from '../schema.ts';
import { uuidv7 } from '../uuid.ts';
import type { SagaDefinition } from './saga.ts';
import { transitionOnce } from './saga-apply.ts';
import type { SagaStore } from './saga-store.ts';

/** What {@link SagaRuntime.start} did (see `saga-runtime.ts`). */
export interface SagaStart {
  /** The saga's id (the start message's correlation). */
  readonly sagaId: string;
  /** CloudEvents id of the staged start message (the history entry's `messageId`). */
  readonly messageId: string;
  /**
   * Why the transition changed nothing, if it did not apply: `'started already'` (an instance with
   * this id exists and the saga does not also advance on this contract), `'finished'`, or
   * `'transition returned undefined'`. The message is staged all the same.
   */
  readonly ignored?: string;
}

/** What the start needs from the registered saga. */
export interface StartScope {
  readonly bus: Bus;
  readonly saga: SagaDefinition;
  readonly store: SagaStore;
  readonly historyEntriesMax: number;
}

/**
 * Stages `contract`/`input` in `transaction` and runs the saga's transition for it there; see the
 * file comment. Throws `ConfigurationError` when the saga does not start on `contract` or the
 * transaction cannot stage messages.
 */
export async function startInTransaction(
  scope: StartScope,
  transaction: OutboxStaging,
  contract: EventContract | CommandContract,
  input: unknown,
  options: PublishOptions = {},
): Promise<SagaStart> {
  const { bus, saga } = scope;
  const step = saga.steps.get(contract.type);
  if (step?.start === undefined) {
    throw new ConfigurationError(
      `saga "${saga.name}" does not start on "${contract.type}": start it only with a contract it is startedBy(…)`,
    );
  }
  if (typeof transaction?.publish !== 'function' || typeof transaction.send !== 'function') {
    throw new ConfigurationError(
      `saga "${saga.name}".start needs an outbox transaction: pass the tx of bus.transaction(tx => …), ` +
        'bus.outbox(yourTransaction) or context.transaction(tx => …)',
    );
  }
  const data = await validate(contract.schema, input, `"${contract.type}" payload`);
  // The id is fixed here so that the saga's history names the very message the relay publishes.
  const id = options.id ?? uuidv7();
  const staged = { ...options, id };
  if (contract.kind === 'event') await transaction.publish(contract, input as never, staged);
  else await transaction.send(contract, input as never, staged);
  const key = options.key ?? (contract.key as ((value: unknown) => string) | undefined)?.(data);
  const envelope: Envelope = {
    specversion: '1.0',
    id,
    source: options.source ?? bus.source,
    type: contract.type,
    time: isoNow(),
    datacontenttype: 'application/json',
    ...(key === undefined ? {} : { partitionkey: key }),
    correlationid: options.correlationId ?? id,
    dataversion: contract.version,
    extensions: {},
    data,
  };
  const sagaId = step.correlate(data);
  const outcome = await transitionOnce(
    saga,
    scope.store,
    scope.historyEntriesMax,
    {
      sagaId,
      envelope,
      data,
      timeout: false,
      timeoutContract: saga.timeoutContract,
      transport: bus.transport,
    },
    transaction as OutboxTransaction<unknown>,
  );
  // A timeout this transition superseded (only when it advanced an existing saga) is not
  // cancelled: there is no "after the commit" here. It arrives stale and is ignored by its id.
  return outcome.ignored === undefined
    ? { sagaId, messageId: id }
    : { sagaId, messageId: id, ignored: outcome.ignored };
}
