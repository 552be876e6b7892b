/**
 * The decider pattern for event-sourced aggregates: state is the fold (`evolve`) of a stream's
 * events over an initial state; a command is decided against that state into new events, which are
 * appended with the version the state was read at. A concurrent writer makes the append fail with
 * a `WrongExpectedVersionError`; {@link handleCommand} then reads, decides and appends again.
 */
import { ConfigurationError } from '@herald/bus';
import { WrongExpectedVersionError } from './errors.ts';
import type { EventStore, EventToAppend, RecordedEvent } from './types.ts';
import { READ_COUNT_MAX } from './types.ts';

/** An aggregate as three functions: the initial state, how an event changes it, and what a command decides. */
export interface Decider<Command, State> {
  /** The state of a stream without events. */
  initialState(): State;
  /** The state after `event`; pure, it runs on every read. */
  evolve(state: State, event: RecordedEvent): State;
  /** The events `command` produces in `state` (none is fine); throw to refuse the command. */
  decide(command: Command, state: State): readonly EventToAppend[];
}

/** Identity helper that types a decider. */
export function decider<Command, State>(definition: Decider<Command, State>): Decider<Command, State> {
  return definition;
}

/** Folds every event of `stream` into the decider's state; resolves the state and the stream's version. */
export async function aggregateState<State>(
  store: Pick<EventStore, 'readStream'>,
  stream: string,
  definition: Decider<never, State>,
): Promise<{ state: State; version: number }> {
  let state = definition.initialState();
  let version = 0;
  for (;;) {
    const events = await store.readStream(stream, { fromVersion: version + 1, countMax: READ_COUNT_MAX });
    for (const event of events) state = definition.evolve(state, event);
    version += events.length;
    if (events.length < READ_COUNT_MAX) return { state, version };
  }
}

/** Default attempts of {@link handleCommand} when appends keep conflicting. */
export const COMMAND_ATTEMPTS_DEFAULT = 5;

/**
 * Reads `stream`'s state, decides `command` and appends the events with the version it read;
 * on a conflict, does it all again, up to `attemptsMax` times (default 5, at most 100), then
 * rethrows the `WrongExpectedVersionError`. Resolves the new state, version and the events appended.
 */
export async function handleCommand<Command, State>(
  store: Pick<EventStore, 'readStream' | 'appendToStream'>,
  stream: string,
  definition: Decider<Command, State>,
  command: Command,
  options: { readonly attemptsMax?: number } = {},
): Promise<{ state: State; version: number; events: readonly EventToAppend[] }> {
  const attemptsMax = options.attemptsMax ?? COMMAND_ATTEMPTS_DEFAULT;
  if (!Number.isInteger(attemptsMax) || attemptsMax < 1 || attemptsMax > 100) {
    throw new ConfigurationError(
      `handleCommand: attemptsMax must be an integer from 1 to 100, got ${attemptsMax}`,
    );
  }
  for (let attempt = 1; ; attempt++) {
    const { state, version } = await aggregateState(store, stream, definition as Decider<never, State>);
    const events = definition.decide(command, state);
    if (events.length === 0) return { state, version, events };
    try {
      await store.appendToStream(stream, events, { expectedVersion: version });
      const after = await store.readStream(stream, { fromVersion: version + 1, countMax: events.length });
      let next = state;
      for (const event of after) next = definition.evolve(next, event);
      return { state: next, version: version + after.length, events };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) || attempt >= attemptsMax) throw error;
    }
  }
}
