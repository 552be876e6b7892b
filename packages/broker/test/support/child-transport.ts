/**
 * A test-only `Transport` whose embedded broker lives in a child process
 * (`fixtures/transport-host.ts`), so a test can kill -9 the process holding the data directory and
 * open it again: the conformance suite's restart then is a crash, not a clean close.
 *
 * The proxy implements the Transport contract member by member over IPC (`child_process.fork`
 * with `serialization: 'advanced'`, so bodies travel as Uint8Array):
 * - `features` and `name` are the child's;
 * - `publish`, `subscribe` and subscription `close` resolve when the child's call resolved, and
 *   reject with the child's error rebuilt as the same Herald error class (code, retriable, message);
 * - each delivery becomes a `ReceivedMessage` whose `ack`/`nack` resolve once the child's settle
 *   resolved (so an ack that resolved is as durable as the embedded transport makes it); settling
 *   twice, after the subscription closed or after `close()` is a no-op; a rejected handler nacks;
 * - after `close()`, `publish` and `subscribe` reject with `ClosedError`; `close()` resolves once
 *   the child closed its transport and exited.
 *
 * Every request has a deadline. A child that dies (or is killed by {@link ChildTransport.kill})
 * rejects every pending request with a retriable `TransportError`, and later requests fail the
 * same way instead of hanging.
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import {
  type CancelOutcome,
  ClosedError,
  ConfigurationError,
  HeraldError,
  type HeraldErrorCode,
  type MessageHandler,
  PayloadTooLargeError,
  type ReceivedMessage,
  type SubscribeOptions,
  type Subscription,
  TimeoutError,
  type Transport,
  TransportError,
  type TransportFeatures,
  type TransportMessage,
  type TransportScheduler,
} from '@herald/bus';
import { withDeadline } from '@herald/test-support';

/** Faults the host child injects on purpose (`HERALD_TEST_FAULT`); each must turn a test red. */
export type TransportHostFault =
  /** `ack()` resolves at once; the broker settles the message 200 ms later. */
  | 'ack-late'
  /** The child never answers `publish`, so the proxy's request deadline must fire. */
  | 'publish-stalls';

/** A delivered message as it crosses the IPC channel (everything but `ack` and `nack`). */
export type DeliveredFields = Omit<ReceivedMessage, 'ack' | 'nack'>;

/** What the parent asks of the child, before the proxy gives the request its id. */
export type HostRequestBody =
  | { readonly op: 'publish'; readonly topic: string; readonly messages: readonly TransportMessage[] }
  | { readonly op: 'subscribe'; readonly subscriptionId: number; readonly options: SubscribeOptions }
  | { readonly op: 'unsubscribe'; readonly subscriptionId: number }
  | { readonly op: 'ack'; readonly deliveryId: number }
  | { readonly op: 'nack'; readonly deliveryId: number; readonly delayMs: number | undefined }
  | {
      readonly op: 'schedule';
      readonly topic: string;
      readonly message: TransportMessage;
      readonly deliverAtMs: number;
    }
  | { readonly op: 'cancel'; readonly scheduledId: string }
  | { readonly op: 'close' };

/** Parent → child. Every request is answered by one {@link HostReply} with its `id`. */
export type HostRequest = { readonly id: number } & HostRequestBody;

/** A Herald error (or any error) as it crosses the IPC channel. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code: HeraldErrorCode | undefined;
  readonly retriable: boolean;
  readonly sizeBytes: number | undefined;
  readonly limitBytes: number | undefined;
  readonly stack: string | undefined;
}

/** The answer to one request. */
export interface HostReply {
  readonly type: 'reply';
  readonly id: number;
  readonly error?: SerializedError;
  /** What the request resolved with, where it resolves with something (a cancel's outcome). */
  readonly value?: unknown;
}

/** Child → parent. */
export type HostEvent =
  | { readonly type: 'ready'; readonly name: string; readonly features: TransportFeatures }
  | { readonly type: 'failed'; readonly error: SerializedError }
  | HostReply
  | {
      readonly type: 'deliver';
      readonly subscriptionId: number;
      readonly deliveryId: number;
      readonly message: DeliveredFields;
    };

