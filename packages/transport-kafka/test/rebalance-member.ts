/**
 * A second group member in its own process, for the rebalance test: subscribes to `topic` in
 * `group` on `brokers` and prints one line per acked message (`acked <id> <partition> <offset>`);
 * run with HERALD_KAFKA_DEBUG=1 its stderr also shows each completed commit (`committed p@offset`).
 * Usage: node rebalance-member.ts <brokers> <topic> <group>
 */
import { kafkaTransport } from '@herald/transport-kafka';

const [brokers, topic, group] = process.argv.slice(2);
const transport = await kafkaTransport({
  brokers: [brokers!],
  clientId: 'rebalance-child',
  sessionTimeoutMs: 6_000,
});
await transport.subscribe({ topic: topic!, group: group!, inFlightMax: 8 }, async (message) => {
  await new Promise((resolve) => setTimeout(resolve, 2));
  await message.ack();
  process.stdout.write(`acked ${message.headers['x-id']} ${message.partition} ${message.offset}\n`);
});
process.stdout.write('subscribed\n');
