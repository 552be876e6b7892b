/**
 * `memoryTransport()`: an in-process transport for unit tests and examples. It honours the whole
 * Transport contract (groups, competing consumers, per-key order, ack/nack and redelivery) but
 * keeps everything in memory: nothing survives the process.
 */

import { messageSizeBytes, type TransportMessage } from './envelope.ts';
import { ClosedError, PayloadTooLargeError, TransportError } from './errors.ts';
import { assertTopicName } from './names.ts';
import type {
  MessageHandler,
  ReceivedMessage,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportFeatures,
} from './transport.ts';
import { assertSubscribeOptions } from './transport-checks.ts';

/** Options of {@link memoryTransport}. */
export interface MemoryTransportOptions {
  /** Largest message accepted (default 1 MiB). */
  readonly maxMessageBytes?: number;
  /** Messages retained per topic; publishing beyond it rejects (default 100,000). */
  readonly maxMessagesPerTopic?: number;
}

/** How many unsettled messages one group tracks at once; later ones wait in the topic's log. */
const GROUP_WINDOW_MAX = 10_000;

interface StoredMessage extends TransportMessage {
  readonly sequence: number;
  readonly timestampMs: number;
}

interface Member {
  readonly handler: MessageHandler;
  readonly maxInFlight: number;
  inFlight: number;
  closed: boolean;
}

interface Pending {
  readonly stored: StoredMessage;
  attempt: number;
  notBeforeMs: number;
  /** The member holding it, or null when it waits for delivery. */
  holder: Member | null;
  /** Changes on every delivery, so a settlement from an earlier delivery is recognised as stale. */
  deliveryToken: number;
}

interface Group {
  readonly topic: string;
  readonly name: string;
  /** Index in the topic log of the next message to bring into the window. */
  cursor: number;
  readonly window: Pending[];
  readonly members: Member[];
  nextMember: number;
  timer: NodeJS.Timeout | undefined;
  timerDueMs: number;
  pumping: boolean;
  pumpAgain: boolean;
}

interface Topic {
  readonly log: StoredMessage[];
  readonly groups: Map<string, Group>;
}

/** Creates an in-memory transport. Each call is an independent broker. */
export function memoryTransport(options: MemoryTransportOptions = {}): Transport {
  return new MemoryTransport(options);
}

