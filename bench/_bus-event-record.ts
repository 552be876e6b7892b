/**
 * Shared by the micro-benchmark helpers (the leading `_` keeps it out of `bench/run.ts`'s
 * suites): the record the broker hands the log for a bus event, and a minimum-CPU timer.
 */

/**
 * The record the broker hands the log for the `n`th bus event: its key and the 9 headers the bus
 * sets on an event, with `id` as its id and correlation id and `time` as its `ce_time`.
 */
export function busEventRecord(n: number, id: string, time: string, value: Uint8Array) {
  return {
    key: Buffer.from(`order-${n}`),
    value,
    timestampMs: 1,
    headers: [
      ['content-type', 'application/json'],
      ['ce_specversion', '1.0'],
      ['ce_id', id],
      ['ce_source', '/bench'],
      ['ce_type', 'BenchEvent'],
      ['ce_time', time],
      ['ce_partitionkey', `order-${n}`],
      ['ce_correlationid', id],
      ['ce_dataversion', '1'],
    ] as const,
  };
}

/** Minimum CPU µs per call of `step` over `rounds` rounds of `calls` calls (user + system). */
export function cpuPerCall(step: (n: number) => void, calls: number, rounds: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds; round++) {
    const start = process.cpuUsage();
    for (let n = 0; n < calls; n++) step(n);
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / calls);
  }
  return best;
}
