/**
 * Paired rounds for the `bus` suite (the leading `_` keeps it out of `bench/run.ts`'s suites): two
 * measurements alternate round by round, and the ratio is kept per pair, by wall time and by CPU
 * time per message, so a shift in a shared machine's load hits both sides alike.
 */
import { format, median, percentile } from './_common.ts';

/** The median, quartiles and count of the ratios of paired rounds. */
export interface RatioSummary {
  readonly median: number;
  readonly quartileLow: number;
  readonly quartileHigh: number;
  readonly pairs: number;
}

/** Median and quartiles of ascending pair ratios. */
export function ratioSummary(ratios: readonly number[]): RatioSummary {
  return {
    median: median(ratios),
    quartileLow: percentile(ratios, 0.25),
    quartileHigh: percentile(ratios, 0.75),
    pairs: ratios.length,
  };
}

/** One measured round: how many messages went through, and how long it took. */
export interface Round {
  readonly messages: number;
  readonly seconds: number;
  /** CPU time this process used during the round (user + system): bus, transport and broker. */
  readonly cpuSeconds: number;
}

/** CPU seconds used since `since` (a `process.cpuUsage()` reading). */
export function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** What {@link measureInterleaved} measured: the summed rounds of each side and the pairs' ratios. */
export interface Interleaved {
  readonly first: Round;
  readonly second: Round;
  /** Per pair of rounds, the second's rate divided by the first's, ascending. */
  readonly ratios: readonly number[];
  /**
   * Per pair, the first's CPU time per message divided by the second's, ascending: the ratio of
   * the rates each would reach with a core of its own, which other processes' load moves far less
   * than wall time.
   */
  readonly cpuRatios: readonly number[];
}

/** Most pairs of rounds {@link measureInterleaved} runs, whatever the time budget. */
export const PAIRS_MAX = 200;

/**
 * Alternates rounds of `first` and `second` until each used `durationMs` of measured time (one
 * unmeasured round of each warms up first; at least 5 pairs, at most {@link PAIRS_MAX}), so a
 * shift in the machine's load hits both alike. Each pair runs in the opposite order of the one
 * before (ABBA), so a trend within a pair cancels out too. The ratios per pair are kept: their
 * median is the robust figure on a shared machine, where one round caught by another process's
 * burst moves a ratio of sums but not a median.
 */
export async function measureInterleaved(
  durationMs: number,
  first: () => Promise<Round>,
  second: () => Promise<Round>,
): Promise<Interleaved> {
  await first();
  await second();
  const totals = [
    { messages: 0, seconds: 0, cpuSeconds: 0 },
    { messages: 0, seconds: 0, cpuSeconds: 0 },
  ];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  const rounds = [first, second];
  while (
    ratios.length < PAIRS_MAX &&
    (ratios.length < 5 || totals.some((total) => total.seconds * 1000 < durationMs))
  ) {
    const order = ratios.length % 2 === 0 ? [0, 1] : [1, 0];
    const rates: number[] = [];
    const cpuPerMessage: number[] = [];
    for (const index of order) {
      const result = await rounds[index]!();
      totals[index]!.messages += result.messages;
      totals[index]!.seconds += result.seconds;
      totals[index]!.cpuSeconds += result.cpuSeconds;
      rates[index] = result.messages / result.seconds;
      cpuPerMessage[index] = result.cpuSeconds / result.messages;
    }
    ratios.push(rates[1]! / rates[0]!);
    cpuRatios.push(cpuPerMessage[0]! / cpuPerMessage[1]!);
  }
  const ascending = (left: number, right: number) => left - right;
  return {
    first: totals[0]!,
    second: totals[1]!,
    ratios: ratios.sort(ascending),
    cpuRatios: cpuRatios.sort(ascending),
  };
}

/** `median [low–high], n pairs`, or '' for a row without pairs. */
export function ratioText(summary: RatioSummary | undefined): string {
  if (summary === undefined) return '';
  return `${percent(summary.median)} [${percent(summary.quartileLow)}–${percent(summary.quartileHigh)}], ${summary.pairs} pairs`;
}

/** A fraction as a percentage with one decimal. */
function percent(ratio: number): string {
  return `${format(ratio * 100, 1)}%`;
}
