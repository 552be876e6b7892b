import { randomUUID } from 'node:crypto';
import type { Transport } from '@herald/bus';
import { runConformance } from '@herald/conformance';
import { type AwsTransport, awsTransport } from '@herald/transport-aws';
import { emulatorOptions, requireEmulator } from './support.ts';

// No emulator: the file fails at once saying `run npm run setup`.
await requireEmulator();

interface Tracked {
  readonly inner: AwsTransport;
  readonly prefix: string;
  /** Every transport of the scenario, so the final close deletes what any of them created. */
  readonly all: AwsTransport[];
}
const tracked = new WeakMap<Transport, Tracked>();

function open(prefix: string): Promise<AwsTransport> {
  return awsTransport({ ...emulatorOptions(prefix), waitTimeMs: 1_000 });
}

/** Wraps `inner` so its final close deletes every topic and queue the scenario created. */
function track(inner: AwsTransport, prefix: string, all: AwsTransport[]): Transport {
  all.push(inner);
  const transport: Transport = {
    name: inner.name,
    features: inner.features,
    publish: (topic, messages) => inner.publish(topic, messages),
    subscribe: (options, handler) => inner.subscribe(options, handler),
    async close() {
      await inner.close();
      for (const each of all) await each.deleteTopology();
      all.length = 0;
    },
  };
  tracked.set(transport, { inner, prefix, all });
  return transport;
}

runConformance({
  name: 'aws (moto emulator)',
  emulatorDivergences: {
    'consumers - a duplicate delivery is applied once with an idempotency store':
      'moto forgets a FIFO deduplication id once its message is deleted (moto/sqs/models.py add_message compares only with messages still queued), so a copy published after the first was acked is delivered; SQS keeps the id 5 minutes. The id Herald sends is checked in attributes.test.ts',
  },
  async create() {
    // A unique prefix per scenario run: names never collide with other runs.
    const prefix = `t${randomUUID().slice(0, 8)}-`;
    return track(await open(prefix), prefix, []);
  },
  // Close the transport and open a new one on the same names: SQS keeps what was not deleted, and
  // closing returned the unsettled messages to the queue. (The emulator keeps running: it holds
  // its state in memory only, so restarting it would lose everything.)
  async restart(transport) {
    const previous = tracked.get(transport);
    if (previous === undefined) throw new Error('restart of a transport this file did not create');
    await previous.inner.close();
    return track(await open(previous.prefix), previous.prefix, previous.all);
  },
});
