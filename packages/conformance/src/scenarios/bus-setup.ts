/**
 * The set-up the bus-level scenarios (scheduling, topic patterns) share: a `{ name }` event on a
 * scenario's topic, a bus on the scenario's transport that is always stopped, and the skip reason
 * of a feature the transport does not support.
 */
import {
  type Bus,
  type BusOptions,
  createBus,
  defineEvent,
  type EventContract,
  type StandardSchemaV1,
  silentLogger,
  type Transport,
  type TransportFeatures,
} from '@herald/bus';

/** A schema accepting `{ name: string }`, so the suite needs no validation library. */
const named: StandardSchemaV1<{ name: string }> = {
  '~standard': {
    version: 1,
    vendor: 'herald-conformance',
    validate: (value) =>
      typeof (value as { name?: unknown })?.name === 'string'
        ? { value: value as { name: string } }
        : { issues: [{ message: 'expected { name: string }' }] },
  },
};

/** The event `conformance.<type>.<topic>` on `topic`, carrying `{ name }`. */
export function namedEvent(type: string, topic: string): EventContract<typeof named> {
  return defineEvent(`conformance.${type}.${topic}`, { topic, schema: named });
}

/** A bus on `transport`, which stays open: the harness closes it after the scenario. */
export function scenarioBus(transport: Transport, options: Partial<BusOptions> = {}): Bus {
  return createBus({ transport, ownsTransport: false, logger: silentLogger, ...options });
}

/** Runs `body` with a {@link scenarioBus} and stops the bus afterwards, whatever `body` did. */
export async function withBus<T>(
  transport: Transport,
  body: (bus: Bus) => Promise<T>,
  options: Partial<BusOptions> = {},
): Promise<T> {
  const bus = scenarioBus(transport, options);
  try {
    return await body(bus);
  } finally {
    await bus.stop();
  }
}

/**
 * A scenario's `skip` for a feature the transport must support: the reason when it declares the
 * feature unsupported (quoting its reason) or not at all.
 */
export function skipUnlessSupported(
  feature: 'scheduling' | 'topicPatterns',
  label: string,
): (features: TransportFeatures) => string | undefined {
  return (features) => {
    const declared = features[feature];
    if (declared === undefined) return `transport declares no ${feature}`;
    if (declared.mode === 'unsupported') return `${label} unsupported: ${declared.reason}`;
    return undefined;
  };
}
