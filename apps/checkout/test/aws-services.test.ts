/**
 * The checkout as seven OS processes on AWS SNS + SQS (`HERALD_TRANSPORT=aws npm run service --
 * <name>` each), against the moto emulator that `npm run setup` starts (no AWS account is reachable
 * from the test machines). Driven through the order API; mid-run the inventory process is killed
 * with SIGKILL and started again: what it held comes back after the SQS visibility timeout (30 s).
 * Every invariant must hold: no oversell, no lost or duplicated confirmation.
 */
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { countDeadLettersFromNow, deleteWithPrefix, onAws } from './support/aws.ts';
import { runCheckoutScenario } from './support/scenario.ts';
import { killStragglers } from './support/services.ts';

const PREFIX = `hc-${randomUUID().slice(0, 8)}-`;

// The scenario kills its processes itself; this also covers a test that timed out mid-run.
after(async () => {
  killStragglers();
  await deleteWithPrefix(PREFIX);
});

describe('checkout - services as separate processes on AWS SNS + SQS (moto)', { timeout: 600_000 }, () => {
  it('seven service processes share the queues; inventory killed -9 and restarted mid-run; every invariant holds', {
    timeout: 240_000,
  }, async (t) => {
    await runCheckoutScenario(t, {
      name: 'aws',
      services: onAws(PREFIX),
      orders: 120,
      ratePerSecond: 30,
      seed: 13,
      // SQS cannot replay: the dead-letter topics are subscribed to before the first order.
      deadLetters: () => countDeadLettersFromNow(PREFIX),
    });
  });
});
