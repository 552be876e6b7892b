/**
 * Crash harness of `test/inbox-crash.test.ts`. Publishes N deposits to an embedded broker in a
 * temporary directory, then runs `test/fixtures/inbox-consumer.ts` on it and SIGKILLs the child at
 * seeded random moments — mostly once the effects table reached a random progress mark, sometimes
 * during start-up — restarting it until every event has an effect. Then it counts, per event id,
 * the effect rows: none is a lost event, more than one an effect applied twice; and it checks every
 * account balance against the sum of its deposits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedTransport } from '@herald/broker';
import { type Envelope, encodeEnvelope, type TransportMessage } from '@herald/bus';
import { createRandom, withDeadline } from '@herald/test-support';
import { type CrashFault, type CrashMode, crashSchemaSql, Deposited } from './crash-workload.ts';
import { countRows, type Scratch, scratchSchema } from './scratch.ts';

/** Options of {@link runInboxCrash}. */
export interface InboxCrashOptions {
  readonly mode: CrashMode;
  /** Seed of every random choice: deposits, kill moments. */
  readonly seed: number;
  /** Events published (default 10,000). */
  readonly events?: number;
  /** Accounts the deposits are spread over (default 50). */
  readonly accounts?: number;
  /** Kills before the last child is left to finish (default 12). */
  readonly kills?: number;
  /** The whole run fails after this long (default 60 s). */
  readonly deadlineMs?: number;
  /** Test-only fault the consumer child injects (`HERALD_TEST_FAULT`), to prove the test fails. */
  readonly fault?: CrashFault;
  /** Receives one line per child. */
  readonly progress?: (line: string) => void;
}

/** What a run found. */
export interface InboxCrashSummary {
  readonly mode: CrashMode;
  readonly seed: number;
  readonly events: number;
  /** Children killed with SIGKILL while events remained (the final one, killed after completion, is not counted). */
  readonly kills: number;
  /** Of those, kills that hit before the child reported ready (broker recovery, connecting). */
  readonly killsBeforeReady: number;
  /** Event ids published but without an effect row (first 10 in `lostIds`). */
  readonly lost: number;
  readonly lostIds: readonly string[];
  /** Effect rows beyond the first for an event id (an effect applied twice adds one). */
  readonly duplicateEffects: number;
  /** Event ids with more than one effect row. */
  readonly eventsAppliedMoreThanOnce: number;
  /** Effect rows whose event id was never published. */
  readonly unexpectedEffects: number;
  /** Accounts whose balance differs from the sum of their effect rows, or from the sum of their deposits. */
  readonly balancesOffFromEffects: number;
  readonly balancesOffFromDeposits: number;
  /** Redeliveries the inbox skipped as duplicates, as last reported by the children (a lower bound). */
  readonly skippedByInbox: number;
  readonly elapsedMs: number;
}

const CONSUMER_PATH = path.join(import.meta.dirname, '..', 'fixtures', 'inbox-consumer.ts');
const SOURCE = '/herald/crash-test/producer';
/**
 * Deposits per publish, like a producer batching a little. Large batches make the consumer slow:
 * the broker re-reads and decodes a whole batch to refill one free slot of its window.
 */
const PUBLISH_BATCH = 25;
const READY_DEADLINE_MS = 20_000;
const EXIT_DEADLINE_MS = 10_000;
/** Progress polls are cheap (a count over at most a few tens of thousands of rows) but compete for the CPU. */
const POLL_INTERVAL_MS = 20;
/** Chance that a kill hits during start-up instead of at a progress mark. */
const EARLY_KILL_CHANCE = 0.15;

/** Small seeded PRNG (mulberry32): deterministic choices from a printed seed. */
export { createRandom };

interface Deposit {
  readonly id: string;
  readonly account: string;
  readonly amountCents: number;
}

