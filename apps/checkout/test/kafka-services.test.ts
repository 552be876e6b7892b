/**
 * The checkout distributed on Kafka: `herald serve` plus each of the seven services as its own OS
 * process (`HERALD_TRANSPORT=kafka`), driven through the order API; mid-run the inventory process
 * is killed with SIGKILL and started again. Every invariant must hold: no oversell, no lost or
 * duplicated confirmation. Run by hand: see the README ("Distributed on Kafka").
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startServe } from '@herald/test-support';
import { registerCustomers, runLoad } from '../src/load.ts';
import { temporaryDirectory } from './helpers.ts';
import { countDeadLetters, onKafka } from './support/kafka.ts';
import {
  assertInvariants,
  killStragglers,
  startService,
  startServices,
  stopServices,
  urlOf,
  waitForRest,
} from './support/services.ts';

const ORDERS = 150;
const CUSTOMERS = 10;

after(() => {
  killStragglers();
});

describe('checkout - services as separate processes on Kafka (herald serve)', { timeout: 600_000 }, () => {
  it('seven service processes on herald serve; inventory killed -9 and restarted mid-run; every invariant holds', {
    timeout: 120_000,
  }, async (t) => {
    const dataDir = temporaryDirectory('kafka');
    const serve = await startServe({ dir: join(dataDir, 'kafka'), partitions: 2 });
    const options = onKafka([serve.bootstrap]);
    const services = await startServices(dataDir, options);

    await registerCustomers(urlOf(services, 'user'), CUSTOMERS);
    // Mid-run: kill -9 the inventory process once a third of the orders are in, then start it
    // again on the same data.
    const third = Promise.withResolvers<void>();
    const load = runLoad({
      url: urlOf(services, 'order'),
      orders: ORDERS,
      ratePerSecond: 50,
      customers: CUSTOMERS,
      seed: 11,
      onProgress: (progress) => {
        if (progress.accepted >= ORDERS / 3) third.resolve();
      },
    });
    await Promise.race([third.promise, load]);
    const inventoryIndex = services.findIndex((service) => service.name === 'inventory');
    const inventory = services[inventoryIndex]!;
    inventory.child.kill('SIGKILL');
    assert.equal(await inventory.exit, null, 'inventory died of SIGKILL');
    t.diagnostic(`inventory (pid ${inventory.child.pid}) killed with SIGKILL mid-run`);
    services[inventoryIndex] = await startService('inventory', dataDir, options);
    t.diagnostic(`inventory restarted as pid ${services[inventoryIndex]!.child.pid}`);

    const result = await load;
    assert.equal(result.accepted, ORDERS, `load failures: ${result.failures.join('; ')}`);
    await waitForRest(dataDir, { explainFailure: true, orders: ORDERS });

    await stopServices(services);
    assertInvariants(t, dataDir, await countDeadLetters([serve.bootstrap]), ORDERS);
    await serve.stop();
  });
});
