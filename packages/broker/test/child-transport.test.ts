/**
 * The child-hosted transport proxy of `support/child-transport.ts` (the conformance suite's crash
 * restart stands on it): a dead child or a missed deadline rejects with a retriable
 * `TransportError` instead of hanging, a killed child's directory opens again at once (its lock
 * is stale), and a child's errors arrive as Herald errors with their name, code and message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClosedError, HeraldError, TransportError } from '@herald/bus';
import { makeMessages } from '@herald/conformance';
import { temporaryDirectory, withDeadline } from '@herald/test-support';
import { startChildTransport } from './support/child-transport.ts';

const freshDirectory = () => temporaryDirectory('herald-child-transport-');

/** Asserts `error` is a retriable TransportError whose message matches `pattern`. */
function retriableTransportError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TransportError, `expected TransportError, got ${String(error)}`);
    assert.equal(error.retriable, true);
    assert.match(error.message, pattern);
    return true;
  };
}

describe('child transport', () => {
  it('child transport - a child killed from outside rejects the pending and later requests with a retriable TransportError', async () => {
    const transport = await startChildTransport({ dir: freshDirectory(), fault: 'publish-stalls' });
    const pending = transport.publish('t', makeMessages(1, 'p'));
    process.kill(transport.pid, 'SIGKILL');
    await withDeadline(
      assert.rejects(pending, retriableTransportError(/was killed by SIGKILL with publish unanswered/)),
      5_000,
      'the pending publish to reject',
    );
    await assert.rejects(transport.publish('t', makeMessages(1, 'q')), retriableTransportError(/SIGKILL/));
    await transport.close();
    await assert.rejects(transport.publish('t', makeMessages(1, 'r')), ClosedError);
  });

  it('child transport - a request the child never answers rejects at its deadline; close still works', async () => {
    const transport = await startChildTransport({
      dir: freshDirectory(),
      fault: 'publish-stalls',
      requestDeadlineMs: 300,
    });
    try {
      await assert.rejects(
        transport.publish('t', makeMessages(1, 'p')),
        retriableTransportError(/did not answer publish within 300 ms/),
      );
    } finally {
      await transport.close();
    }
  });

  it('child transport - a killed child leaves a stale lock: the directory opens again at once, a live child keeps it', async () => {
    const dir = freshDirectory();
    const first = await startChildTransport({ dir });
    await assert.rejects(startChildTransport({ dir }), (error: unknown) => {
      assert.ok(error instanceof HeraldError, `expected a HeraldError, got ${String(error)}`);
      assert.equal(error.name, 'DirectoryLockedError');
      assert.equal(error.code, 'HERALD_TRANSPORT');
      assert.match(error.message, new RegExp(`process ${first.pid}`));
      return true;
    });
    await first.publish('t', makeMessages(1, 'p'));
    await first.kill();
    await assert.rejects(first.publish('t', makeMessages(1, 'q')), ClosedError);
    const second = await startChildTransport({ dir });
    await second.close();
  });
});