/** Runs one crash run; throws when the run cannot complete (child failure, deadline). */
export async function runInboxCrash(options: InboxCrashOptions): Promise<InboxCrashSummary> {
  const started = performance.now();
  const deadlineAt = started + (options.deadlineMs ?? 60_000);
  const random = createRandom(options.seed);
  const accountNames = Array.from({ length: options.accounts ?? 50 }, (_, index) => `acct-${index}`);
  const deposits: Deposit[] = Array.from({ length: options.events ?? 10_000 }, (_, index) => ({
    id: `deposit-${options.seed}-${index}`,
    account: accountNames[Math.floor(random() * accountNames.length)]!,
    amountCents: 1 + Math.floor(random() * 1000),
  }));
  const scratch = await scratchSchema(`herald_crash_${options.mode}`);
  const directory = await mkdtemp(path.join(tmpdir(), 'herald-inbox-crash-'));
  try {
    await scratch.pool.query(crashSchemaSql(scratch.schema));
    await scratch.pool.query(`insert into ${scratch.schema}.accounts (account) select unnest($1::text[])`, [
      accountNames,
    ]);
    await publishDeposits(directory, deposits);
    options.progress?.(
      `${options.mode}: published ${deposits.length} events in ${Math.round(performance.now() - started)} ms`,
    );
    const run = new ChildRuns(directory, options, scratch, random, deadlineAt);
    await run.killRepeatedly(options.kills ?? 12, deposits.length);
    await run.finish(deposits.length);
    const found = await verify(scratch, deposits, accountNames);
    return {
      mode: options.mode,
      seed: options.seed,
      events: deposits.length,
      kills: run.kills,
      killsBeforeReady: run.killsBeforeReady,
      skippedByInbox: run.skippedByInbox,
      ...found,
      elapsedMs: performance.now() - started,
    };
  } finally {
    await rm(directory, { recursive: true, force: true });
    await scratch.drop();
  }
}

/** Publishes every deposit to the broker in `directory`, in batches, then closes it. */
async function publishDeposits(directory: string, deposits: readonly Deposit[]): Promise<void> {
  const transport = await embeddedTransport({ dir: directory });
  try {
    const time = new Date().toISOString();
    for (let start = 0; start < deposits.length; start += PUBLISH_BATCH) {
      const batch: TransportMessage[] = deposits.slice(start, start + PUBLISH_BATCH).map((deposit) => {
        const envelope: Envelope = {
          specversion: '1.0',
          id: deposit.id,
          source: SOURCE,
          type: Deposited.type,
          time,
          datacontenttype: 'application/json',
          partitionkey: deposit.account,
          dataversion: 1,
          extensions: {},
          data: { account: deposit.account, amountCents: deposit.amountCents },
        };
        return encodeEnvelope(envelope);
      });
      await transport.publish(Deposited.topic, batch);
    }
  } finally {
    await transport.close();
  }
}

/** Spawns, watches and kills consumer children one after another. */
class ChildRuns {
  kills = 0;
  killsBeforeReady = 0;
  skippedByInbox = 0;
  readonly #directory: string;
  readonly #options: InboxCrashOptions;
  readonly #scratch: Scratch;
  readonly #random: () => number;
  readonly #deadlineAt: number;

  constructor(
    directory: string,
    options: InboxCrashOptions,
    scratch: Scratch,
    random: () => number,
    deadlineAt: number,
  ) {
    this.#directory = directory;
    this.#options = options;
    this.#scratch = scratch;
    this.#random = random;
    this.#deadlineAt = deadlineAt;
  }