/** How long one request may wait for the child's answer. */
export const REQUEST_DEADLINE_MS = 10_000;
/** How long the child may take to open the broker and say it is ready. */
const READY_DEADLINE_MS = 20_000;
/** How long the child may take to exit after closing, or after SIGKILL. */
const EXIT_DEADLINE_MS = 10_000;

const HOST_SCRIPT = path.join(import.meta.dirname, '..', 'fixtures', 'transport-host.ts');

/** Turns any thrown value into its IPC form. */
export function serializeError(error: unknown): SerializedError {
  const herald = error instanceof HeraldError ? error : undefined;
  const tooLarge = error instanceof PayloadTooLargeError ? error : undefined;
  return {
    name: error instanceof Error ? error.name : 'Error',
    message: error instanceof Error ? error.message : String(error),
    code: herald?.code,
    retriable: herald?.retriable ?? false,
    sizeBytes: tooLarge?.sizeBytes,
    limitBytes: tooLarge?.limitBytes,
    stack: error instanceof Error ? error.stack : undefined,
  };
}

/**
 * Rebuilds a serialized error as the class a caller checks with `instanceof` (the ones the
 * Transport contract names, plus `TransportError` and `TimeoutError`); any other Herald error
 * keeps its code, name and retriable flag on a `HeraldError`. The child's stack is the `cause`.
 */
export function deserializeError(serialized: SerializedError): Error {
  const cause = { childStack: serialized.stack };
  let error: Error;
  if (serialized.name === 'PayloadTooLargeError') {
    error = new PayloadTooLargeError('', serialized.sizeBytes ?? 0, serialized.limitBytes ?? 0);
  } else if (serialized.name === 'ClosedError') {
    error = new ClosedError('embedded transport');
  } else if (serialized.name === 'ConfigurationError') {
    error = new ConfigurationError(serialized.message, { cause });
  } else if (serialized.name === 'TransportError') {
    error = new TransportError(serialized.message, { cause, retriable: serialized.retriable });
  } else if (serialized.name === 'TimeoutError') {
    error = new TimeoutError(serialized.message);
  } else if (serialized.code !== undefined) {
    error = new HeraldError(serialized.code, serialized.message, { cause, retriable: serialized.retriable });
    error.name = serialized.name;
  } else {
    error = new Error(serialized.message, { cause });
    error.name = serialized.name;
  }
  error.message = serialized.message;
  return error;
}

/** Options of {@link startChildTransport}. */
export interface ChildTransportOptions {
  /** The broker's data directory. */
  readonly dir: string;
  /** A fault for the child to inject (see {@link TransportHostFault}). */
  readonly fault?: TransportHostFault;
  /** Deadline of each request; default {@link REQUEST_DEADLINE_MS}. */
  readonly requestDeadlineMs?: number;
}

/** Starts a host child on `options.dir` and resolves with its proxy once its broker is open. */
export async function startChildTransport(options: ChildTransportOptions): Promise<ChildTransport> {
  const child = fork(HOST_SCRIPT, [options.dir], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, HERALD_TEST_FAULT: options.fault ?? '' },
  });
  const transport = new ChildTransport(child, options);
  await transport.ready;
  return transport;
}

interface Pending {
  readonly what: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface ProxySubscription {
  readonly handler: MessageHandler;
  /** Set when `close()` was called: deliveries still crossing the channel are dropped. */
  closing: boolean;
}

/** The parent-side proxy; see the module comment for the contract it keeps. */
export class ChildTransport implements Transport {
  name = 'embedded';
  features: TransportFeatures = {
    consumerGroups: false,
    persistent: false,
    replaysToNewGroups: false,
    orderedPerKey: false,
    exactlyOnce: false,
    messageBytesMax: 0,
  };
  /** The data directory the child holds. */
  readonly dir: string;
  /** The child's pid. */
  readonly pid: number;
  /** Resolves once the child's broker is open (rejects if it failed to open or died first). */
  readonly ready: Promise<void>;

