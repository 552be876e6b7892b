/**
 * Request/reply over any transport: each bus instance owns a reply topic
 * (`herald.replies.<instance id>`), a request carries it in the CloudEvents `replyto` attribute,
 * and the replier publishes the result there with `causationid` = the request's id. Receiving a
 * reply is a CONSUMER span `process herald.replies.<instance id>`, child of the reply's send span.
 */
import type { Span } from '@opentelemetry/api';
import { decodeEnvelope, type Envelope } from './envelope.ts';
import { ConfigurationError, HeraldError, RemoteError, TimeoutError } from './errors.ts';
import type { Logger } from './logger.ts';
import { recordFailure, startProcess } from './tracing.ts';
import type { ReceivedMessage, Subscription, Transport } from './transport.ts';

/** Most requests one bus may have waiting for a reply; more reject at once. */
export const PENDING_REQUESTS_MAX = 10_000;
/** Longest accepted request timeout. */
export const REQUEST_TIMEOUT_MS_MAX = 10 * 60 * 1000;

/** Extension attributes of an error reply. */
export const REPLY_ERROR_NAME = 'errorname';
export const REPLY_ERROR_MESSAGE = 'errormessage';

interface Waiting {
  readonly resolve: (envelope: Envelope) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Who receives the replies: the requesting bus's `messaging.system` and CloudEvents source. */
export interface ReplyReceiver {
  readonly system: string;
  readonly source: string;
}

/** Tracks this bus's outstanding requests and receives their replies. */
export class ReplyInbox {
  readonly topic: string;
  readonly #group: string;
  readonly #transport: Transport;
  readonly #logger: Logger;
  readonly #receiver: ReplyReceiver;
  readonly #waiting = new Map<string, Waiting>();
  #subscription: Promise<Subscription> | undefined;
  /** Replies that arrived after their request had timed out or been cancelled. */
  lateReplies = 0;

  constructor(transport: Transport, instanceId: string, logger: Logger, receiver: ReplyReceiver) {
    this.#transport = transport;
    this.#logger = logger;
    this.#receiver = receiver;
    this.topic = `herald.replies.${instanceId}`;
    this.#group = `herald.replies.${instanceId}`;
  }

  /** Subscribes to the reply topic on first use. */
  ready(): Promise<Subscription> {
    this.#subscription ??= this.#transport.subscribe(
      { topic: this.topic, group: this.#group, inFlightMax: 256 },
      async (message) => {
        this.#receive(message);
        await message.ack();
      },
    );
    return this.#subscription;
  }

  /** Settles the request `message` answers, in a CONSUMER span of its own. */
  #receive(message: ReceivedMessage): void {
    let envelope: Envelope | undefined;
    let undecodable: unknown;
    try {
      envelope = decodeEnvelope(message);
    } catch (error) {
      undecodable = error;
    }
    const { system, source } = this.#receiver;
    // Its parent is the reply's send span (carried in the reply), which the replier's handler run
    // caused: the request, its handling and its reply stay one trace.
    const { span } = startProcess(system, source, this.#group, message, envelope);
    try {
      if (envelope === undefined) {
        recordFailure(span, undecodable);
        this.#logger.warn({ topic: this.topic, error: String(undecodable) }, 'undecodable reply dropped');
      } else {
        this.#settle(envelope, span);
      }
    } finally {
      span.end();
    }
  }

  /** Registers request `id` and resolves with its reply envelope, or rejects on timeout or error reply. */
  expect(id: string, type: string, timeoutMs: number): Promise<Envelope> {
    if (this.#waiting.size >= PENDING_REQUESTS_MAX) {
      return Promise.reject(
        new HeraldError(
          'HERALD_TRANSPORT',
          `${PENDING_REQUESTS_MAX} requests are already waiting; slow down`,
          {
            retriable: true,
          },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new TimeoutError(`no reply to "${type}" ${id} within ${timeoutMs} ms; is a replier running?`));
      }, timeoutMs);
      this.#waiting.set(id, { resolve, reject, timer });
    });
  }

  /** Forgets a request whose publish failed. */
  cancel(id: string): void {
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return;
    clearTimeout(waiting.timer);
    this.#waiting.delete(id);
  }

  /** Rejects every waiting request with `error` and closes the subscription. */
  async close(error: Error): Promise<void> {
    for (const waiting of this.#waiting.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
    }
    this.#waiting.clear();
    const subscription = await this.#subscription?.catch(() => undefined);
    await subscription?.close();
  }

  #settle(envelope: Envelope, span: Span): void {
    const id = envelope.causationid;
    const waiting = id === undefined ? undefined : this.#waiting.get(id);
    if (waiting === undefined || id === undefined) {
      this.lateReplies += 1; // A reply to a request that timed out: dropped, but counted.
      if (span.isRecording()) span.setAttribute('herald.reply.late', true);
      return;
    }
    this.#waiting.delete(id);
    clearTimeout(waiting.timer);
    const errorName = envelope.extensions[REPLY_ERROR_NAME];
    if (errorName === undefined) {
      waiting.resolve(envelope);
      return;
    }
    const error = new RemoteError(errorName, envelope.extensions[REPLY_ERROR_MESSAGE] ?? '');
    recordFailure(span, error);
    waiting.reject(error);
  }
}

/** `timeoutMs` when it is a request timeout in (0, {@link REQUEST_TIMEOUT_MS_MAX}]; throws `ConfigurationError` otherwise. */
export function checkRequestTimeout(timeoutMs: number): number {
  if (!(timeoutMs > 0 && timeoutMs <= REQUEST_TIMEOUT_MS_MAX)) {
    throw new ConfigurationError(
      `request: timeoutMs must be in (0, ${REQUEST_TIMEOUT_MS_MAX}], got ${timeoutMs}`,
    );
  }
  return timeoutMs;
}
