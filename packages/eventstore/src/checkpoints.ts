/** A checkpoint store in memory, for tests and for subscriptions that start over on every run. */
import type { CheckpointStore } from './types.ts';

/** Checkpoints kept in a `Map`: lost when the process ends. */
export function memoryCheckpoints(): CheckpointStore & { readonly positions: ReadonlyMap<string, bigint> } {
  const positions = new Map<string, bigint>();
  return {
    positions,
    async load(name) {
      return positions.get(name);
    },
    async save(name, position) {
      positions.set(name, position);
    },
  };
}
