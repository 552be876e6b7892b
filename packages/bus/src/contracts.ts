/**
 * Contracts: an event, command or query is defined once, with a Standard Schema for its payload,
 * and every publisher and consumer shares that definition and its inferred TypeScript type.
 */
import { ConfigurationError } from './errors.ts';
import { assertName, assertTopicName } from './names.ts';
import { type Infer, isStandardSchema, type StandardSchemaV1 } from './schema.ts';

/** Turns a payload of version `N` into the shape of version `N + 1`. */
// biome-ignore lint/suspicious/noExplicitAny: an older version's shape is not typed by the current schema.
export type Upcaster = (data: any) => unknown;

/**
 * A function of a payload. Declared through a method so it is bivariant in its parameter: a
 * contract of a specific schema stays assignable to `Contract` (the bus's registry type).
 */
export type PayloadFunction<T, R> = { bivarianceHack(data: T): R }['bivarianceHack'];

/** What every contract kind shares. */
export interface ContractBase<S extends StandardSchemaV1 = StandardSchemaV1> {
  /** The CloudEvents `type`, e.g. `OrderCreated`. Unique across a bus. */
  readonly type: string;
  /** The topic its messages travel on. */
  readonly topic: string;
  /** The payload schema (any Standard Schema). */
  readonly schema: S;
  /** The current payload version; messages of older versions are upcast to it on consume. */
  readonly version: number;
  /** Upcasters keyed by the version they upgrade from. */
  readonly upcasters: Readonly<Record<number, Upcaster>>;
  /** Derives the partition key (ordering unit) from the payload. */
  readonly key: PayloadFunction<Infer<S>, string> | undefined;
  /** Derives the CloudEvents `subject` from the payload. */
  readonly subject: PayloadFunction<Infer<S>, string> | undefined;
}

/** A fact that happened: every subscribed group receives each one. */
export interface EventContract<S extends StandardSchemaV1 = StandardSchemaV1> extends ContractBase<S> {
  readonly kind: 'event';
}

/** A directive: exactly one handler processes each. */
export interface CommandContract<S extends StandardSchemaV1 = StandardSchemaV1> extends ContractBase<S> {
  readonly kind: 'command';
}

/** A request for data answered by one handler with a result of schema `R`. */
export interface QueryContract<
  S extends StandardSchemaV1 = StandardSchemaV1,
  R extends StandardSchemaV1 = StandardSchemaV1,
> extends ContractBase<S> {
  readonly kind: 'query';
  /** Schema of the reply. */
  readonly result: R;
}

/** Any contract. */
export type Contract = EventContract | CommandContract | QueryContract;

/** The payload type of a contract. */
export type PayloadOf<C extends ContractBase> = C extends ContractBase<infer S> ? Infer<S> : never;
/** The accepted input type of a contract (before schema defaults and transforms). */
export type InputOf<C extends ContractBase> =
  C extends ContractBase<infer S> ? StandardSchemaV1.InferInput<S> : never;
/** The result type of a query contract. */
export type ResultOf<Q extends QueryContract> =
  Q extends QueryContract<StandardSchemaV1, infer R> ? Infer<R> : never;

/** Options shared by every `define*` function. */
export interface ContractOptions<S extends StandardSchemaV1> {
  /** Payload schema: zod 4, valibot, arktype or any Standard Schema v1 validator. */
  readonly schema: S;
  /** Current version, a positive integer (default 1). */
  readonly version?: number;
  /** Upcasters from older versions, keyed by the version they upgrade from: `{1: (v1) => v2}`. */
  readonly upcasters?: Readonly<Record<number, Upcaster>>;
  /** Derives the partition key: messages with one key are consumed in publish order. */
  readonly key?: (data: Infer<S>) => string;
  /** Derives the CloudEvents `subject`. */
  readonly subject?: (data: Infer<S>) => string;
}

/** Options of {@link defineEvent}. */
export interface EventOptions<S extends StandardSchemaV1> extends ContractOptions<S> {
  /** The topic the event is published on, e.g. `orders`. */
  readonly topic: string;
}

/** Options of {@link defineCommand}; the topic defaults to `commands.<type>`. */
export interface CommandOptions<S extends StandardSchemaV1> extends ContractOptions<S> {
  readonly topic?: string;
}

/** Options of {@link defineQuery}; the topic defaults to `queries.<type>`. */
export interface QueryOptions<S extends StandardSchemaV1, R extends StandardSchemaV1>
  extends ContractOptions<S> {
  readonly topic?: string;
  /** Schema of the reply. */
  readonly result: R;
}

/**
 * Defines an event: a fact, named in the past tense, that any number of groups consume.
 *
 * @example
 * const OrderCreated = defineEvent('OrderCreated', {
 *   topic: 'orders',
 *   schema: z.object({ orderId: z.string(), total: z.number() }),
 *   key: (order) => order.orderId,
 * });
 */
export function defineEvent<S extends StandardSchemaV1>(
  type: string,
  options: EventOptions<S>,
): EventContract<S> {
  return Object.freeze({ kind: 'event', ...base(type, options, options.topic, 'defineEvent') });
}

/** Defines a command: an imperative directive (`ReserveInventory`) handled by exactly one handler. */
export function defineCommand<S extends StandardSchemaV1>(
  type: string,
  options: CommandOptions<S>,
): CommandContract<S> {
  return Object.freeze({
    kind: 'command',
    ...base(type, options, options.topic ?? `commands.${type}`, 'defineCommand'),
  });
}

/** Defines a query: a request answered by one handler with a value matching `result`. */
export function defineQuery<S extends StandardSchemaV1, R extends StandardSchemaV1>(
  type: string,
  options: QueryOptions<S, R>,
): QueryContract<S, R> {
  if (!isStandardSchema(options.result)) {
    throw new ConfigurationError(
      `defineQuery("${type}"): result must be a Standard Schema (zod 4, valibot, arktype)`,
    );
  }
  const contract = base(type, options, options.topic ?? `queries.${type}`, 'defineQuery');
  return Object.freeze({ kind: 'query', ...contract, result: options.result });
}

function base<S extends StandardSchemaV1>(
  type: string,
  options: ContractOptions<S>,
  topic: string,
  caller: string,
): ContractBase<S> {
  const context = `${caller}("${type}")`;
  assertName(type, 'type', caller);
  assertTopicName(topic, context);
  if (!isStandardSchema(options.schema)) {
    throw new ConfigurationError(
      `${context}: schema must be a Standard Schema v1 validator (zod 4, valibot, arktype)`,
    );
  }
  const version = options.version ?? 1;
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new ConfigurationError(`${context}: version must be a positive integer, got ${version}`);
  }
  const upcasters = { ...(options.upcasters ?? {}) };
  for (const from of Object.keys(upcasters).map(Number)) {
    if (!Number.isSafeInteger(from) || from < 1 || from >= version || typeof upcasters[from] !== 'function') {
      throw new ConfigurationError(
        `${context}: upcaster keys must be versions 1..${version - 1} mapping to functions; got key "${from}"`,
      );
    }
  }
  return {
    type,
    topic,
    schema: options.schema,
    version,
    upcasters,
    key: options.key,
    subject: options.subject,
  };
}