class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly features: TransportFeatures;
  readonly #maxMessagesPerTopic: number;
  readonly #topics = new Map<string, Topic>();
  #closed = false;
  #deliveryTokens = 0;

  constructor(options: MemoryTransportOptions) {
    this.features = {
      consumerGroups: true,
      persistent: false,
      replaysToNewGroups: true,
      orderedPerKey: true,
      exactlyOnce: false,
      maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
    };
    this.#maxMessagesPerTopic = options.maxMessagesPerTopic ?? 100_000;
  }

  async publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    if (this.#closed) throw new ClosedError('memory transport');
    assertTopicName(topic, 'publish');
    for (const message of messages) {
      const size = messageSizeBytes(message);
      if (size > this.features.maxMessageBytes)
        throw new PayloadTooLargeError(topic, size, this.features.maxMessageBytes);
    }
    const state = this.#topic(topic);
    if (state.log.length + messages.length > this.#maxMessagesPerTopic) {
      throw new TransportError(
        `memory transport: topic "${topic}" holds ${state.log.length} messages, its limit is ` +
          `${this.#maxMessagesPerTopic}; raise maxMessagesPerTopic or use the embedded transport`,
        { retriable: false },
      );
    }
    const timestampMs = Date.now();
    for (const message of messages) {
      state.log.push({
        key: message.key,
        headers: { ...message.headers },
        body: message.body.slice(),
        sequence: state.log.length,
        timestampMs,
      });
    }
    for (const group of state.groups.values()) this.#pump(group);
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('memory transport');
    assertSubscribeOptions(options);
    const state = this.#topic(options.topic);
    let group = state.groups.get(options.group);
    if (group === undefined) {
      group = {
        topic: options.topic,
        name: options.group,
        cursor: 0,
        window: [],
        members: [],
        nextMember: 0,
        timer: undefined,
        timerDueMs: Number.POSITIVE_INFINITY,
        pumping: false,
        pumpAgain: false,
      };
      state.groups.set(options.group, group);
    }
    const member: Member = { handler, maxInFlight: options.maxInFlight, inFlight: 0, closed: false };
    group.members.push(member);
    this.#pump(group);
    const owner = group;
    return { close: async () => this.#leave(owner, member) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const topic of this.#topics.values()) {
      for (const group of topic.groups.values()) {
        for (const member of [...group.members]) this.#leave(group, member);
        clearTimeout(group.timer);
      }
    }
  }

  #topic(name: string): Topic {
    let topic = this.#topics.get(name);
    if (topic === undefined) {
      topic = { log: [], groups: new Map() };
      this.#topics.set(name, topic);
    }
    return topic;
  }

  #leave(group: Group, member: Member): void {
    if (member.closed) return;
    member.closed = true;
    group.members.splice(group.members.indexOf(member), 1);
    for (const pending of group.window) {
      if (pending.holder === member) this.#release(pending);
    }
    if (!this.#closed) this.#pump(group);
  }

  /** Returns a delivered message to the waiting state, counting the delivery as an attempt. */
  #release(pending: Pending, delayMs = 0): void {
    if (pending.holder !== null) pending.holder.inFlight -= 1;
    pending.holder = null;
    pending.attempt += 1;
    pending.notBeforeMs = Date.now() + delayMs;
  }

  /**
   * Delivers every message that may go now. Runs the scan again instead of re-entering, so a
   * handler that settles synchronously cannot corrupt the window while it is being walked.
   */
  #pump(group: Group): void {
    if (this.#closed) return;
    if (group.pumping) {
      group.pumpAgain = true;
      return;
    }
    group.pumping = true;
    try {
      do {
        group.pumpAgain = false;
        this.#scan(group);
      } while (group.pumpAgain && !this.#closed);
    } finally {
      group.pumping = false;
    }
  }

  #scan(group: Group): void {
    const log = this.#topics.get(group.topic)!.log;
    while (group.window.length < GROUP_WINDOW_MAX && group.cursor < log.length) {
      const stored = log[group.cursor++]!;
      group.window.push({ stored, attempt: 1, notBeforeMs: 0, holder: null, deliveryToken: 0 });
    }
    const nowMs = Date.now();
    const blockedKeys = new Set<string>();
    let nextDueMs = Number.POSITIVE_INFINITY;
    for (const pending of group.window) {
      const key = pending.stored.key;
      if (key !== undefined && blockedKeys.has(key)) continue;
      if (key !== undefined) blockedKeys.add(key); // Later messages of this key wait for this one.
      if (pending.holder !== null) continue;
      if (pending.notBeforeMs > nowMs) {
        nextDueMs = Math.min(nextDueMs, pending.notBeforeMs);
        continue;
      }
      const member = this.#memberWithRoom(group);
      if (member === undefined) break;
      this.#deliver(group, pending, member);
    }
    this.#schedule(group, nextDueMs);
  }

  #memberWithRoom(group: Group): Member | undefined {
    for (let tried = 0; tried < group.members.length; tried++) {
      const member = group.members[group.nextMember % group.members.length]!;
      group.nextMember = (group.nextMember + 1) % group.members.length;
      if (member.inFlight < member.maxInFlight) return member;
    }
    return undefined;
  }

  #schedule(group: Group, dueMs: number): void {
    if (dueMs === Number.POSITIVE_INFINITY || dueMs >= group.timerDueMs) return;
    clearTimeout(group.timer);
    group.timerDueMs = dueMs;
    group.timer = setTimeout(
      () => {
        group.timer = undefined;
        group.timerDueMs = Number.POSITIVE_INFINITY;
        this.#pump(group);
      },
      Math.max(0, dueMs - Date.now()),
    );
  }

  #deliver(group: Group, pending: Pending, member: Member): void {
    pending.holder = member;
    member.inFlight += 1;
    const token = ++this.#deliveryTokens;
    pending.deliveryToken = token;
    const stored = pending.stored;
    const isCurrent = () => !this.#closed && pending.holder === member && pending.deliveryToken === token;
    const message: ReceivedMessage = {
      topic: group.topic,
      partition: 0,
      offset: String(stored.sequence),
      key: stored.key,
      headers: stored.headers,
      body: stored.body,
      deliveryAttempt: pending.attempt,
      timestampMs: stored.timestampMs,
      ack: async () => {
        if (!isCurrent()) return;
        member.inFlight -= 1;
        pending.holder = null;
        pending.deliveryToken = 0;
        group.window.splice(group.window.indexOf(pending), 1);
        this.#pump(group);
      },
      nack: async (options) => {
        if (!isCurrent()) return;
        this.#release(pending, Math.max(0, options?.delayMs ?? 0));
        this.#pump(group);
      },
    };
    queueMicrotask(() => {
      member.handler(message).catch(() => message.nack());
    });
  }
}
