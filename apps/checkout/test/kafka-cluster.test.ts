/**
 * The checkout distributed on a three-node Apache Kafka cluster (replication factor 3,
 * `min.insync.replicas=2`; see packages/test-support/src/apache-kafka/cluster.ts): each of the
 * seven services is its own OS process with `HERALD_KAFKA_BROKERS` listing all three nodes. Mid-run
 * the node leading `orders` partition 0 is killed with SIGKILL and stays down; every invariant must
 * hold: no oversell, no lost or duplicated confirmation.
 */
import { after, describe, it } from 'node:test';
import { startKafkaCluster } from '@herald/test-support/apache-kafka';
import { countDeadLetters, onKafka } from './support/kafka.ts';
import { runCheckoutScenario } from './support/scenario.ts';
import { killStragglers } from './support/services.ts';

// Two partitions per topic, as the herald serve test: seven groups rebalance quickly.
const cluster = await startKafkaCluster({ partitions: 2 });
// The scenario kills its processes itself; this also covers a test that timed out mid-run.
after(async () => {
  killStragglers();
  await cluster.stop();
});

describe('checkout - services as separate processes on a three-node Apache Kafka cluster', () => {
  it('seven service processes on three Kafka nodes; one node killed -9 mid-run; every invariant holds', {
    timeout: 180_000,
  }, async (t) => {
    t.diagnostic(`three-node Kafka cluster started in ${cluster.startMs} ms`);
    await runCheckoutScenario(t, {
      name: 'kafka-cluster',
      services: onKafka(cluster.brokers),
      orders: 150,
      ratePerSecond: 50,
      seed: 12,
      // Mid-run: kill -9 the leader of orders/0; it stays down.
      midRun: async (t) => {
        const victim = await cluster.leaderOf('orders', 0);
        const roles = await cluster.roles('order');
        await cluster.kill(victim);
        t.diagnostic(
          `node ${victim} (leader of orders/0; controller ${roles.controller}) killed with SIGKILL mid-run`,
        );
      },
      deadLetters: async () => ({ count: () => countDeadLetters(cluster.brokers) }),
    });
  });
});
