/**
 * Between typed events and what backends store: payloads are validated against their contract on
 * append and stored as JSON text with the contract version they were written at; on read they are
 * upcast to the contract's current version (the bus's upcasters, the same as on consume).
 */
import { ConfigurationError, type EventContract, uuidv7, validate } from '@herald/bus';
import { upcast } from '@herald/bus/internal';
import { APPEND_COUNT_MAX, type EventToAppend, type RecordedEvent } from './types.ts';

/** An event ready to store: validated, serialised, its id chosen. */
export interface EncodedEvent {
  readonly id: string;
  readonly type: string;
  /** The contract version the payload was written at. */
  readonly schemaVersion: number;
  /** The payload as JSON text. */
  readonly data: string;
  /** The metadata as JSON text (`{}` when none). */
  readonly metadata: string;
}

/** An event as a backend returns it, before decoding. */
export interface StoredEvent extends EncodedEvent {
  readonly stream: string;
  readonly version: number;
  readonly position: bigint;
  readonly recordedAtMs: number;
}

/** Longest stream name, in UTF-16 code units. */
export const STREAM_NAME_LENGTH_MAX = 200;

/** Refuses a stream name that is empty, too long or has control characters. */
export function assertStreamName(stream: unknown): asserts stream is string {
  const valid =
    typeof stream === 'string' &&
    stream.length > 0 &&
    stream.length <= STREAM_NAME_LENGTH_MAX &&
    ![...stream].some((char) => char.charCodeAt(0) < 0x20);
  if (!valid) {
    throw new ConfigurationError(
      `stream name must be 1 to ${STREAM_NAME_LENGTH_MAX} characters without control characters, ` +
        `got ${JSON.stringify(stream)}; use "<category>-<id>", e.g. "order-123"`,
    );
  }
}

/** Validates and serialises the events of one append. */
export async function encodeEvents(
  stream: string,
  events: readonly EventToAppend[],
): Promise<EncodedEvent[]> {
  assertStreamName(stream);
  if (!Array.isArray(events) || events.length === 0 || events.length > APPEND_COUNT_MAX) {
    throw new ConfigurationError(
      `appendToStream("${stream}") takes 1 to ${APPEND_COUNT_MAX} events, got ${Array.isArray(events) ? events.length : typeof events}; split larger appends`,
    );
  }
  const encoded: EncodedEvent[] = [];
  for (const event of events) {
    const contract = event.contract;
    const data = await validate(
      contract.schema,
      event.data,
      `"${contract.type}" event for stream "${stream}"`,
    );
    encoded.push({
      id: event.id ?? uuidv7(),
      type: contract.type,
      schemaVersion: contract.version,
      data: JSON.stringify(data),
      metadata: JSON.stringify(event.metadata ?? {}),
    });
  }
  return encoded;
}

/** Turns stored events into recorded ones, upcasting payloads of the contracts in `contracts`. */
export class EventDecoder {
  readonly #contracts = new Map<string, EventContract>();

  constructor(contracts: readonly EventContract[]) {
    for (const contract of contracts) this.#contracts.set(contract.type, contract);
  }

  /** Remembers the contract of an appended event, so reads upcast it without listing it up front. */
  learn(contract: EventContract): void {
    if (!this.#contracts.has(contract.type)) this.#contracts.set(contract.type, contract);
  }

  decode(stored: StoredEvent): RecordedEvent {
    const contract = this.#contracts.get(stored.type);
    const raw: unknown = JSON.parse(stored.data);
    const data = contract === undefined ? raw : upcast(contract, stored.schemaVersion, raw);
    return {
      id: stored.id,
      stream: stored.stream,
      version: stored.version,
      position: stored.position,
      type: stored.type,
      data,
      metadata: JSON.parse(stored.metadata) as Record<string, string>,
      recordedAtMs: stored.recordedAtMs,
    };
  }
}

/** Whether `stream` belongs to `category` (`order` or `order-*` matches `order-123`); undefined matches all. */
export function inCategory(stream: string, category: string | undefined): boolean {
  if (category === undefined) return true;
  const prefix = category.endsWith('-*') ? category.slice(0, -1) : `${category}-`;
  return stream.startsWith(prefix);
}

/** A typed view of a recorded event when it is of `contract`'s type. */
export function isEvent<C extends EventContract>(
  contract: C,
  event: RecordedEvent,
): event is RecordedEvent<import('@herald/bus').PayloadOf<C>> {
  return event.type === contract.type;
}
