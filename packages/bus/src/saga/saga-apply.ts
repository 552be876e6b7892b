/**
 * One saga transition inside the handled message's transaction: load the row, decide whether the
 * message applies, run the definition's transition, stage what it sends (compensations at most
 * once, the timeout as a scheduled message), and save the new row with its version check.
 */
import type { CommandContract } from '../contracts.ts';
import type { Envelope } from '../envelope.ts';
import { ConfigurationError } from '../errors.ts';
import type { OutboxTransaction } from '../outbox.ts';
import { validate } from '../schema.ts';
import type { Transport } from '../transport.ts';
import { uuidv7 } from '../uuid.ts';
import type { SagaContext, SagaDefinition, SagaOutgoing, SagaStatus, SagaTransition } from './saga.ts';
import type { SagaRecord, SagaStore } from './saga-store.ts';

/** Longest timeout a transition may ask for (400 days, the outbox's scheduling horizon). */
export const SAGA_TIMEOUT_MS_MAX = 400 * 86_400_000;
/** Longest compensation-step name or outcome. */
const LABEL_LENGTH_MAX = 100;

/** What the transaction decided, for the work after the commit. */
export interface TransitionOutcome {
  /** Why the message changed nothing (no saga, finished, stale timeout, transition returned undefined). */
  readonly ignored?: string;
  /** A pending timeout the transition superseded: cancelled after the commit. */
  readonly cancelTimeoutId?: string;
}

/**
 * One message for a saga: the id it correlated to, the message (a consumed one, or one staged in
 * the caller's transaction by `SagaRuntime.start`), and whether it is the saga's timeout.
 */
export interface Delivery {
  readonly sagaId: string;
  /** The message's envelope: its type picks the step, its id is the history entry's `messageId`. */
  readonly envelope: Envelope;
  /** Its validated payload. */
  readonly data: unknown;
  readonly timeout: boolean;
  readonly timeoutContract: CommandContract;
  /** The bus's transport: whether it can schedule the saga's timeouts. */
  readonly transport: Transport;
}

/** Runs the transition of `delivery` in `transaction`; see the file comment. */
export async function transitionOnce(
  saga: SagaDefinition,
  store: SagaStore,
  historyEntriesMax: number,
  delivery: Delivery,
  transaction: OutboxTransaction<unknown>,
): Promise<TransitionOutcome> {
  const { sagaId, envelope, data } = delivery;
  const record = await store.load(transaction, saga.name, sagaId);
  if (record !== undefined && record.finishedAtMs !== undefined) return { ignored: 'finished' };
  if (delivery.timeout && record?.timeoutId !== envelope.id) return { ignored: 'stale timeout' };
  const step = delivery.timeout ? undefined : saga.steps.get(envelope.type);
  const sagaContext: SagaContext = { sagaId, status: record?.status ?? 'active', envelope, transaction };
  let result: SagaTransition<unknown> | undefined;
  if (record === undefined) {
    if (step?.start === undefined) return { ignored: 'no saga with this id' };
    result = await step.start(data, sagaContext);
  } else if (delivery.timeout) {
    result = await saga.timeoutHandler?.(undefined, record.state, sagaContext);
  } else {
    if (step?.advance === undefined) return { ignored: 'started already' };
    result = await step.advance(data, record.state, sagaContext);
  }
  if (result === undefined) return { ignored: 'transition returned undefined' };
  return commit(saga, store, historyEntriesMax, delivery, transaction, record, result);
}

