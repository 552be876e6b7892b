/**
 * The checkout distributed on Kafka: `herald serve` plus each of the seven services as its own OS
 * process (`HERALD_TRANSPORT=kafka`), driven through the order API; mid-run the inventory process
 * is killed with SIGKILL and started again. Every invariant must hold: no oversell, no lost or
 * duplicated confirmation. Run by hand: see the README ("Distributed on Kafka").
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { registerCustomers, runLoad } from '../src/load.ts';
import { removeTemporaryDirectories, temporaryDirectory } from './helpers.ts';
import { countDeadLetters, onKafka } from './support/kafka.ts';
import {
  assertInvariants,
  killStragglers,
  startService,
  startServices,
  stopServices,
  track,
  urlOf,
  waitForRest,
} from './support/services.ts';

const HERALD = join(import.meta.dirname, '..', '..', '..', 'packages', 'cli', 'bin', 'herald.ts');
const ORDERS = 150;
const CUSTOMERS = 10;

after(() => {
  killStragglers();
  removeTemporaryDirectories();
});

/** `herald serve` on a free port; resolves with its bootstrap address once it listens. */
function startServe(dataDir: string): Promise<{ child: ChildProcess; bootstrap: string }> {
  const child = spawn(
    process.execPath,
    [HERALD, 'serve', '--port', '0', '--data', dataDir, '--partitions', '2'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  track(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`herald serve did not start: ${output}`)), 20_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /listening on [^\s]+:(\d+)/.exec(output);
      if (match === null) return;
      clearTimeout(deadline);
      resolve({ child, bootstrap: `127.0.0.1:${match[1]}` });
    });
    child.once('exit', (code) => reject(new Error(`herald serve exited with ${code}: ${output}`)));
  });
}

describe('checkout - services as separate processes on Kafka (herald serve)', { timeout: 600_000 }, () => {
  it('seven service processes on herald serve; inventory killed -9 and restarted mid-run; every invariant holds', {
    timeout: 120_000,
  }, async (t) => {
    const dataDir = temporaryDirectory('kafka');
    const serve = await startServe(join(dataDir, 'kafka'));
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
    serve.child.kill('SIGTERM');
  });
});
