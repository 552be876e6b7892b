/**
 * The conformance suite on the embedded transport hosted in a child process
 * (`support/child-transport.ts`), so its restart is a crash: SIGKILL the child holding the data
 * directory, with no clean close, and open the directory in a new child (the dead pid's lock is
 * stale). An ack that resolved must survive that; the `ack-late` fault proves the restart scenario
 * notices when it does not.
 *
 * No `dropConnections`: an in-process broker has no connection to drop. Killing the child is a
 * crash of the application itself, which the restart scenario covers; a proxy that reconnected to
 * a new child by itself would test the proxy, not the embedded transport.
 *
 * `embedded-in-process-conformance.test.ts` runs the suite on the transport in the test's own
 * process too, because this proxy answers some of the contract itself (`ClosedError` after close,
 * no-op settles after close) and would hide the real transport getting those wrong.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Transport } from '@herald/bus';
import { type ConformanceTarget, runConformance, runScenario, scenarios } from '@herald/conformance';
import { temporaryDirectory } from '@herald/test-support';
import { ChildTransport, startChildTransport, type TransportHostFault } from './support/child-transport.ts';

const RESTART_SCENARIO = 'restart - published messages and acked positions survive a restart';

/** Children started ahead that no scenario took (closed after the file; directories go at process exit). */
const unused = new Set<Promise<ChildTransport>>();
after(async () => {
  await Promise.allSettled([...unused].map(async (started) => (await started).close()));
});

function startOnFreshDirectory(fault: TransportHostFault | undefined): Promise<ChildTransport> {
  const dir = temporaryDirectory('herald-embedded-child-');
  return startChildTransport({ dir, fault });
}

/**
 * A target whose transports are child-hosted embedded transports, each on a fresh directory. With
 * `startAhead: n`, n children start while scenarios run, so `create()` finds one ready: a child
 * takes about 250 ms to load the broker and open its directory, and the suite creates 26.
 */
function childTarget(name: string, options: { fault?: TransportHostFault; startAhead?: number } = {}) {
  const ahead: Promise<ChildTransport>[] = [];
  const target: ConformanceTarget = {
    name,
    create() {
      const started = ahead.shift() ?? startOnFreshDirectory(options.fault);
      unused.delete(started);
      while (ahead.length < (options.startAhead ?? 0)) {
        const next = startOnFreshDirectory(options.fault);
        next.catch(() => {}); // Its failure is reported by the create() that takes it.
        unused.add(next);
        ahead.push(next);
      }
      return started;
    },
    async restart(transport: Transport) {
      assert.ok(transport instanceof ChildTransport, 'restart got a transport this target did not create');
      await transport.kill();
      // The fault belongs to the process that crashed: the new one is sound, so what it finds is
      // exactly what the crash left on disk.
      return startChildTransport({ dir: transport.dir });
    },
  };
  return target;
}

runConformance(childTarget('embedded (child process, restart = kill -9)', { startAhead: 2 }));

describe('embedded child-hosted restart: the fault switch', () => {
  const restart = scenarios.find((scenario) => scenario.name === RESTART_SCENARIO);

  it('ack-late (ack resolves before the broker records it) makes the restart scenario fail', async (t) => {
    assert.ok(restart !== undefined, `no scenario named "${RESTART_SCENARIO}"`);
    await assert.rejects(
      runScenario(childTarget('embedded, ack-late', { fault: 'ack-late' }), restart),
      (error) => {
        assert.ok(error instanceof Error, `expected an assertion failure, got ${String(error)}`);
        assert.match(error.message, /acked before the restart were delivered again/);
        const redelivered = (error as { actual?: unknown }).actual;
        t.diagnostic(
          `the restart scenario failed as it should: ${error.message.split('\n')[0]}: ${JSON.stringify(redelivered)}`,
        );
        return true;
      },
    );
  });
});
