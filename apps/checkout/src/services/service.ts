/**
 * What a checkout service is: a name, its tables, its bus handlers and (for some) HTTP routes.
 * Services never call each other: they only publish events and send commands through Herald's
 * transactional outbox (`tx.publish` / `tx.send`) and react to what arrives on the bus.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { Bus, CommandContract, EventContract, HandlerContext, OutboxStaging } from 'herald';
import type { Route } from '../http.ts';
import type { PaymentOptions } from '../logic/payment.ts';
import type { ServiceStore } from '../store.ts';

/** The services of the checkout. */
export const SERVICE_NAMES = [
  'user',
  'order',
  'inventory',
  'payment',
  'notification',
  'analytics',
  'audit',
] as const;
/** One service's name. */
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Settings every service may read. */
export interface CheckoutConfig {
  /** Where e-mails are written (the mail sink). */
  readonly mailDir: string;
  /** The simulated payment gateway. */
  readonly payment: PaymentOptions;
  /** Units each SKU starts with on a fresh data directory. */
  readonly stock: ReadonlyMap<string, number>;
}

/** What a service has while it runs. */
export interface ServiceRuntime {
  readonly store: ServiceStore;
  /**
   * The service's long-lived bus on its store: `publisher.transaction` stages messages outside a
   * handler (HTTP routes), and its relay publishes everything the service staged.
   */
  readonly publisher: Bus;
  readonly config: CheckoutConfig;
}

/** What a handler wants sent: a contract and its payload. */
export interface Outgoing {
  readonly contract: EventContract | CommandContract;
  readonly data: unknown;
}

/** A service. */
export interface ServiceDefinition {
  readonly name: ServiceName;
  /** SQL creating its tables. */
  readonly schema: string;
  /**
   * Every contract it publishes or sends (for the AsyncAPI document; what it receives is read from
   * its `register`). `test/asyncapi.test.ts` checks each contract has a sender.
   */
  readonly sends: readonly (EventContract | CommandContract)[];
  /** Runs once per open of its store, before the bus starts (seed data). */
  init?(runtime: ServiceRuntime): Promise<void>;
  /**
   * Starts work that runs as long as its store is open, whether or not its bus consumes (the order
   * service's read-model projection); resolves how to stop it, called before the store closes.
   */
  background?(runtime: ServiceRuntime): Promise<() => Promise<void>>;
  /**
   * Registers its handlers on a fresh bus; may return a function that releases what it opened for
   * them, called after that bus stopped.
   */
  register(bus: Bus, runtime: ServiceRuntime): void | (() => Promise<void>);
  /** Its HTTP routes. */
  routes?(runtime: ServiceRuntime): Route[];
}

/**
 * Applies a message's effect exactly once: `work` runs in the inbox transaction (with the dedup
 * record) and returns the messages to send, which are staged in the same transaction and
 * published by the relay after the commit.
 */
export async function applyOnce<T>(
  context: HandlerContext<T>,
  work: (database: DatabaseSync) => readonly Outgoing[],
): Promise<void> {
  await context.transaction<void, DatabaseSync>(async (tx) => {
    for (const message of work(tx)) await stage(tx, message);
  });
}

/** Stages `message` in `tx`: an event with `tx.publish`, a command with `tx.send`. */
export function stage(tx: OutboxStaging, { contract, data }: Outgoing): Promise<void> {
  return contract.kind === 'event' ? tx.publish(contract, data as never) : tx.send(contract, data as never);
}

/** Resolves after `delayMs`, or rejects when `signal` aborts. */
export function sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
