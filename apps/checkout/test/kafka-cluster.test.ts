/**
 * The checkout distributed on a three-node Apache Kafka cluster (replication factor 3,
 * `min.insync.replicas=2`; see packages/test-support/src/apache-kafka/cluster.ts): each of the
 * seven services is its own OS process with `HERALD_KAFKA_BROKERS` listing all three nodes. Mid-run
 * the node leading `orders` partition 0 is killed with SIGKILL and stays down; every invariant must
 * hold: no oversell, no lost or duplicated confirmation.
 */
import { after, describe, it } from 'node:test';
import { startKafkaCluster } from '@herald/test-support/apache-kafka';
import { registerCustomers, runLoad } from '../src/load.ts';
import { temporaryDirectory } from './helpers.ts';
import { countDeadLetters, onKafka } from './support/kafka.ts';
import {
  assertInvariants,
  killStragglers,
  type RunningService,
  startServices,
  stopServices,
  urlOf,
  waitForRest,
} from './support/services.ts';

const ORDERS = 150;
const CUSTOMERS = 10;

// Two partitions per topic, as the herald serve test: seven groups rebalance quickly.
const cluster = await startKafkaCluster({ partitions: 2 });
after(async () => {
  killStragglers();
  await cluster.stop();
});

describe('checkout - services as separate processes on a three-node Apache Kafka cluster', () => {
  it('seven service processes on three Kafka nodes; one node killed -9 mid-run; every invariant holds', {
    timeout: 180_000,
  }, async (t) => {
    t.diagnostic(`three-node Kafka cluster started in ${cluster.startMs} ms`);
    const dataDir = temporaryDirectory('kafka-cluster');
    const options = onKafka(cluster.brokers);
    let services: RunningService[] = [];
    try {
      services = await startServices(dataDir, options);
      await registerCustomers(urlOf(services, 'user'), CUSTOMERS);
      // Mid-run: kill -9 the leader of orders/0 once a third of the orders are in.
      const third = Promise.withResolvers<void>();
      const load = runLoad({
        url: urlOf(services, 'order'),
        orders: ORDERS,
        ratePerSecond: 50,
        customers: CUSTOMERS,
        seed: 12,
        onProgress: (progress) => {
          if (progress.accepted >= ORDERS / 3) third.resolve();
        },
      });
      await Promise.race([third.promise, load]);
      const victim = await cluster.leaderOf('orders', 0);
      const roles = await cluster.roles('order');
      const killedAtMs = performance.now();
      await cluster.kill(victim);
      t.diagnostic(
        `node ${victim} (leader of orders/0; controller ${roles.controller}) killed with SIGKILL mid-run`,
      );

      const result = await load;
      t.diagnostic(
        `load done ${Math.round(performance.now() - killedAtMs)} ms after the kill: ` +
          `${result.accepted} accepted, ${result.failures.length} failures`,
      );
      if (result.accepted !== ORDERS) throw new Error(`load failures: ${result.failures.join('; ')}`);
      await waitForRest(dataDir, { explainFailure: true, orders: ORDERS });
      await stopServices(services);
      assertInvariants(t, dataDir, await countDeadLetters(cluster.brokers), ORDERS);
    } finally {
      killStragglers();
    }
  });
});
