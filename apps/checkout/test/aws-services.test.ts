/**
 * The checkout as seven OS processes on AWS SNS + SQS (`HERALD_TRANSPORT=aws npm run service --
 * <name>` each), against the moto emulator that `npm run setup` starts (no AWS account is reachable
 * from the test machines). Driven through the order API; mid-run the inventory process is killed
 * with SIGKILL and started again: what it held comes back after the SQS visibility timeout. Every
 * invariant must hold: no oversell, no lost or duplicated confirmation.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { registerCustomers, runLoad } from '../src/load.ts';
import { temporaryDirectory } from './helpers.ts';
import { countDeadLettersFromNow, deleteWithPrefix, onAws } from './support/aws.ts';
import {
  assertInvariants,
  killStragglers,
  startService,
  startServices,
  stopServices,
  urlOf,
  waitForRest,
} from './support/services.ts';

const ORDERS = 120;
const CUSTOMERS = 10;
const PREFIX = `hc-${randomUUID().slice(0, 8)}-`;

after(async () => {
  killStragglers();
  await deleteWithPrefix(PREFIX);
});

describe('checkout - services as separate processes on AWS SNS + SQS (moto)', { timeout: 600_000 }, () => {
  it('seven service processes share the queues; inventory killed -9 and restarted mid-run; every invariant holds', {
    timeout: 240_000,
  }, async (t) => {
    const dataDir = temporaryDirectory('aws');
    const options = onAws(PREFIX);
    // Every service subscribes before any order exists: an SQS group receives what is published
    // after its queue is subscribed to the topic.
    const services = await startServices(dataDir, options);
    const deadLetters = await countDeadLettersFromNow(PREFIX);
    try {
      await registerCustomers(urlOf(services, 'user'), CUSTOMERS);
      const third = Promise.withResolvers<void>();
      const load = runLoad({
        url: urlOf(services, 'order'),
        orders: ORDERS,
        ratePerSecond: 30,
        customers: CUSTOMERS,
        seed: 13,
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
      // What the killed process held comes back after the 30 s visibility timeout.
      await waitForRest(dataDir, { explainFailure: true, orders: ORDERS });
      await stopServices(services);
      assertInvariants(t, dataDir, deadLetters.count(), ORDERS);
    } finally {
      await deadLetters.close();
    }
  });
});
