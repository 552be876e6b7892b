/**
 * The README's "Errors": a group queue that exists with other settings (here: another visibility
 * timeout, as a second deployment with other options would leave) is a ConfigurationError naming
 * the queue and what to change, not a retriable error retried forever. Against the moto emulator.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { ConfigurationError } from '@herald/bus';
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

async function open(prefix: string, visibilityTimeoutMs: number): Promise<AwsTransport> {
  const transport = await awsTransport({
    ...emulatorOptions(prefix),
    waitTimeMs: 1_000,
    visibilityTimeoutMs,
  });
  opened.push(transport);
  return transport;
}

describe('aws transport - an existing queue', { timeout: 60_000 }, () => {
  test('a group queue that exists with another visibility timeout is a ConfigurationError naming it', async () => {
    const prefix = `eq${randomUUID().slice(0, 8)}-`;
    const first = await open(prefix, 7_000);
    await (
      await first.subscribe({ topic: 'orders', group: 'billing', inFlightMax: 1 }, async () => {})
    ).close();
    const second = await open(prefix, 9_000);
    await assert.rejects(
      second.subscribe({ topic: 'orders', group: 'billing', inFlightMax: 1 }, async () => {}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError, String(error));
        assert.match(error.message, new RegExp(`${prefix}orders__billing`));
        assert.match(error.message, /exists with other settings.*visibilityTimeoutMs/);
        return true;
      },
    );
  });
});
