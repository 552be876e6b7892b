/**
 * Typed errors of the broker. Each is a `HeraldError` (so callers matching on the bus's stable
 * `code` keep working) with a broker-specific `reason` from {@link BROKER_ERROR_REASONS}, and a
 * message that says what went wrong and what to do.
 */
import { HeraldError, type HeraldErrorCode } from '@herald/errors';

/** Stable broker-specific reasons. Match on these (or on the class), never on messages. */
export const BROKER_ERROR_REASONS = [
  'BROKER_TOPIC_NOT_FOUND',
  'BROKER_TOPIC_EXISTS',
  'BROKER_TOPIC_IN_USE',
  'BROKER_GROUP_ACTIVE',
  'BROKER_LOCKED',
  'BROKER_INVALID_ARGUMENT',
  'BROKER_CORRUPT',
  'BROKER_STORAGE',
] as const;

/** One of {@link BROKER_ERROR_REASONS}. */
export type BrokerErrorReason = (typeof BROKER_ERROR_REASONS)[number];

/** Options of {@link BrokerError}. */
export interface BrokerErrorOptions {
  readonly retriable?: boolean;
  readonly cause?: unknown;
}

/** Base class of every error the broker throws on purpose. */
export class BrokerError extends HeraldError {
  /** Broker-specific stable reason. */
  readonly reason: BrokerErrorReason;

  constructor(
    code: HeraldErrorCode,
    reason: BrokerErrorReason,
    message: string,
    options: BrokerErrorOptions = {},
  ) {
    super(code, message, options);
    this.reason = reason;
  }
}

/** A topic does not exist and automatic creation is off. */
export class TopicNotFoundError extends BrokerError {
  readonly topic: string;

  constructor(topic: string, context: string) {
    super(
      'HERALD_CONFIGURATION',
      'BROKER_TOPIC_NOT_FOUND',
      `${context}: topic "${topic}" does not exist and automatic topic creation is off; ` +
        'create it first with broker.createTopic() or open the broker with autoCreateTopics: true',
    );
    this.topic = topic;
  }
}

/** `createTopic` on a name that is taken. */
export class TopicExistsError extends BrokerError {
  readonly topic: string;

  constructor(topic: string, partitions: number) {
    super(
      'HERALD_CONFIGURATION',
      'BROKER_TOPIC_EXISTS',
      `createTopic: topic "${topic}" already exists with ${partitions} partitions; ` +
        'use it as it is, or delete it first (deleting removes its messages and group positions)',
    );
    this.topic = topic;
  }
}

/** `deleteTopic` while subscribers read the topic. */
export class TopicInUseError extends BrokerError {
  readonly topic: string;

  constructor(topic: string, groups: readonly string[]) {
    super(
      'HERALD_CONFIGURATION',
      'BROKER_TOPIC_IN_USE',
      `deleteTopic: topic "${topic}" has live subscribers in group(s) ${groups.map((group) => `"${group}"`).join(', ')}; ` +
        'close those subscriptions first, then delete the topic',
    );
    this.topic = topic;
  }
}

/** A group position change while the group has live members. */
export class GroupActiveError extends BrokerError {
  readonly group: string;

  constructor(group: string, topic: string, members: number) {
    super(
      'HERALD_CONFIGURATION',
      'BROKER_GROUP_ACTIVE',
      `resetGroup: group "${group}" has ${members} live subscriber(s) on topic "${topic}"; ` +
        'close its subscriptions first, then reset its position',
    );
    this.group = group;
  }
}

/** Another broker (in this or another process) holds the data directory. */
export class DirectoryLockedError extends BrokerError {
  /** The locked data directory (absolute). */
  readonly dir: string;
  /** The pid of the process holding the lock, or undefined when it is not known. */
  readonly pid: number | undefined;

  constructor(dir: string, pid: number | undefined, detail: string, cause: unknown) {
    super('HERALD_TRANSPORT', 'BROKER_LOCKED', `cannot open broker at ${dir}: ${detail}`, {
      retriable: true,
      cause,
    });
    this.dir = dir;
    this.pid = pid;
  }
}

/** A wrong argument to a broker API (bad partition count, offset out of range…). */
export class BrokerArgumentError extends BrokerError {
  constructor(message: string) {
    super('HERALD_CONFIGURATION', 'BROKER_INVALID_ARGUMENT', message);
  }
}

/** A broker metadata or offsets file is damaged. */
export class BrokerCorruptError extends BrokerError {
  constructor(message: string) {
    super('HERALD_TRANSPORT', 'BROKER_CORRUPT', message);
  }
}

/** The disk refused a broker operation; the message carries the file-system detail. */
export class BrokerStorageError extends BrokerError {
  constructor(message: string, cause: unknown, retriable = false) {
    super('HERALD_TRANSPORT', 'BROKER_STORAGE', message, { cause, retriable });
  }
}
