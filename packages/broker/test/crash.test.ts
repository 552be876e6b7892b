/**
 * Crash test of the broker through its public API: a child publishing through `embeddedTransport`
 * is kill -9'd mid-publish and the topic is read back (every acknowledged message exactly once,
 * byte for byte); then a consumer child is kill -9'd mid-ack (no message whose ack resolved is
 * delivered again). Seeded: BROKER_CRASH_SEED replays a run; BROKER_CRASH_CYCLES sets the kills of
 * each phase (default 6). The other tests turn on the children's faults and check that the harness
 * reports them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type BrokerCrashOptions, runBrokerCrash } from './support/crash-harness.ts';

// A random seed per run, printed; BROKER_CRASH_SEED=<n> replays one (`random` is accepted too).
const seedText = process.env.BROKER_CRASH_SEED ?? 'random';
const seed = seedText === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(seedText);
const cycles = Number(process.env.BROKER_CRASH_CYCLES ?? 6);

async function inTemporaryDirectory<T>(run: (directory: string) => Promise<T>): Promise<T> {
  const directory = await mkdtemp(path.join(tmpdir(), 'herald-broker-crash-'));
  try {
    return await run(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

describe('broker crash harness', { timeout: 600_000 }, () => {
  it('kill -9 mid-publish and mid-ack: acknowledged messages stored exactly once, acked ones never redelivered', {
    // Took 6–32 s here (2 cores, other test runs in parallel); the run's own deadline is 90 s.
    timeout: 120_000,
  }, async (t) => {
    t.diagnostic(`seed ${seed} (replay with BROKER_CRASH_SEED=${seed})`);
    await inTemporaryDirectory(async (directory) => {
      const summary = await runBrokerCrash({
        directory,
        seed,
        publishCycles: cycles,
        consumeCycles: cycles,
        deadlineMs: 90_000,
      });
      t.diagnostic(
        `${Math.round(summary.elapsedMs)} ms: ${summary.acknowledgedMessages} acknowledged, ${summary.storedMessages} stored; ` +
          `publisher kills with publishes in flight: ${summary.publishKillsWithPublishesInFlight} of ${cycles} ` +
          `(${summary.publishesInFlightAtKills} messages); consumer kills with acks in flight: ` +
          `${summary.consumeKillsWithAcksInFlight} of ${cycles} (${summary.consumeKillsAimed} aimed, ` +
          `${summary.acksInFlightAtKills} acks in flight, ${summary.acksResolvedBeforeKills} resolved before; ` +
          `${summary.consumeCyclesWithNothingLeft} cycles found nothing left); ` +
          `${summary.redeliveries} redeliveries`,
      );
      assert.ok(summary.acknowledgedMessages > 0, 'the publishers acknowledged messages to verify');
    });
  });

  const faults: readonly {
    readonly what: string;
    readonly options: Partial<BrokerCrashOptions>;
    readonly report: RegExp;
  }[] = [
    {
      what: 'an acknowledged batch was never stored (publisher HERALD_TEST_FAULT=drop-last-ack)',
      options: { publishFault: 'drop-last-ack' },
      report: /acknowledged message \S+ is missing/,
    },
    {
      what: 'an acknowledged batch is stored twice (publisher HERALD_TEST_FAULT=duplicate-one)',
      options: { publishFault: 'duplicate-one' },
      report: /stored twice \(a duplicate/,
    },
    {
      what: 'the log acknowledged appends it never fsynced (publisher disk HERALD_TEST_FAULT=skip-fsync)',
      options: { publishFault: 'skip-fsync' },
      report: /acknowledged message \S+ is missing|came back with different bytes/,
    },
    {
      what: 'an ack the consumer reported was never made (consumer HERALD_TEST_FAULT=drop-last-ack)',
      options: { consumeFault: 'drop-last-ack' },
      report: /delivered again after its ack resolved/,
    },
  ];
  for (const { what, options, report } of faults) {
    it(`the harness fails when ${what}`, { timeout: 30_000 }, async (t) => {
      t.diagnostic(`seed ${seed}`);
      await inTemporaryDirectory(async (directory) => {
        await assert.rejects(
          runBrokerCrash({
            directory,
            seed,
            publishCycles: options.consumeFault === undefined ? 2 : 1,
            consumeCycles: options.consumeFault === undefined ? 0 : 2,
            requireWindows: false,
            earlyKillChance: 0,
            acksBeforeKill: 50,
            consumerKillAt: 30,
            ...options,
          }),
          report,
        );
      });
    });
  }
});