  /** Kills `kills` children, each at its own random progress mark (sorted, spread over the run). */
  async killRepeatedly(kills: number, events: number): Promise<void> {
    const marks = Array.from({ length: kills }, () =>
      Math.floor((0.02 + 0.9 * this.#random()) * events),
    ).sort((left, right) => left - right);
    for (const mark of marks) {
      const child = this.#spawn();
      try {
        if (this.#random() < EARLY_KILL_CHANCE) {
          await delay(this.#random() * 400);
          if (!child.ready) this.killsBeforeReady += 1;
        } else {
          await child.whenReady();
          await this.#waitUntil(
            child,
            async () => (await this.#effects()) >= mark,
            `effect rows to reach ${mark}`,
          );
          // A little more, so the kill does not always land right after the poll.
          await delay(this.#random() * POLL_INTERVAL_MS);
        }
      } finally {
        await child.kill();
      }
      if ((await this.#distinctEffects()) >= events) {
        throw new Error(
          `every event was processed after ${this.kills + 1} kills, before the ${marks.length} planned: ` +
            'lower the progress marks so the kills land while events remain',
        );
      }
      this.kills += 1;
      this.#options.progress?.(
        `${this.#options.mode}: kill ${this.kills}/${marks.length} at mark ${mark}, ${await this.#effects()} effect rows`,
      );
    }
  }

  /** Runs a last child until every event has an effect, then kills it too. */
  async finish(events: number): Promise<void> {
    const child = this.#spawn();
    try {
      await child.whenReady();
      await this.#waitUntil(
        child,
        // count(*) is cheaper than count(distinct); the latter only once there are enough rows.
        // A group without lag has handled everything: an event still without an effect is lost.
        async () =>
          child.lag === 0n ||
          ((await this.#effects()) >= events && (await this.#distinctEffects()) >= events),
        'every event to have an effect',
      );
    } finally {
      await child.kill();
    }
  }

  #spawn(): Child {
    const { mode } = this.#options;
    const child = new Child(
      [CONSUMER_PATH, this.#directory, mode, this.#scratch.schema],
      this.#options.fault,
    );
    child.onSkipped = (count) => {
      this.skippedByInbox += count;
    };
    return child;
  }

  #effects(): Promise<number> {
    return countRows(this.#scratch.pool, `${this.#scratch.schema}.effects`);
  }

  async #distinctEffects(): Promise<number> {
    const result = await this.#scratch.pool.query(
      `select count(distinct event_id)::int as count from ${this.#scratch.schema}.effects`,
    );
    return result.rows[0].count as number;
  }

  async #waitUntil(child: Child, condition: () => Promise<boolean>, what: string): Promise<void> {
    // Bounded by the run's deadline.
    while (!(await condition())) {
      child.assertRunning();
      if (performance.now() > this.#deadlineAt) {
        throw new Error(`crash run (${this.#options.mode}) passed its deadline waiting for ${what}`);
      }
      await delay(POLL_INTERVAL_MS);
    }
  }
}

/** One consumer process: its readiness, the inbox's skip count it reports, and its death. */
class Child {
  ready = false;
  /** The group's unacked messages as the child last reported them (-1: not yet). */
  lag = -1n;
  onSkipped: (count: number) => void = () => {};
  readonly #process: ChildProcess;
  readonly #exited: Promise<number | null>;
  #stderr = '';
  #skipped = 0;
  #onReady: (() => void) | undefined;
  #killed = false;
  #exitCode: number | null | undefined;

  constructor(args: readonly string[], fault: CrashFault | undefined) {
    this.#process = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HERALD_TEST_FAULT: fault ?? '' },
    });
    this.#exited = new Promise((resolve) =>
      this.#process.once('exit', (code) => {
        this.#exitCode = code;
        resolve(code);
      }),
    );
    let buffered = '';
    this.#process.stdout!.setEncoding('utf8');
    this.#process.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      // Each iteration consumes one complete line, so the loop is bounded by the chunk.
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        this.#line(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
    });
    this.#process.stderr!.setEncoding('utf8');
    this.#process.stderr!.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
  }

  #line(line: string): void {
    const [kind, value] = line.split(' ');
    if (kind === 'ready') {
      this.ready = true;
      this.#onReady?.();
    } else if (kind === 'lag') {
      this.lag = BigInt(value ?? '-1');
    } else if (kind === 'skipped') {
      const count = Number(value);
      this.onSkipped(count - this.#skipped);
      this.#skipped = count;
    }
  }

  /** Throws when the child died without being killed. */
  assertRunning(): void {
    if (this.#exitCode !== undefined && !this.#killed) {
      throw new Error(`consumer exited with code ${this.#exitCode} on its own: ${this.#stderr}`);
    }
  }

  /** Resolves once the child consumes; rejects if it exits first or takes too long. */
  async whenReady(): Promise<void> {
    if (this.ready) return;
    const ready = new Promise<void>((resolve) => {
      this.#onReady = resolve;
    });
    const exited = this.#exited.then((code) => {
      throw new Error(`consumer exited with code ${code} before it was ready: ${this.#stderr}`);
    });
    await withDeadline(Promise.race([ready, exited]), READY_DEADLINE_MS, 'the consumer to be ready');
  }

  /** SIGKILLs the child and waits for it to die; throws if it had failed on its own. */
  async kill(): Promise<void> {
    if (this.#killed) return;
    this.#killed = true;
    this.#process.kill('SIGKILL');
    const code = await withDeadline(this.#exited, EXIT_DEADLINE_MS, 'the consumer to die');
    if (code !== null)
      throw new Error(`consumer exited with code ${code} before it was killed: ${this.#stderr}`);
  }
}

/** Counts effect rows per event id and compares balances. */
async function verify(scratch: Scratch, deposits: readonly Deposit[], accounts: readonly string[]) {
  const { schema, pool } = scratch;
  const rows = await pool.query(
    `select event_id, count(*)::int as count from ${schema}.effects group by event_id`,
  );
  const counts = new Map<string, number>(
    rows.rows.map((row) => [row.event_id as string, row.count as number]),
  );
  const lostIds = deposits.filter((deposit) => !counts.has(deposit.id)).map((deposit) => deposit.id);
  const published = new Set(deposits.map((deposit) => deposit.id));
  let duplicateEffects = 0;
  let eventsAppliedMoreThanOnce = 0;
  let unexpectedEffects = 0;
  for (const [id, count] of counts) {
    if (!published.has(id)) unexpectedEffects += count;
    if (count > 1) {
      duplicateEffects += count - 1;
      eventsAppliedMoreThanOnce += 1;
    }
  }
  const expected = new Map<string, number>(accounts.map((account) => [account, 0]));
  for (const deposit of deposits)
    expected.set(deposit.account, expected.get(deposit.account)! + deposit.amountCents);
  const balances = await pool.query(
    `select a.account, a.balance_cents::bigint as balance, coalesce(sum(e.amount_cents), 0)::bigint as effects ` +
      `from ${schema}.accounts a left join ${schema}.effects e on e.account = a.account group by a.account, a.balance_cents`,
  );
  let balancesOffFromEffects = 0;
  let balancesOffFromDeposits = 0;
  for (const row of balances.rows) {
    if (row.balance !== row.effects) balancesOffFromEffects += 1;
    if (Number(row.balance) !== expected.get(row.account as string)) balancesOffFromDeposits += 1;
  }
  return {
    lost: lostIds.length,
    lostIds: lostIds.slice(0, 10),
    duplicateEffects,
    eventsAppliedMoreThanOnce,
    unexpectedEffects,
    balancesOffFromEffects,
    balancesOffFromDeposits,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Throws unless `summary` keeps the mode's promise and its kills hit the window it exists for.
 * Mode `inbox`: nothing lost, applied twice or unexpected, balances exact, and at least one
 * redelivery skipped by the inbox (a kill landed between commit and ack). Mode `none`: nothing lost
 * or unexpected, balances consistent with their effects, and at least one duplicate effect (the same
 * window, seen from at-least-once delivery).
 */
export function assertCrashRun(summary: InboxCrashSummary): void {
  const replay = `(seed ${summary.seed}, mode ${summary.mode})`;
  const fail = (what: string): never => {
    throw new Error(`inbox crash run failed: ${what} ${replay}`);
  };
  if (summary.lost > 0) fail(`${summary.lost} events lost, e.g. ${summary.lostIds.join(', ')}`);
  if (summary.unexpectedEffects > 0) fail(`${summary.unexpectedEffects} effects of events never published`);
  if (summary.balancesOffFromEffects > 0) {
    fail(`${summary.balancesOffFromEffects} balances differ from their effect rows`);
  }
  if (summary.mode === 'inbox') {
    if (summary.duplicateEffects > 0) fail(`${summary.duplicateEffects} effects applied twice`);
    if (summary.balancesOffFromDeposits > 0) {
      fail(`${summary.balancesOffFromDeposits} balances differ from the deposits`);
    }
    if (summary.skippedByInbox === 0) {
      fail(`no kill of ${summary.kills} landed between commit and ack: the inbox skipped no redelivery`);
    }
  } else if (summary.duplicateEffects === 0) {
    fail(`no kill of ${summary.kills} landed between commit and ack: no duplicate effect without the inbox`);
  }
}
