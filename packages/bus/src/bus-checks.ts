/** Small checks and defaults of `createBus` and handler options, kept apart from the bus's lifecycle. */
import { type BusOptions, HANDLER_TIMEOUT_MS_MAX } from './bus-api.ts';
import type { Contract } from './contracts.ts';
import type { DispatchCounters } from './dispatcher.ts';
import { ConfigurationError } from './errors.ts';
import type { IdempotencyCounters } from './middleware/idempotency.ts';
import { assertTopicPattern } from './topic-pattern.ts';
import type { Transport } from './transport.ts';

/** `timeoutMs` after checking it is in (0, {@link HANDLER_TIMEOUT_MS_MAX}]; `what` names it in the error. */
export function checkTimeout(timeoutMs: number, what: string): number {
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= HANDLER_TIMEOUT_MS_MAX)) {
    throw new ConfigurationError(`${what} must be in (0, ${HANDLER_TIMEOUT_MS_MAX}] ms, got ${timeoutMs}`);
  }
  return timeoutMs;
}

/** Throws unless `contract` is of `kind` (a user passed something else to `method`). */
export function expectKind(contract: Contract, kind: Contract['kind'], method: string): void {
  if (contract === undefined || contract === null || contract.kind !== kind) {
    const got = contract?.kind ?? String(contract);
    const capital = kind.charAt(0).toUpperCase() + kind.slice(1);
    throw new ConfigurationError(`${method}() takes a contract from define${capital}(), got ${got}`);
  }
}

/** `options` once it names a transport; otherwise says where a transport comes from. */
export function requireTransport(options: BusOptions): BusOptions {
  if (options === undefined || options.transport === undefined) {
    throw new ConfigurationError(
      'createBus: no transport; pass { transport: memoryTransport() } for tests, or use createBus from ' +
        '"herald", which defaults to the embedded durable broker',
    );
  }
  return options;
}

/** What a bus counts: handler outcomes, skipped duplicates and publishes. */
export type BusCounters = DispatchCounters & IdempotencyCounters & { published: number };

/** Counters of a new bus, all zero. */
export function zeroCounters(): BusCounters {
  return { handled: 0, failed: 0, deadLettered: 0, duplicatesSkipped: 0, published: 0 };
}

/**
 * The topic a handler's subscription reads: the contract's, or `topicPattern` once it is valid and
 * the transport declares `features.topicPatterns` supported (else a `ConfigurationError` at set-up).
 */
export function subscriptionTopic(
  contract: Contract,
  topicPattern: string | undefined,
  transport: Transport,
  context: string,
): string {
  if (topicPattern === undefined) return contract.topic;
  assertTopicPattern(topicPattern, context);
  const feature = transport.features.topicPatterns;
  if (feature?.mode !== 'supported') {
    const reason = feature?.reason ?? 'it does not declare features.topicPatterns';
    throw new ConfigurationError(
      `${context}: the ${transport.name} transport cannot subscribe to the topic pattern "${topicPattern}" ` +
        `(${reason}); subscribe to each topic instead, or use a transport that supports patterns`,
    );
  }
  return topicPattern;
}

/** Adds `contract` to `contracts` by type; a different contract of a known type is refused. */
export function registerContract(contracts: Map<string, Contract>, contract: Contract): void {
  const known = contracts.get(contract.type);
  if (known === undefined) {
    contracts.set(contract.type, contract);
  } else if (known !== contract) {
    throw new ConfigurationError(
      `two different contracts have type "${contract.type}"; define each type once and import it everywhere`,
    );
  }
}
