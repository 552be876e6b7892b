/**
 * What the fast-path helpers (`_fastpath-profile.ts`, `_publish-layers.ts`) share: the event they
 * publish and the loop of concurrent publishers, so their per-message figures compare.
 */
import { defineEvent } from '@herald/bus';
import { z } from 'zod';

/** A small event keyed by its id (unique keys: spread over every partition). */
export const BenchEvent = defineEvent('BenchEvent', {
  topic: 'bench-events',
  schema: z.object({ id: z.string(), amount: z.number().int(), note: z.string() }),
  key: (event) => event.id,
});

/** Runs `publishers` loops sharing `messages` calls of `publishOne`, each awaiting its call. */
export async function drivePublishers(
  publishers: number,
  messages: number,
  publishOne: (n: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      // Bounded by `messages`.
      while (next < messages) await publishOne(next++);
    }),
  );
}
