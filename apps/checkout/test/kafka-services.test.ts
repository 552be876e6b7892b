/**
 * The checkout distributed on Kafka: `herald serve` plus each of the seven services as its own OS
 * process (`HERALD_TRANSPORT=kafka`), driven through the order API; mid-run the inventory process
 * is killed with SIGKILL and started again. Every invariant must hold: no oversell, no lost or
 * duplicated confirmation. Run by hand: see the README ("Distributed on Kafka").
 */
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startServe } from '@herald/test-support';
import { temporaryDirectory } from './helpers.ts';
import { countDeadLetters, onKafka } from './support/kafka.ts';
import { runCheckoutScenario } from './support/scenario.ts';
import { killStragglers } from './support/services.ts';

// The scenario kills its processes itself; this also covers a test that timed out mid-run.
after(() => {
  killStragglers();
});

describe('checkout - services as separate processes on Kafka (herald serve)', { timeout: 600_000 }, () => {
  it('seven service processes on herald serve; inventory killed -9 and restarted mid-run; every invariant holds', {
    timeout: 180_000,
  }, async (t) => {
    const serve = await startServe({ dir: join(temporaryDirectory('kafka-serve'), 'kafka'), partitions: 2 });
    try {
      await runCheckoutScenario(t, {
        name: 'kafka',
        services: onKafka([serve.bootstrap]),
        orders: 150,
        ratePerSecond: 50,
        seed: 11,
        deadLetters: async () => ({ count: () => countDeadLetters([serve.bootstrap]) }),
      });
    } finally {
      await serve.stop();
    }
  });
});
