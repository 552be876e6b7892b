/**
 * The disk side of a publish round, alone (not a suite: `bench/run.ts` skips files starting with
 * `_`). A round of the log's group commit writes each dirty partition's group and fdatasyncs every
 * one of those files together (`packages/log/src/sync-rounds.ts`); the main thread waits through
 * it. This measures that wait with no Herald code in the way: per round, one `writev` of
 * `bytes` to each of `files` files, then an fdatasync of each, all files in parallel, as the
 * rounds do; then, with one file, the latency of a lone write + fdatasync spaced 1 ms apart, whose
 * tail is what an open-loop p99 meets.
 *
 *   npx node bench/_sync-round-cost.ts [files list, default 1,4] [rounds, default 2000] [bytes, default 16384] [lone-sync ms, default 5000]
 *
 * Prints one JSON line per file count (µs per round p50/p99, fdatasyncs/s) and one for the lone
 * syncs (p50/p99/p99.9/max ms, over 5 s unless told). Run it beside `bench/_fastpath-profile.ts`:
 * a layer's publishes/s with P single-record publishers is about P ÷ (P × its main-thread µs per publish +
 * this round's µs), docs/benchmarks.md, "What bounds each target".
 */
import { open } from 'node:fs/promises';
import { sleep, summarize, tempDir } from './_common.ts';

const [filesText = '1,4', roundsText = '2000', bytesText = '16384', loneSyncText = '5000'] =
  process.argv.slice(2);
const fileCounts = filesText.split(',').map(Number);
const rounds = Number(roundsText);
const bytes = Number(bytesText);
/** How long the lone-sync latency is sampled. */
const loneSyncMs = Number(loneSyncText);
/** Pause between lone syncs, so each one meets an idle disk queue as an open-loop publish does. */
const LONE_SYNC_GAP_MS = 1;

for (const count of [...fileCounts, rounds, bytes, loneSyncMs]) {
  if (!(Number.isSafeInteger(count) && count > 0)) {
    throw new RangeError(
      `expected positive integers: files list, rounds, bytes, lone-sync ms (got ${process.argv.slice(2).join(' ')})`,
    );
  }
}

const directory = await tempDir('herald-sync-round');
try {
  const buffer = Buffer.alloc(bytes, 7);
  for (const files of fileCounts) {
    const handles = await Promise.all(
      Array.from({ length: files }, (_, index) => open(`${directory.path}/f${files}-${index}`, 'w')),
    );
    try {
      const roundsUs: number[] = [];
      const started = performance.now();
      for (let round = 0; round < rounds; round++) {
        const roundStarted = performance.now();
        await Promise.all(
          handles.map(async (handle) => {
            await handle.writev([buffer], round * bytes);
            await handle.datasync();
          }),
        );
        roundsUs.push((performance.now() - roundStarted) * 1000);
      }
      const seconds = (performance.now() - started) / 1000;
      const roundUs = summarize(roundsUs);
      process.stdout.write(
        `${JSON.stringify({
          files,
          bytesPerFile: bytes,
          rounds,
          roundUsP50: Math.round(roundUs.p50),
          roundUsP99: Math.round(roundUs.p99),
          fdatasyncsPerSecond: Math.round((rounds * files) / seconds),
        })}\n`,
      );
    } finally {
      for (const handle of handles) await handle.close();
    }
  }
  const handle = await open(`${directory.path}/lone`, 'w');
  try {
    const latenciesMs: number[] = [];
    const until = performance.now() + loneSyncMs;
    for (let position = 0; performance.now() < until; position += bytes) {
      const started = performance.now();
      await handle.writev([buffer], position);
      await handle.datasync();
      latenciesMs.push(performance.now() - started);
      await sleep(LONE_SYNC_GAP_MS);
    }
    const latencyMs = summarize(latenciesMs);
    const ms = (value: number) => Number(value.toFixed(2));
    process.stdout.write(
      `${JSON.stringify({
        loneSyncs: latencyMs.count,
        msP50: ms(latencyMs.p50),
        msP99: ms(latencyMs.p99),
        msP999: ms(latencyMs.p999),
        msMax: ms(latencyMs.max),
      })}\n`,
    );
  } finally {
    await handle.close();
  }
} finally {
  await directory.remove();
}
