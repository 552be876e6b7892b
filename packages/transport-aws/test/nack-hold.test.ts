/**
 * The README's "Nack" and bounds rows for keyed messages: a keyed nack is held in the process, for
 * at most `holdDelayMsMax`, its key blocked meanwhile and its visibility extended (so SQS does not
 * hand it out again while it is held). Against the moto emulator.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { eventually, quiet } from '@herald/conformance';
import { type AwsTransport, awsTransport } from '@herald/transport-aws';
import { emulatorOptions, requireEmulator } from './support.ts';

await requireEmulator();

const opened: AwsTransport[] = [];
after(async () => {
  for (const transport of opened) {
    await transport.close();
    await transport.deleteTopology();
  }
});

describe('aws transport - keyed nacks', { timeout: 60_000 }, () => {
  test('a keyed nack longer than holdDelayMsMax is held for holdDelayMsMax, its key blocked meanwhile', async () => {
    const transport = await awsTransport({
      ...emulatorOptions(`nh${randomUUID().slice(0, 8)}-`),
      waitTimeMs: 1_000,
      // Shorter than the hold: without the visibility extension SQS would hand the message out again.
      visibilityTimeoutMs: 1_000,
      holdDelayMsMax: 2_500,
    });
    opened.push(transport);
    const deliveries: { body: string; atMs: number; attempt: number }[] = [];
    await transport.subscribe({ topic: 'held', group: 'g', inFlightMax: 4 }, async (message) => {
      const body = new TextDecoder().decode(message.body);
      deliveries.push({ body, atMs: performance.now(), attempt: message.deliveryAttempt });
      // Asks for a minute: the bound cuts it to holdDelayMsMax.
      if (body === 'first' && message.deliveryAttempt === 1) await message.nack({ delayMs: 60_000 });
      else await message.ack();
    });
    const encode = (text: string) => new TextEncoder().encode(text);
    await transport.publish('held', [
      { key: 'k', headers: {}, body: encode('first') },
      { key: 'k', headers: {}, body: encode('second') },
    ]);
    await eventually(
      () => deliveries.length >= 3,
      () => `three deliveries (have ${deliveries.map((each) => each.body).join(', ')})`,
      20_000,
    );
    await quiet(() => deliveries.length, 'the subscriber', 1_500);
    assert.deepEqual(
      deliveries.map((each) => `${each.body}#${each.attempt}`),
      ['first#1', 'first#2', 'second#1'],
      'the key stays blocked while its message is held, and nothing is delivered twice',
    );
    const heldMs = deliveries[1]!.atMs - deliveries[0]!.atMs;
    assert.ok(
      heldMs >= 2_400 && heldMs < 15_000,
      `held for holdDelayMsMax 2.5 s, not the minute asked (${Math.round(heldMs)} ms)`,
    );
    assert.equal(transport.stats().visibilityFailures, 0);
  });
});
