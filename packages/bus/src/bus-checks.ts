/** Small checks of `createBus` and handler options, kept apart from the bus's lifecycle. */
import { HANDLER_TIMEOUT_MS_MAX } from './bus-api.ts';
import type { Contract } from './contracts.ts';
import { ConfigurationError } from './errors.ts';

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

/** Adds `contract` to `contracts` by type; throws when another contract already has its type. */
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
