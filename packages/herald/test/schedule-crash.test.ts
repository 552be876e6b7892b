/**
 * Scheduled messages survive two kill -9 restarts of the embedded bus (child processes): each tick
 * recorded once, none early, lateness printed. CI runs 2,000 ticks over 20 s;
 * `npm run soak -- schedule` runs the full 10,000 over 60 s.
 */
import { describe, it } from 'node:test';
import { printLine, temporaryDirectory } from '@herald/test-support';
import { runScheduleCrash } from './support/schedule-crash.ts';

describe('scheduling - crash', { timeout: 180_000 }, () => {
  it('scheduling - ticks survive two kill -9 restarts of the embedded bus: once each, none early', async () => {
    const summary = await runScheduleCrash({
      dir: temporaryDirectory('herald-schedule-crash-'),
      count: 2000,
      spanMs: 20_000,
      leadMs: 5000,
      log: printLine,
    });
    printLine(
      `embedded: ${summary.count} ticks, ${summary.kills} kills, ${summary.rescheduled} scheduled again, ` +
        `lateness p50 ${summary.latenessMs.p50} ms, p99 ${summary.latenessMs.p99} ms, max ${summary.latenessMs.max} ms; ` +
        `due while a process ran: p50 ${summary.steadyLatenessMs.p50} ms, p99 ${summary.steadyLatenessMs.p99} ms; ` +
        `${(summary.elapsedMs / 1000).toFixed(1)} s`,
    );
  });
});
