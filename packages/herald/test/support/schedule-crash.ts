/**
 * The scheduled-messages crash test, shared by `schedule-crash.test.ts` (short, in CI) and
 * `npm run soak -- schedule` (10,000 ticks over 60 s): `count` ticks due evenly over `spanMs` are
 * scheduled by a child process (`fixtures/schedule-host.ts`) that also consumes them; the child is
 * killed with SIGKILL once while it is scheduling (a third confirmed) and again once half the ticks
 * were received, and restarted each time on the same data. The restarted child schedules again
 * whatever the killed one had not confirmed, with the same ids. At the end every tick must have been recorded exactly once (the inbox records
 * in one transaction with the effect, so a redelivered copy is no second effect), none before its
 * time; the lateness percentiles are returned.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type Child, spawnChild, until } from '@herald/test-support';

const HOST = join(import.meta.dirname, '..', 'fixtures', 'schedule-host.ts');

/** How the run is shaped. */
export interface ScheduleCrashOptions {
  /** A fresh directory for the inbox (and the embedded broker's data). */
  readonly dir: string;
  /** Ticks scheduled. */
  readonly count: number;
  /** The ticks fall due evenly over this long, starting `leadMs` after the start. */
  readonly spanMs: number;
  /** Time before the first tick falls due (the first child's start and its scheduling). */
  readonly leadMs: number;
  /** Variables for the children (`HERALD_TRANSPORT` and its settings; none: embedded). */
  readonly env?: NodeJS.ProcessEnv;
  /** Topic of the ticks (a fresh one per run on a shared broker). */
  readonly topic?: string;
  /** Writes progress lines. */
  readonly log?: (line: string) => void;
}

/** What a run measured. */
export interface ScheduleCrashSummary {
  readonly count: number;
  readonly kills: number;
  /** Lateness of the recorded ticks (received minus due), in ms. */
  readonly latenessMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /**
   * The same for the ticks due while a process ran: outside every window from a kill until
   * {@link STEADY_GRACE_MS} after the next process was ready (the drift of the scheduler itself).
   */
  readonly steadyLatenessMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Ticks the children scheduled again after a kill (not confirmed before it). */
  readonly rescheduled: number;
  readonly elapsedMs: number;
}

/** After a restart, ticks due within this long are still counted as hit by the restart. */
export const STEADY_GRACE_MS = 2000;

function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  values.sort((a, b) => a - b);
  return { p50: percentile(values, 0.5), p99: percentile(values, 0.99), max: values.at(-1) ?? Number.NaN };
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

/** Runs the test; rejects with what went wrong. */
export async function runScheduleCrash(options: ScheduleCrashOptions): Promise<ScheduleCrashSummary> {
  const { dir, count, spanMs, leadMs } = options;
  const log = options.log ?? (() => {});
  const startMs = Date.now();
  const due = Array.from({ length: count }, (_, n) => startMs + leadMs + Math.floor((n * spanMs) / count));
  const confirmed = new Set<number>();
  const received = new Set<number>();
  let rescheduled = 0;
  /** From each kill until the next process was ready, plus the grace. */
  const downWindows: [number, number][] = [];
  let child: Child | undefined;
  const start = async (generation: number): Promise<Child> => {
    const missing = due.flatMap((dueAtMs, n) => (confirmed.has(n) ? [] : [[n, dueAtMs] as [number, number]]));
    if (generation > 0) rescheduled += missing.length;
    const plan = join(dir, `plan-${generation}.json`);
    writeFileSync(plan, JSON.stringify(missing));
    const args = [HOST, '--dir', dir, '--plan', plan, ...(options.topic ? ['--topic', options.topic] : [])];
    const started = spawnChild(process.execPath, args, { env: options.env ?? {} });
    started.onLine((line) => {
      const [word, value] = line.split(' ');
      if (word === 'scheduled') confirmed.add(Number(value));
      else if (word === 'received') received.add(Number(value));
    });
    await started.waitForLine(/^ready$/, 60_000, `schedule host ${generation} to start`);
    log(`child ${generation} (pid ${started.pid}) ready, ${missing.length} ticks to schedule`);
    return started;
  };
  try {
    child = await start(0);
    const waitMs = leadMs + spanMs + 60_000;
    // The first kill lands while the first child is still scheduling (a third confirmed), so the
    // next one schedules again what was not confirmed; the second while ticks are being delivered.
    const triggers = [
      { kill: 1, what: 'a third of the ticks confirmed', reached: () => confirmed.size >= count / 3 },
      { kill: 2, what: 'half of the ticks received', reached: () => received.size >= count / 2 },
    ];
    for (const { kill, what, reached } of triggers) {
      await until(
        async () => reached(),
        (held) => held,
        () => `${what} (${confirmed.size} confirmed, ${received.size} received of ${count})`,
        waitMs,
        5,
      );
      const killedAtMs = Date.now();
      await child.kill();
      log(`kill ${kill}: SIGKILL at ${received.size} received, ${confirmed.size} confirmed`);
      child = await start(kill);
      downWindows.push([killedAtMs, Date.now() + STEADY_GRACE_MS]);
    }
    const database = () => new DatabaseSync(join(dir, 'inbox.sqlite'), { readOnly: true });
    await until(
      async () => {
        const reader = database();
        try {
          return (
            reader.prepare('SELECT count(DISTINCT n) AS ticks FROM received').get() as { ticks: number }
          ).ticks;
        } finally {
          reader.close();
        }
      },
      (ticks) => ticks >= count,
      () => `every tick to be recorded (${received.size} of ${count} printed)`,
      waitMs,
      200,
    );
    assert.equal(await child.stop(15_000), 0, `the last child stopped badly:\n${child.output()}`);
    const reader = database();
    const rows = reader.prepare('SELECT n, due_ms, received_ms FROM received').all() as {
      n: number;
      due_ms: number;
      received_ms: number;
    }[];
    reader.close();
    const times = new Map<number, number>();
    const lateness: number[] = [];
    const steady: number[] = [];
    for (const row of rows) {
      assert.ok(!times.has(row.n), `tick ${row.n} was recorded twice`);
      times.set(row.n, row.received_ms);
      assert.equal(row.due_ms, due[row.n], `tick ${row.n} carries the wrong due time`);
      assert.ok(
        row.received_ms >= row.due_ms,
        `tick ${row.n} arrived ${row.due_ms - row.received_ms} ms early`,
      );
      lateness.push(row.received_ms - row.due_ms);
      if (!downWindows.some(([from, to]) => row.due_ms >= from && row.due_ms <= to)) {
        steady.push(row.received_ms - row.due_ms);
      }
    }
    assert.equal(times.size, count, 'not every tick was recorded');
    return {
      count,
      kills: 2,
      latenessMs: percentiles(lateness),
      steadyLatenessMs: percentiles(steady),
      rescheduled,
      elapsedMs: Date.now() - startMs,
    };
  } finally {
    await child?.kill().catch(() => {});
  }
}
