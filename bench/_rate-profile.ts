/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): the bus's open-loop
 * latency rows of `npm run bench -- embedded` alone, so they can be repeated and profiled without
 * the rest of the suite. Prints one line per round: achieved rate, p50 / p99 (ms from each event's
 * scheduled send to its handler) and whether it kept up.
 *
 *   npx node [--cpu-prof --cpu-prof-dir=DIR] bench/_rate-profile.ts <events/s> <idempotent|plain> [seconds] [rounds]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { format } from './_common.ts';
import { busAtRate } from './embedded.ts';

const [rateText = '10000', mode = 'idempotent', secondsText = '3', roundsText = '1'] = process.argv.slice(2);
const root = await mkdtemp(path.join(tmpdir(), 'herald-rate-profile-'));
try {
  for (let round = 0; round < Number(roundsText); round++) {
    // How long the event loop stalled: latency the process adds whatever the bus does.
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const row = await busAtRate(
      path.join(root, `run-${round}`),
      Number(rateText),
      Number(secondsText) * 1000,
      mode === 'idempotent',
    );
    loopDelay.disable();
    process.stdout.write(
      `${row.name}: achieved ${format(row.achievedPerSecond)}/s, p50 ${format(row.p50Ms, 2)} ms, ` +
        `p99 ${format(row.p99Ms, 2)} ms, kept up: ${row.keptUp ? 'yes' : 'NO'}; event-loop delay ` +
        `p99 ${format(loopDelay.percentile(99) / 1e6, 2)} ms, max ${format(loopDelay.max / 1e6, 2)} ms\n`,
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
