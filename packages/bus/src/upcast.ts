/** Brings a payload of an older contract version up to the current one. */
import type { ContractBase } from './contracts.ts';
import { UnrecoverableError } from './errors.ts';

/**
 * Applies the contract's upcasters from `fromVersion` to the current version in order.
 * A message newer than the contract, or a missing step, cannot be processed by this consumer and
 * is dead-lettered with a reason that says what to deploy.
 */
export function upcast(contract: ContractBase, fromVersion: number, data: unknown): unknown {
  if (fromVersion > contract.version) {
    throw new UnrecoverableError(
      `"${contract.type}" message has version ${fromVersion}, newer than this consumer's version ` +
        `${contract.version}; deploy the consumer with the newer contract, then redrive the dead letters`,
    );
  }
  let value = data;
  for (let version = fromVersion; version < contract.version; version++) {
    const step = contract.upcasters[version];
    if (step === undefined) {
      throw new UnrecoverableError(
        `"${contract.type}" message has version ${fromVersion} but the contract has no upcaster from ` +
          `version ${version}; add upcasters[${version}] to the contract`,
      );
    }
    value = step(value);
  }
  return value;
}
