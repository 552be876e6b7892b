/**
 * `npm run soak -- log [--cycles N] [--seed S] [--directory DIR]`: the crash test of
 * `packages/log/test/crash.test.ts`, run long. Each cycle kill -9s a child appending with
 * `fsync: 'always'` and verifies every acknowledged record after reopening. Progress goes to
 * stderr, a summary to stdout; exits non-zero on the first durability violation.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CRASH_RETENTION_BYTES, runCrashCycles } from '../packages/log/test/support/crash-harness.ts';

/** Entry point used by `scripts/soak.ts`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      cycles: { type: 'string', default: '1000' },
      seed: { type: 'string' },
      directory: { type: 'string' },
    },
  });
  const cycles = Number(values.cycles);
  if (!Number.isSafeInteger(cycles) || cycles < 1) {
    throw new Error(`--cycles ${values.cycles} is not a positive integer`);
  }
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  const directory = values.directory ?? (await mkdtemp(path.join(tmpdir(), 'herald-log-soak-')));
  process.stderr.write(`soak log: ${cycles} cycles, seed ${seed}, directory ${directory}\n`);
  try {
    const summary = await runCrashCycles({
      cycles,
      seed,
      directory,
      retentionBytes: CRASH_RETENTION_BYTES,
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(
      `soak log passed: ${summary.cycles} cycles in ${(summary.elapsedMs / 1000).toFixed(1)} s, seed ${summary.seed}\n` +
        `  acknowledged: ${summary.acknowledgedBatches} batches, ${summary.acknowledgedRecords} records\n` +
        `  verified batch checks: ${summary.verifiedBatches}; torn tails cut: ${summary.truncations}; kills during open: ${summary.killsDuringOpen}\n` +
        `  kills with appends in flight: ${summary.killsWithAppendsInFlight} of ${summary.cycles} (${summary.appendsInFlightAtKills} appends)\n` +
        `  final high watermark: ${summary.highWatermark}\n`,
    );
  } catch (error) {
    process.stderr.write(
      `soak log FAILED with seed ${seed} (replay with --seed ${seed}): ${(error as Error).message}\n`,
    );
    process.exitCode = 1;
  } finally {
    if (values.directory === undefined) {
      await rm(directory, { recursive: true, force: true });
    }
  }
}
