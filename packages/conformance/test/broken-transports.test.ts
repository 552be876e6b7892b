/**
 * The suite itself can fail: deliberately broken transports must each fail at least one scenario.
 * Five faults, each wrapped around a correct transport (memory, or the embedded broker where the
 * fault needs persistence): an acknowledged publish dropped, a duplicate on redelivery, a
 * de-duplication of publishes declared but not done, a reordered key, and acks lost at close.
 * Every variant runs all scenarios at once (each with its own transport and topic), so a variant
 * costs about one condition deadline; the table of which scenarios caught each fault is printed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { embeddedTransport } from '@herald/broker';
import {
  type MessageHandler,
  memoryTransport,
  type ReceivedMessage,
  type SubscribeOptions,
  type Transport,
  type TransportMessage,
} from '@herald/bus';
import { type ConformanceTarget, runScenario, scenarios } from '@herald/conformance';
import { temporaryDirectory } from '@herald/test-support';

/** A transport that forwards to `inner`, with any of its members replaced. */
function wrap(
  inner: Transport,
  overrides: Partial<Pick<Transport, 'publish' | 'subscribe' | 'close'>>,
): Transport {
  return {
    name: `broken-${inner.name}`,
    features: inner.features,
    publish: overrides.publish ?? ((topic, messages) => inner.publish(topic, messages)),
    subscribe: overrides.subscribe ?? ((options, handler) => inner.subscribe(options, handler)),
    close: overrides.close ?? (() => inner.close()),
  };
}

/** Publishes normally, acknowledges, but silently drops the 100th message each transport publishes. */
function dropsAnAcknowledgedPublish(): ConformanceTarget {
  return {
    name: 'drops an acknowledged publish (the 100th of each transport)',
    create() {
      const inner = memoryTransport();
      let published = 0;
      return wrap(inner, {
        publish: (topic, messages) =>
          inner.publish(
            topic,
            messages.filter(() => ++published !== 100),
          ),
      });
    },
  };
}

/** Delivers every redelivered message (attempt ≥ 2) twice. */
function duplicatesOnRedelivery(): ConformanceTarget {
  return {
    name: 'duplicates on redelivery',
    create() {
      const inner = memoryTransport();
      return wrap(inner, {
        subscribe: (options: SubscribeOptions, handler: MessageHandler) =>
          inner.subscribe(options, async (message: ReceivedMessage) => {
            if (message.deliveryAttempt >= 2) {
              // The extra copy settles nothing: the original's ack or nack still counts.
              await handler({ ...message, ack: async () => {}, nack: async () => {} });
            }
            await handler(message);
          }),
      });
    },
  };
}

/** Declares `publishDeduplication` but delivers a re-published copy like any other message. */
function claimsPublishDeduplication(): ConformanceTarget {
  return {
    name: 'claims publishDeduplication but delivers the copy',
    create() {
      const inner = memoryTransport();
      return {
        ...wrap(inner, {}),
        features: { ...inner.features, publishDeduplication: 'claimed, not done' },
      };
    },
  };
}

/** Swaps the second and third message of each key within every published batch. */
function reordersAKey(): ConformanceTarget {
  return {
    name: 'reorders a key',
    create() {
      const inner = memoryTransport();
      return wrap(inner, {
        publish(topic, messages) {
          const reordered: TransportMessage[] = [...messages];
          const positionsByKey = new Map<string, number[]>();
          reordered.forEach((message, index) => {
            if (message.key === undefined) return;
            positionsByKey.set(message.key, [...(positionsByKey.get(message.key) ?? []), index]);
          });
          for (const positions of positionsByKey.values()) {
            if (positions.length < 3) continue;
            const [second, third] = [positions[1]!, positions[2]!];
            [reordered[second], reordered[third]] = [reordered[third]!, reordered[second]!];
          }
          return inner.publish(topic, reordered);
        },
      });
    },
  };
}

/**
 * On the embedded broker: an ack resolves at once but reaches the broker 3 s later (long enough
 * that a restart right after acking always comes first, even on a loaded machine), and close
 * drops the acks still waiting (as a transport that buffers acks and forgets to flush them).
 */
function losesAcksOnClose(): ConformanceTarget {
  const open = async (dir: string): Promise<Transport> => {
    const inner = await embeddedTransport({ dir });
    const pending = new Set<NodeJS.Timeout>();
    let dropped = false;
    const later = (settle: () => Promise<void>) => {
      const timer = setTimeout(() => {
        pending.delete(timer);
        if (!dropped) void settle().catch(() => {});
      }, ACK_DELAY_MS);
      pending.add(timer);
    };
    const transport = wrap(inner, {
      async subscribe(options, handler) {
        return inner.subscribe(options, (message) => {
          let settled = false; // Settling twice stays a no-op, as the contract says.
          return handler({
            ...message,
            ack: async () => {
              if (settled) return;
              settled = true;
              later(() => message.ack());
            },
            nack: async (nackOptions) => {
              if (settled) return;
              settled = true;
              await message.nack(nackOptions);
            },
          });
        });
      },
      async close() {
        dropped = true;
        for (const timer of pending) clearTimeout(timer);
        await inner.close();
      },
    });
    directoryOf.set(transport, dir);
    return transport;
  };
  const directoryOf = new WeakMap<Transport, string>();
  return {
    name: 'loses acks on close',
    create() {
      return open(temporaryDirectory('herald-broken-'));
    },
    async restart(transport) {
      await transport.close();
      return open(directoryOf.get(transport)!);
    },
  };
}

/** How long the broken transport holds an ack before the broker sees it. */
const ACK_DELAY_MS = 3_000;

/** Runs every applicable scenario against `target` at once; resolves to the names of those that failed. */
async function failingScenarios(target: ConformanceTarget): Promise<string[]> {
  const probe = await target.create();
  const features = probe.features;
  await probe.close();
  const runnable = scenarios.filter((scenario) => scenario.skip?.(features, target) === undefined);
  const outcomes = await Promise.allSettled(runnable.map((scenario) => runScenario(target, scenario)));
  return runnable
    .filter((_, index) => outcomes[index]!.status === 'rejected')
    .map((scenario) => scenario.name);
}

describe('conformance - broken transports fail the suite', { timeout: 180_000 }, () => {
  it('each fault fails at least one scenario', async () => {
    const variants = [
      dropsAnAcknowledgedPublish(),
      duplicatesOnRedelivery(),
      claimsPublishDeduplication(),
      reordersAKey(),
      losesAcksOnClose(),
    ];
    const results = await Promise.all(
      variants.map(async (variant) => ({ variant: variant.name, failed: await failingScenarios(variant) })),
    );
    for (const { variant, failed } of results) {
      console.log(`${variant}: caught by ${failed.length} scenario(s)`);
      for (const name of failed) console.log(`  - ${name}`);
    }
    for (const { variant, failed } of results) {
      assert.ok(failed.length > 0, `the suite passed a transport that ${variant}`);
    }
  });

  it('the unbroken transports pass the same scenarios', async () => {
    const memory = await failingScenarios({ name: 'memory', create: () => memoryTransport() });
    assert.deepEqual(memory, [], 'the memory transport itself fails');
  });
});
