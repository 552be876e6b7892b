/**
 * Crash test: kill -9 a child appending with `fsync: 'always'` at random moments and check that
 * nothing acknowledged is lost or altered. Seeded: set LOG_CRASH_SEED to replay a failing run,
 * LOG_CRASH_CYCLES to change the number of cycles (default 50).
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runCrashCycles } from './support/crash-harness.ts';

test('kill -9 at random moments never loses or alters an acknowledged append', {
  timeout: 120_000,
}, async (t) => {
  const seed = Number(process.env.LOG_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const cycles = Number(process.env.LOG_CRASH_CYCLES ?? 50);
  t.diagnostic(`seed ${seed} (replay with LOG_CRASH_SEED=${seed})`);
  const directory = await mkdtemp(path.join(tmpdir(), 'herald-log-crash-'));
  try {
    const summary = await runCrashCycles({ cycles, seed, directory });
    t.diagnostic(
      `${summary.cycles} cycles in ${Math.round(summary.elapsedMs)} ms: ${summary.acknowledgedBatches} acknowledged batches ` +
        `(${summary.acknowledgedRecords} records), ${summary.verifiedBatches} batch checks, ${summary.truncations} torn tails cut, ` +
        `${summary.killsDuringOpen} kills during open, final high watermark ${summary.highWatermark}`,
    );
    assert.equal(summary.cycles, cycles);
    assert.ok(summary.acknowledgedBatches > cycles, 'children acknowledged appends to verify');
  } catch (error) {
    throw new Error(`crash test failed with seed ${seed}: ${(error as Error).message}`, { cause: error });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
