/**
 * I/O error at every operation, SQLite-style: one fixed workload of the log and the broker
 * (opens, group-committed appends, publishes, consumer acks, Kafka-style offset commits, a clean
 * restart, a power loss and recovery) is run once to count its file-system calls, then once per call index with that call
 * failing, with EIO and with ENOSPC. Every run must end with typed errors only (a HeraldError
 * with a stable code: anything else fails the run) and correct results: after each step and
 * after the final power loss and reopen, no acknowledged record, message or ack is lost or
 * changed (scripts/sim/ checks it, as in the simulation).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runHistory, type Step } from '../scripts/sim/simulation.ts';

/** The fixed workload. */
const WORKLOAD: readonly Step[] = [
  { op: 'append', batches: [3, 2, 4] },
  { op: 'publish', counts: [2, 3] },
  { op: 'ack', picks: [0.1, 0.5, 0.9] },
  { op: 'commit', offsets: [2, 1] },
  { op: 'append', batches: [1, 5] },
  { op: 'ack', picks: [0.3, 0.7] },
  { op: 'restart' },
  { op: 'publish', counts: [1, 2] },
  { op: 'append', batches: [2] },
  { op: 'ack', picks: [0.5] },
  { op: 'commit', offsets: [4, 3] },
  { op: 'crash', flip: 'none' },
];
const SEED = 23;

describe('I/O error at every operation', { timeout: 600_000 }, () => {
  for (const code of ['EIO', 'ENOSPC'] as const) {
    it(`I/O error at every operation - ${code} at each file-system call ends in typed errors and loses nothing acknowledged`, async (t) => {
      const clean = await runHistory(SEED, WORKLOAD);
      assert.equal(clean.violation, undefined, `the workload fails without faults: ${clean.violation}`);
      assert.ok(clean.fileSystemCalls > 200, `the workload made only ${clean.fileSystemCalls} calls`);
      let typedErrorRuns = 0;
      for (let index = 0; index < clean.fileSystemCalls; index++) {
        const result = await runHistory(SEED, WORKLOAD, { failAt: { index, code } });
        assert.equal(
          result.violation,
          undefined,
          `${code} at call ${index}: ${result.violation} (after step ${result.failedStep})`,
        );
        if (result.typedErrors > 0) typedErrorRuns++;
      }
      t.diagnostic(
        `${clean.fileSystemCalls} calls, each failed once with ${code}: ${typedErrorRuns} runs ended an operation in a typed error, 0 violations`,
      );
      // Most failures must surface; a run without a typed error had its failure absorbed (a
      // lookup that expects ENOENT, a best-effort cleanup) and still ended correct.
      assert.ok(
        typedErrorRuns > clean.fileSystemCalls / 4,
        `only ${typedErrorRuns} runs reported a typed error`,
      );
    });
  }
});
