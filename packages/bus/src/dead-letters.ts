/**
 * `bus.deadLetters`: list what was dead-lettered and redrive it. A redrive republishes the original
 * message (same body, headers and CloudEvents id) to its original topic, addressed to the group
 * that failed it, and then records a tombstone on the dead-letter topic so the same dead letter is
 * never redriven twice.
 *
 * Reading works on transports that replay to new groups (embedded, memory, Kafka): a reader joins
 * a fresh group, publishes a marker with the dead-letter key, and reads until the marker.
 */
import {
  DEAD_LETTER_HEADER_PREFIX,
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_KEY,
  type DeadLetterReason,
  TARGET_GROUP_HEADER,
} from './dead-letter.ts';
import { decodeEnvelope, type Envelope, type TransportMessage } from './envelope.ts';
import { ConfigurationError, TimeoutError } from './errors.ts';
import { endWhenSettled, messagingSystem, redriveTrace } from './tracing.ts';
import { replaysToNewGroup, type Transport } from './transport.ts';
import { uuidv7 } from './uuid.ts';

/** Header of a reader's end marker on a dead-letter topic. */
const MARKER_HEADER = 'herald_dlq_marker';
/** Header of a tombstone: the dead-letter id that was redriven. */
const REDRIVEN_HEADER = 'herald_dlq_redriven';
/** Most dead letters one list or redrive reads. */
export const DEAD_LETTERS_READ_MAX = 100_000;
/** How long a read may take before it gives up. */
const READ_TIMEOUT_MS = 60_000;

/** One dead letter, as listed. */
export interface DeadLetter {
  /** Unique id of this dead letter. */
  readonly deadLetterId: string;
  /** The topic the original was consumed from. */
  readonly topic: string;
  /** The group that failed it. */
  readonly group: string;
  readonly reason: DeadLetterReason;
  readonly errorName: string;
  readonly errorMessage: string;
  readonly attempts: number;
  readonly firstFailedAt: string;
  readonly lastFailedAt: string;
  /** The decoded envelope, when the original was a valid CloudEvent. */
  readonly envelope: Envelope | undefined;
  /** The dead letter as stored (original body and headers, plus the `herald_dlq_*` headers). */
  readonly message: TransportMessage;
}

/** Selects dead letters. */
export interface DeadLetterQuery {
  /** The original topic (its dead-letter topic is read). */
  readonly topic: string;
  /** Only dead letters of this group. */
  readonly group?: string;
  /** Any further condition. */
  readonly filter?: (deadLetter: DeadLetter) => boolean;
  /** Return at most this many (default 1000). */
  readonly limit?: number;
}

/** The dead-letter API of a bus. */
export interface DeadLetters {
  /** Dead letters of `query.topic` not yet redriven, oldest first. */
  list(query: DeadLetterQuery): Promise<DeadLetter[]>;
  /** Republishes the matching dead letters to their original topic, for their group only. */
  redrive(query: DeadLetterQuery): Promise<{ readonly redriven: number }>;
}

/** Builds the dead-letter API over `transport`. */
export function deadLetters(
  transport: Transport,
  deadLetterTopic: (topic: string) => string,
  source = '',
): DeadLetters {
  const list = async (query: DeadLetterQuery): Promise<DeadLetter[]> => {
    const limit = query.limit ?? 1000;
    const all = await readPending(transport, deadLetterTopic(query.topic));
    return all
      .filter((entry) => query.group === undefined || entry.group === query.group)
      .filter((entry) => query.filter === undefined || query.filter(entry))
      .slice(0, limit);
  };
  return {
    list,
    async redrive(query) {
      const chosen = await list(query);
      const topic = deadLetterTopic(query.topic);
      for (const entry of chosen) {
        const message = original(entry);
        // A new send that links the original producer (the redrive is another cause of work).
        const span = redriveTrace(
          messagingSystem(transport.name),
          source,
          entry.topic,
          message.headers,
          message.key,
        );
        await endWhenSettled(span, transport.publish(entry.topic, [message]));
        // The tombstone comes second: a crash between the two redrives again, and idempotent
        // consumers drop the duplicate; the reverse order could lose the message.
        await transport.publish(topic, [
          {
            key: DEAD_LETTER_KEY,
            headers: { [REDRIVEN_HEADER]: entry.deadLetterId },
            body: new Uint8Array(0),
          },
        ]);
      }
      return { redriven: chosen.length };
    },
  };
}

function original(entry: DeadLetter): TransportMessage & { readonly headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(entry.message.headers)) {
    if (!name.startsWith(DEAD_LETTER_HEADER_PREFIX)) headers[name] = value;
  }
  headers[TARGET_GROUP_HEADER] = entry.group;
  return { key: entry.message.headers[DEAD_LETTER_HEADERS.key], headers, body: entry.message.body };
}

/** Reads a dead-letter topic up to a fresh marker, dropping markers, tombstones and redriven letters. */
async function readPending(transport: Transport, topic: string): Promise<DeadLetter[]> {
  if (!replaysToNewGroup(transport.features, topic)) {
    throw new ConfigurationError(
      `the ${transport.name} transport does not replay "${topic}" to new groups, so Herald cannot read dead letters ` +
        `through it; read "${topic}" with the broker's own tools`,
    );
  }
  const marker = uuidv7();
  const entries: DeadLetter[] = [];
  const redriven = new Set<string>();
  const done = Promise.withResolvers<void>();
  let count = 0;
  const subscription = await transport.subscribe(
    { topic, group: `herald.dlq-reader.${marker}`, inFlightMax: 64 },
    async (message) => {
      await message.ack();
      count += 1;
      if (message.headers[MARKER_HEADER] === marker || count > DEAD_LETTERS_READ_MAX) return done.resolve();
      const tombstone = message.headers[REDRIVEN_HEADER];
      if (tombstone !== undefined) redriven.add(tombstone);
      else if (message.headers[MARKER_HEADER] === undefined) entries.push(toDeadLetter(message));
    },
  );
  const timer = setTimeout(
    () => done.reject(new TimeoutError(`reading dead letters of "${topic}" took over ${READ_TIMEOUT_MS} ms`)),
    READ_TIMEOUT_MS,
  );
  try {
    await transport.publish(topic, [
      { key: DEAD_LETTER_KEY, headers: { [MARKER_HEADER]: marker }, body: new Uint8Array(0) },
    ]);
    await done.promise;
  } finally {
    clearTimeout(timer);
    await subscription.close();
  }
  return entries.filter((entry) => !redriven.has(entry.deadLetterId));
}

function toDeadLetter(message: TransportMessage): DeadLetter {
  const header = (name: string) => message.headers[name] ?? '';
  let envelope: Envelope | undefined;
  try {
    envelope = decodeEnvelope(message);
  } catch {
    envelope = undefined; // Undecodable originals are listed with their raw bytes.
  }
  return {
    deadLetterId: header(DEAD_LETTER_HEADERS.id),
    topic: header(DEAD_LETTER_HEADERS.topic),
    group: header(DEAD_LETTER_HEADERS.group),
    reason: header(DEAD_LETTER_HEADERS.reason) as DeadLetterReason,
    errorName: header(DEAD_LETTER_HEADERS.errorName),
    errorMessage: header(DEAD_LETTER_HEADERS.errorMessage),
    attempts: Number(header(DEAD_LETTER_HEADERS.attempts)),
    firstFailedAt: header(DEAD_LETTER_HEADERS.firstFailedAt),
    lastFailedAt: header(DEAD_LETTER_HEADERS.lastFailedAt),
    envelope,
    message: { key: message.key, headers: { ...message.headers }, body: message.body },
  };
}
