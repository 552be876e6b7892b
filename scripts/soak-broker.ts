/**
 * `npm run soak -- broker [--cycles N] [--seed S]`: the broker crash test of
 * `packages/broker/test/crash.test.ts`, run long: N publisher kills mid-publish, then N consumer
 * kills mid-ack, through `embeddedTransport`. A summary goes to stdout; exits non-zero on the first
 * violation.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runBrokerCrash } from '../packages/broker/test/support/crash-harness.ts';

/** Entry point used by `scripts/soak.ts`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { cycles: { type: 'string', default: '100' }, seed: { type: 'string' } },
  });
  const cycles = Number(values.cycles);
  if (!Number.isSafeInteger(cycles) || cycles < 1) {
    throw new Error(`--cycles ${values.cycles} is not a positive integer`);
  }
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  const directory = await mkdtemp(path.join(tmpdir(), 'herald-broker-soak-'));
  process.stderr.write(`soak broker: ${cycles} kills per phase, seed ${seed}\n`);
  try {
    const summary = await runBrokerCrash({
      directory,
      seed,
      publishCycles: cycles,
      consumeCycles: cycles,
      deadlineMs: cycles * 10_000,
    });
    process.stdout.write(
      `soak broker passed in ${(summary.elapsedMs / 1000).toFixed(1)} s, seed ${seed}\n` +
        `  ${summary.acknowledgedMessages} acknowledged, ${summary.storedMessages} stored\n` +
        `  publisher kills with publishes in flight: ${summary.publishKillsWithPublishesInFlight} of ${cycles}\n` +
        `  consumer kills with acks in flight: ${summary.consumeKillsWithAcksInFlight} of ${cycles} (${summary.consumeKillsAimed} aimed); ${summary.redeliveries} redeliveries\n`,
    );
  } catch (error) {
    process.stderr.write(
      `soak broker FAILED with seed ${seed} (replay with --seed ${seed}): ${(error as Error).message}\n`,
    );
    process.exitCode = 1;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
