/**
 * A group member in its own process, for the rebalance and cluster tests: subscribes to `topic` in
 * `group` on `brokers` (comma-separated) and prints one line per acked message
 * (`acked <id> <partition> <offset> <epoch ms>`); run with HERALD_KAFKA_DEBUG=1 its stderr also
 * shows each completed commit (`committed p@offset`). SIGTERM closes the transport (the member
 * commits and leaves the group) and exits 0.
 * Usage: node rebalance-member.ts <brokers> <topic> <group>
 */
import { kafkaTransport } from '@herald/transport-kafka';

const [brokers, topic, group] = process.argv.slice(2);
const transport = await kafkaTransport({
  brokers: brokers!.split(','),
  clientId: 'rebalance-child',
  sessionTimeoutMs: 6_000,
});
process.once('SIGTERM', () => {
  void transport.close().finally(() => process.exit(0));
});
await transport.subscribe({ topic: topic!, group: group!, inFlightMax: 8 }, async (message) => {
  await new Promise((resolve) => setTimeout(resolve, 2));
  await message.ack();
  process.stdout.write(
    `acked ${message.headers['x-id']} ${message.partition} ${message.offset} ${Date.now()}\n`,
  );
});
process.stdout.write('subscribed\n');