  readonly #child: ChildProcess;
  readonly #requestDeadlineMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #subscriptions = new Map<number, ProxySubscription>();
  readonly #exited: Promise<void>;
  #exitedHow: string | undefined;
  #stderr = '';
  #nextRequestId = 0;
  #nextSubscriptionId = 0;
  #closeRequested = false;
  #closing: Promise<void> | undefined;

  constructor(child: ChildProcess, options: ChildTransportOptions) {
    this.#child = child;
    this.dir = options.dir;
    this.pid = child.pid ?? -1;
    this.#requestDeadlineMs = options.requestDeadlineMs ?? REQUEST_DEADLINE_MS;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    this.#exited = new Promise((resolve) => {
      const exited = (how: string) => {
        if (this.#exitedHow !== undefined) return;
        this.#exitedHow = how;
        this.#failPending();
        resolve();
      };
      child.once('exit', (code, signal) =>
        exited(signal === null ? `exited with code ${code}` : `was killed by ${signal}`),
      );
      // A child that could not be started never exits; other errors (a failed kill or send) are
      // reported where they happen.
      child.on('error', (error) => {
        if (child.pid === undefined) exited(`could not be started (${error.message})`);
      });
    });
    let readyResolve: () => void = () => {};
    let readyReject: (error: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    child.on('message', (event: HostEvent) => {
      if (event.type === 'ready') {
        this.name = event.name;
        this.features = event.features;
        readyResolve();
      } else if (event.type === 'failed') {
        readyReject(deserializeError(event.error));
      } else if (event.type === 'reply') {
        this.#onReply(event);
      } else {
        this.#onDeliver(event.subscriptionId, event.deliveryId, event.message);
      }
    });
    const diedFirst = this.#exited.then(() => {
      throw new TransportError(
        `transport host (pid ${this.pid}) ${this.#exitedHow} before its broker opened: ${this.#stderr}`,
      );
    });
    diedFirst.catch(() => {}); // Only observed through the race below.
    this.ready = withDeadline(
      Promise.race([ready, diedFirst]),
      READY_DEADLINE_MS,
      `the transport host on ${this.dir} to open its broker`,
    ).catch(async (error: unknown) => {
      await this.kill();
      throw error;
    });
  }

  async publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    if (this.#closeRequested) throw new ClosedError('embedded transport (child process)');
    await this.#request({ op: 'publish', topic, messages });
  }

  /** The child transport's scheduler, called across the channel. */
  readonly scheduler: TransportScheduler = {
    schedule: async (topic, message, deliverAtMs) => {
      if (this.#closeRequested) throw new ClosedError('embedded transport (child process)');
      await this.#request({ op: 'schedule', topic, message, deliverAtMs });
    },
    cancel: async (scheduledId) => {
      if (this.#closeRequested) throw new ClosedError('embedded transport (child process)');
      return (await this.#request({ op: 'cancel', scheduledId })) as CancelOutcome;
    },
  };

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    if (this.#closeRequested) throw new ClosedError('embedded transport (child process)');
    const subscriptionId = ++this.#nextSubscriptionId;
    const subscription: ProxySubscription = { handler, closing: false };
    // Registered before asking: the child may deliver before its subscribe resolved.
    this.#subscriptions.set(subscriptionId, subscription);
    const { topic, group, inFlightMax, types } = options;
    try {
      await this.#request({ op: 'subscribe', subscriptionId, options: { topic, group, inFlightMax, types } });
    } catch (error) {
      this.#subscriptions.delete(subscriptionId);
      throw error;
    }
    let closing: Promise<void> | undefined;
    return {
      close: () => {
        closing ??= this.#closeSubscription(subscriptionId, subscription);
        return closing;
      },
    };
  }

  /** Asks the child to close its transport, then waits for it to exit. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * Crashes the child: SIGKILL, no clean close, and waits until it exited. Every pending request
   * rejects with a retriable `TransportError`; afterwards the proxy behaves as closed.
   */
  async kill(): Promise<void> {
    if (this.#exitedHow === undefined) this.#child.kill('SIGKILL');
    await withDeadline(this.#exited, EXIT_DEADLINE_MS, `transport host ${this.pid} to exit after SIGKILL`);
    this.#closeRequested = true;
    this.#closing ??= Promise.resolve();
  }

  async #close(): Promise<void> {
    this.#closeRequested = true;
    let failure: unknown;
    if (this.#exitedHow === undefined) {
      try {
        await this.#request({ op: 'close' });
      } catch (error) {
        failure = error;
      }
    }
    try {
      await withDeadline(this.#exited, EXIT_DEADLINE_MS, `transport host ${this.pid} to exit after close`);
    } catch (error) {
      failure ??= error;
      await this.kill();
    }
    // A child that was already gone has nothing left to close.
    if (failure !== undefined && !(failure instanceof TransportError && this.#exitedHow !== undefined)) {
      throw failure;
    }
  }

  async #closeSubscription(subscriptionId: number, subscription: ProxySubscription): Promise<void> {
    subscription.closing = true;
    try {
      if (this.#closeRequested) return await this.close();
      await this.#request({ op: 'unsubscribe', subscriptionId });
    } catch (error) {
      // A child that died or closed delivers nothing more: the subscription is closed either way.
      if (this.#exitedHow === undefined && !this.#closeRequested) throw error;
    } finally {
      this.#subscriptions.delete(subscriptionId);
    }
  }

  #onDeliver(subscriptionId: number, deliveryId: number, fields: DeliveredFields): void {
    const subscription = this.#subscriptions.get(subscriptionId);
    // Closing: the child releases the message to the group when its subscription closes.
    if (subscription === undefined || subscription.closing || this.#closeRequested) return;
    let settled = false;
    const settle = async (request: HostRequestBody): Promise<void> => {
      if (settled || subscription.closing || this.#closeRequested) return;
      settled = true;
      await this.#request(request);
    };
    const message: ReceivedMessage = {
      ...fields,
      ack: () => settle({ op: 'ack', deliveryId }),
      nack: (options) => settle({ op: 'nack', deliveryId, delayMs: options?.delayMs }),
    };
    // A handler that throws gets its message nacked, as the embedded transport does.
    void Promise.resolve()
      .then(() => subscription.handler(message))
      .catch(() => message.nack().catch(() => {}));
  }

  #request(body: HostRequestBody): Promise<unknown> {
    if (this.#exitedHow !== undefined) return Promise.reject(this.#diedError(body.op));
    const id = ++this.#nextRequestId;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new TransportError(
            `transport host ${this.pid} did not answer ${body.op} within ${this.#requestDeadlineMs} ms`,
            { retriable: true },
          ),
        );
      }, this.#requestDeadlineMs);
      this.#pending.set(id, { what: body.op, resolve, reject, timer });
      const failed = (error: Error) => {
        if (!this.#pending.has(id)) return;
        clearTimeout(timer);
        this.#pending.delete(id);
        const message = `cannot send ${body.op} to transport host ${this.pid} (${error.message})`;
        reject(new TransportError(message, { cause: error, retriable: true }));
      };
      const request: HostRequest = { id, ...body };
      try {
        // With a callback, a closed channel is reported here instead of as the child's 'error' event.
        this.#child.send(request, (error) => error !== null && failed(error));
      } catch (error) {
        failed(error instanceof Error ? error : new Error(String(error))); // Could not serialize it.
      }
    });
  }

  #onReply(reply: HostReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return; // Its deadline passed already.
    this.#pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.error === undefined) pending.resolve(reply.value);
    else pending.reject(deserializeError(reply.error));
  }

  #failPending(): void {
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(this.#diedError(pending.what));
    }
  }

  #diedError(what: string): TransportError {
    return new TransportError(
      `transport host ${this.pid} ${this.#exitedHow} with ${what} unanswered; ` +
        'it may or may not have been applied: open the directory again and retry',
      { retriable: true },
    );
  }
}
