/**
 * A Transport whose underlying transport opens on first use. It lets `createBus()` stay
 * synchronous while the embedded broker opens its directory asynchronously; an opening error
 * (a locked or unwritable directory) surfaces from the first `publish`, `subscribe` or `start`.
 * Until it is open, `features` are the ones declared; afterwards, the transport's own.
 */
import {
  type CancelOutcome,
  type CloseOptions,
  type MessageHandler,
  ScheduleError,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportFeatures,
  type TransportHealth,
  type TransportMessage,
  type TransportScheduler,
} from '@herald/bus';

/** A transport opened on first use. */
export interface LazyTransport extends Transport {
  /** The underlying transport once it opened (metrics read the embedded broker through it). */
  readonly opened: Transport | undefined;
}

/** Wraps `open` so it runs once, on the first call that needs the transport. */
export function lazyTransport(
  name: string,
  features: TransportFeatures,
  open: () => Promise<Transport>,
): LazyTransport {
  let opened: Promise<Transport> | undefined;
  let inner: Transport | undefined;
  let closed = false;
  const transport = () => {
    opened ??= open().then((transport) => {
      inner = transport;
      return transport;
    });
    return opened;
  };
  const innerScheduler = async (): Promise<TransportScheduler> => {
    const scheduler = (await transport()).scheduler;
    if (scheduler === undefined) {
      throw new ScheduleError(
        'SCHEDULE_UNSUPPORTED',
        `the ${name} transport keeps no scheduled messages; use one whose features.scheduling is native`,
      );
    }
    return scheduler;
  };
  // Delegates to the opened transport's scheduler, opening it first like publish does.
  const scheduler: TransportScheduler = {
    async schedule(topic: string, message: TransportMessage, deliverAtMs: number) {
      await (await innerScheduler()).schedule(topic, message, deliverAtMs);
    },
    async cancel(id: string): Promise<CancelOutcome> {
      return (await innerScheduler()).cancel(id);
    },
  };
  return {
    scheduler,
    name,
    get features() {
      return inner?.features ?? features;
    },
    get opened() {
      return inner;
    },
    async publish(topic: string, messages: readonly TransportMessage[]) {
      await (await transport()).publish(topic, messages);
    },
    async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
      return (await transport()).subscribe(options, handler);
    },
    /** Not yet opened: connected as far as anyone knows (opening errors surface from `start`). */
    health(): TransportHealth {
      if (closed) return { connected: false, detail: 'closed' };
      if (inner === undefined) return { connected: true, detail: 'not opened yet' };
      return inner.health?.() ?? { connected: true };
    },
    async close(options?: CloseOptions) {
      if (closed) return;
      closed = true;
      // Never opened: nothing to close, and opening just to close would take the directory lock.
      if (opened === undefined) return;
      const inner = await opened.catch(() => undefined);
      await inner?.close(options);
    },
  };
}
