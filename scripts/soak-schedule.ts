/**
 * `npm run soak -- schedule [--count N] [--span-ms MS]`: the scheduled-messages crash test of
 * `packages/herald/test/schedule-crash.test.ts` at full size (default 10,000 ticks due over 60 s),
 * on the embedded broker: two kill -9 restarts, each tick recorded once, none early; prints the
 * lateness percentiles. Exits non-zero on a violation.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runScheduleCrash } from '../packages/herald/test/support/schedule-crash.ts';

/** Entry point used by `scripts/soak.ts`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { count: { type: 'string', default: '10000' }, 'span-ms': { type: 'string', default: '60000' } },
  });
  const count = Number(values.count);
  const spanMs = Number(values['span-ms']);
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(spanMs) || spanMs < 1) {
    throw new Error('--count and --span-ms must be positive integers');
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'herald-schedule-soak-'));
  try {
    const summary = await runScheduleCrash({
      dir,
      count,
      spanMs,
      leadMs: 10_000,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(
      `soak schedule passed: ${summary.count} ticks over ${spanMs / 1000} s, ${summary.kills} kill -9 restarts, ` +
        `${summary.rescheduled} scheduled again, lateness p50 ${summary.latenessMs.p50} ms, ` +
        `p99 ${summary.latenessMs.p99} ms, max ${summary.latenessMs.max} ms; due while a process ran: ` +
        `p50 ${summary.steadyLatenessMs.p50} ms, p99 ${summary.steadyLatenessMs.p99} ms; ${(summary.elapsedMs / 1000).toFixed(1)} s\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