async function commit(
  saga: SagaDefinition,
  store: SagaStore,
  historyEntriesMax: number,
  delivery: Delivery,
  transaction: OutboxTransaction<unknown>,
  record: SagaRecord | undefined,
  result: SagaTransition<unknown>,
): Promise<TransitionOutcome> {
  const { sagaId, envelope } = delivery;
  const state = await validate(
    saga.schema,
    result.state ?? record?.state,
    `saga "${saga.name}" ${sagaId} state`,
  );
  const sent: string[] = [];
  const stage = async (outgoing: SagaOutgoing) => {
    const { contract, data, options } = outgoing;
    if (contract.kind === 'event') await transaction.publish(contract, data as never, options);
    else await transaction.send(contract, data as never, options);
    sent.push(contract.type);
  };
  for (const outgoing of result.send ?? []) await stage(outgoing);
  const compensated = [...(record?.compensated ?? [])];
  const compensations: string[] = [];
  for (const compensation of result.compensate ?? []) {
    checkLabel(compensation.name, 'compensation name', saga.name);
    // At most once per saga: a step that ran is skipped, whoever asks for it again.
    if (compensated.includes(compensation.name)) continue;
    for (const outgoing of compensation.send) await stage(outgoing);
    compensated.push(compensation.name);
    compensations.push(compensation.name);
  }
  const nowMs = Date.now();
  const status = nextStatus(record?.status ?? 'active', result, compensated.length > 0);
  const finished = status === 'completed' || status === 'compensated';
  const pendingTimeoutId = record?.timeoutId;
  let timeoutId: string | undefined;
  if (!finished && result.timeout === 'keep') timeoutId = pendingTimeoutId;
  else if (!finished && result.timeout !== undefined && result.timeout !== 'keep') {
    timeoutId = await scheduleTimeout(saga.name, result.timeout.afterMs, delivery, transaction);
    sent.push(delivery.timeoutContract.type);
  }
  if (result.complete !== undefined) checkLabel(result.complete, 'outcome', saga.name);
  const version = (record?.version ?? 0) + 1;
  const next: SagaRecord = {
    saga: saga.name,
    id: sagaId,
    status,
    version,
    state,
    timeoutId,
    compensated,
    outcome: result.complete,
    startedAtMs: record?.startedAtMs ?? nowMs,
    updatedAtMs: nowMs,
    finishedAtMs: finished ? nowMs : undefined,
  };
  const entry = {
    saga: saga.name,
    id: sagaId,
    version,
    messageType: envelope.type,
    messageId: envelope.id,
    status,
    state,
    sent,
    compensations,
    atMs: nowMs,
  };
  await store.save(transaction, next, record?.version ?? 0, entry, historyEntriesMax);
  return pendingTimeoutId !== undefined && pendingTimeoutId !== timeoutId
    ? { cancelTimeoutId: pendingTimeoutId }
    : {};
}

function nextStatus(current: SagaStatus, result: SagaTransition<unknown>, compensated: boolean): SagaStatus {
  if (result.complete !== undefined) return compensated ? 'compensated' : 'completed';
  if ((result.compensate?.length ?? 0) > 0) return 'compensating';
  return current;
}

async function scheduleTimeout(
  saga: string,
  afterMs: number,
  delivery: Delivery,
  transaction: OutboxTransaction<unknown>,
): Promise<string> {
  if (!(Number.isFinite(afterMs) && afterMs >= 1 && afterMs <= SAGA_TIMEOUT_MS_MAX)) {
    throw new ConfigurationError(
      `saga "${saga}": timeout.afterMs must be from 1 to ${SAGA_TIMEOUT_MS_MAX} ms, got ${afterMs}`,
    );
  }
  const scheduling = delivery.transport.features.scheduling;
  if (scheduling === undefined || scheduling.mode === 'unsupported') {
    // Refused here, before the commit: staged, it would hold its key in the outbox for good.
    throw new ConfigurationError(
      `saga "${saga}": a timeout needs a transport that schedules messages, and ${delivery.transport.name} ` +
        `does not (${scheduling?.reason ?? 'no scheduling feature'}); drop the timeout on this transport or choose another`,
    );
  }
  const id = uuidv7();
  await transaction.send(delivery.timeoutContract, { sagaId: delivery.sagaId }, { id, delayMs: afterMs });
  return id;
}

function checkLabel(label: string, what: string, saga: string): void {
  if (typeof label !== 'string' || label.length === 0 || label.length > LABEL_LENGTH_MAX) {
    throw new ConfigurationError(
      `saga "${saga}": a ${what} must be 1-${LABEL_LENGTH_MAX} characters, got ${JSON.stringify(label)}`,
    );
  }
}
