/**
 * Crash harness of `test/crash.test.ts`: the broker through its public API (`embeddedTransport`),
 * in child processes killed with SIGKILL at seeded random moments.
 *
 * Publish cycles: `fixtures/crash-publisher.ts` publishes small batches from several concurrent
 * publishers and prints what it begins and what `publish` acknowledged. Its log runs on a
 * power-loss file system (bytes not fsynced die with the child), so a missing fsync shows. The harness reads its
 * stdout until the pipe closes (acks still in the pipe count), then reopens the broker here and
 * reads the whole topic with a fresh group: every acknowledged message must be there exactly once,
 * byte for byte (body hash); no message may appear twice or without having been published, and no
 * partition may start above offset 0 (no retention is configured).
 *
 * Ack cycles: `fixtures/crash-consumer.ts` consumes the topic in one group and prints each message
 * it gets and each `ack()` that resolved; it kill -9s itself right after calling `ack()` on a
 * seeded message, once an earlier ack resolved (or the harness kills it during start-up). The message number is aimed from the
 * group's unacked count, which the harness reads from the broker between children, so the child
 * always reaches it. A message whose ack resolved must never be delivered to the group again,
 * after any number of kills; a last child runs until every message is acked.
 *
 * Windows: the run fails unless at least one publisher kill landed with publishes in flight, at
 * least one consumer kill landed with acks in flight, and every aimed consumer kill did.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { embeddedTransport } from '@herald/broker';
import type { TransportMessage } from '@herald/bus';
import { createRandom, withDeadline } from '@herald/test-support';

/** Topic and group the children use. */
export const CRASH_TOPIC = 'crash';
export const CRASH_GROUP = 'crash-consumers';

/**
 * Faults the publisher child injects on purpose (`HERALD_TEST_FAULT`); each must turn the harness
 * red. `skip-fsync` is a fault of its (power-loss) disk: fsyncs return without syncing.
 */
export type BrokerCrashFault = 'drop-last-ack' | 'duplicate-one' | 'skip-fsync';

/** Options of {@link runBrokerCrash}. */
export interface BrokerCrashOptions {
  readonly directory: string;
  readonly seed: number;
  /** Kill cycles of the publisher child. */
  readonly publishCycles: number;
  /** Kill cycles of the consumer child (then one more runs until every message is acked). */
  readonly consumeCycles: number;
  /** Fault of the publisher child. */
  readonly publishFault?: BrokerCrashFault;
  /** Fault of the consumer child. */
  readonly consumeFault?: 'drop-last-ack';
  /** Whether to fail when no kill hit its window (default true). */
  readonly requireWindows?: boolean;
  /** The whole run fails after this long (default 25 s). */
  readonly deadlineMs?: number;
  /** Share of kills that land during start-up (default 0.15; fault tests use 0). */
  readonly earlyKillChance?: number;
  /** Publisher kills wait for this many acknowledged messages first (default 0). */
  readonly acksBeforeKill?: number;
  /**
   * Consumer kills land at this message number (default: seeded, at most the unacked messages
   * divided by the kill cycles left, so every cycle finds work).
   */
  readonly consumerKillAt?: number;
}

/** What a run verified. */
export interface BrokerCrashSummary {
  readonly acknowledgedMessages: number;
  readonly storedMessages: number;
  readonly publishKillsWithPublishesInFlight: number;
  readonly publishesInFlightAtKills: number;
  /** Consumer kills aimed at a message (the others land during start-up). */
  readonly consumeKillsAimed: number;
  readonly consumeKillsWithAcksInFlight: number;
  /** Acks the killed consumer children saw resolve (each one checked never to come back). */
  readonly acksResolvedBeforeKills: number;
  readonly acksInFlightAtKills: number;
  /** Consumer kill cycles skipped because the broker had no unacked message left. */
  readonly consumeCyclesWithNothingLeft: number;
  /** Deliveries of messages whose earlier delivery was not acked before a kill (allowed). */
  readonly redeliveries: number;
  readonly elapsedMs: number;
}

/** Small seeded PRNG (mulberry32): deterministic choices from a printed seed. */
export { createRandom };

/** SHA-256 of a body, hex. */
export function hashBody(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/** A message with a unique id (header and body prefix), a key for most, and a random-length body. */
export function crashMessage(id: string, random: () => number): TransportMessage {
  const filler = Array.from({ length: Math.floor(random() * 600) }, () =>
    Math.floor(random() * 16).toString(16),
  ).join('');
  return {
    key: random() < 0.8 ? `key-${Math.floor(random() * 20)}` : undefined,
    headers: { id },
    body: new TextEncoder().encode(`${id}|${filler}`),
  };
}

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');
const READY_DEADLINE_MS = 20_000;
const EXIT_DEADLINE_MS = 10_000;
/** How long an aimed kill waits for its line before it lands anyway. */
const AIM_WAIT_MS = 1000;
const POLL_INTERVAL_MS = 20;
/** Kills during start-up land within this long of the spawn. */
const EARLY_KILL_MS_MAX = 300;
/** A consumer child that received nothing for this long while the group has no lag is done. */
const IDLE_MS = 2_000;

/** Handles one line of a child; returns a violation to report, if any. */
type LineHandler = (kind: string, id: string, rest: string) => string | undefined;

/** A crash child: its readiness, its lines, its kill. */
class CrashChild {
  ready = false;
  violation: string | undefined;
  #onReady: (() => void) | undefined;
  #onAim: (() => void) | undefined;
  #stderr = '';
  readonly #process: ChildProcess;
  readonly #closed: Promise<number | null>;

  constructor(
    script: string,
    args: readonly string[],
    fault: string | undefined,
    onLine: LineHandler,
    aimAt: string,
  ) {
    this.#process = spawn(process.execPath, [path.join(FIXTURES, script), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HERALD_TEST_FAULT: fault ?? '' },
    });
    // 'close', not 'exit': lines still in the pipe when the process dies are read first.
    this.#closed = new Promise((resolve) => this.#process.once('close', (code) => resolve(code)));
    let buffered = '';
    this.#process.stdout!.setEncoding('utf8');
    this.#process.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      // Each iteration consumes one complete line, so the loop is bounded by the chunk.
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const [kind = '', id = '', rest = ''] = buffered.slice(0, newline).split(' ');
        buffered = buffered.slice(newline + 1);
        if (kind === 'ready') {
          this.ready = true;
          this.#onReady?.();
          continue;
        }
        this.violation ??= onLine(kind, id, rest);
        if (kind === aimAt) this.#onAim?.();
      }
    });
    this.#process.stderr!.setEncoding('utf8');
    this.#process.stderr!.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
  }

  async whenReady(): Promise<void> {
    if (this.ready) return;
    const ready = new Promise<void>((resolve) => {
      this.#onReady = resolve;
    });
    const closed = this.#closed.then((code) => {
      throw new Error(`crash child exited with code ${code} before it was ready: ${this.#stderr}`);
    });
    closed.catch(() => {}); // only observed through the race below
    await withDeadline(Promise.race([ready, closed]), READY_DEADLINE_MS, 'the crash child to be ready');
  }

  /** Resolves at the child's next line of the aimed kind, or after {@link AIM_WAIT_MS}. */
  nextAim(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, AIM_WAIT_MS);
      this.#onAim = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Waits until the child killed itself (see crash-consumer.ts), or until `idle()` says it has
   * nothing left to ack (acks that became durable without their `acked` line leave fewer messages
   * than the kill was aimed at), then checks it like {@link killAndDrain}.
   */
  async killedItself(idle: () => boolean): Promise<void> {
    let stop = false;
    const idleSeen = (async () => {
      while (!stop && !idle()) await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    })();
    try {
      await withDeadline(
        Promise.race([this.#closed, idleSeen]),
        READY_DEADLINE_MS,
        'the consumer child to kill itself mid-ack',
      );
    } finally {
      stop = true;
      await this.killAndDrain();
    }
  }

  /** SIGKILL, then waits until its pipes closed; throws if it failed on its own or broke a promise. */
  async killAndDrain(): Promise<void> {
    this.#process.kill('SIGKILL');
    const code = await withDeadline(
      this.#closed,
      EXIT_DEADLINE_MS,
      'the crash child to die and close its pipes',
    );
    if (code !== null)
      throw new Error(`crash child exited with code ${code} before it was killed: ${this.#stderr}`);
    if (this.violation !== undefined) throw new Error(this.violation);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Kills `child` at a seeded moment: sometimes during start-up, mostly right at an aimed line. */
async function killAtRandom(
  child: CrashChild,
  random: () => number,
  options: BrokerCrashOptions,
  acknowledgedSoFar: () => number = () => 0,
): Promise<void> {
  try {
    if (random() < (options.earlyKillChance ?? 0.15)) {
      await delay(random() * EARLY_KILL_MS_MAX);
    } else {
      await child.whenReady();
      const wanted = options.acksBeforeKill ?? 0;
      // Bounded by the ready deadline.
      for (const until = performance.now() + READY_DEADLINE_MS; acknowledgedSoFar() < wanted; ) {
        if (performance.now() > until)
          throw new Error(`the crash child acknowledged fewer than ${wanted} messages`);
        await delay(POLL_INTERVAL_MS);
      }
      await delay(random() * 200);
      await child.nextAim();
    }
  } finally {
    await child.killAndDrain();
  }
}

/** Reads the whole topic with a fresh group; returns id → body hash, failing on duplicates. */
async function readTopic(directory: string, group: string, deadlineAt: number): Promise<Map<string, string>> {
  const transport = await embeddedTransport({ dir: directory, partitions: 3 });
  try {
    if (!transport.broker.listTopics().includes(CRASH_TOPIC)) return new Map();
    const description = await transport.broker.describeTopic(CRASH_TOPIC);
    let expected = 0;
    for (const partition of description.partitions) {
      if (partition.logStartOffset !== 0n) {
        throw new Error(
          `partition ${partition.partition} starts at ${partition.logStartOffset}, not 0, though no retention is configured`,
        );
      }
      expected += Number(partition.highWatermark);
    }
    const stored = new Map<string, string>();
    let duplicate: string | undefined;
    let received = 0;
    let allReceived: () => void = () => {};
    const all = new Promise<void>((resolve) => {
      allReceived = resolve;
    });
    const subscription = await transport.subscribe(
      { topic: CRASH_TOPIC, group, inFlightMax: 64 },
      async (message) => {
        const id = message.headers.id!;
        if (stored.has(id)) {
          duplicate ??= `message ${id} is stored twice (a duplicate, again at ${message.partition}:${message.offset})`;
        }
        stored.set(id, hashBody(message.body));
        await message.ack();
        if (++received >= expected) allReceived();
      },
    );
    try {
      if (expected > 0) {
        await withDeadline(
          all,
          Math.max(1000, deadlineAt - performance.now()),
          `reading ${expected} stored messages`,
        );
      }
    } finally {
      await subscription.close();
    }
    if (duplicate !== undefined) throw new Error(duplicate);
    return stored;
  } finally {
    await transport.close();
  }
}

/** Runs the publish cycles, then the ack cycles; throws on the first violation. */
export async function runBrokerCrash(options: BrokerCrashOptions): Promise<BrokerCrashSummary> {
  const started = performance.now();
  const deadlineAt = started + (options.deadlineMs ?? 25_000);
  const random = createRandom(options.seed);
  const acknowledged = new Map<string, string>();
  const begun = new Set<string>();
  let publishKillsWithPublishesInFlight = 0;
  let publishesInFlightAtKills = 0;
  let stored = new Map<string, string>();
  for (let cycle = 1; cycle <= options.publishCycles; cycle++) {
    const inFlight = new Set<string>();
    const child = new CrashChild(
      'crash-publisher.ts',
      [options.directory, String(Math.floor(random() * 2 ** 31))],
      options.publishFault,
      (kind, id, hash) => {
        if (kind === 'begin') {
          begun.add(id);
          inFlight.add(id);
        } else if (kind === 'ack') {
          inFlight.delete(id);
          if (acknowledged.has(id)) return `message ${id} was acknowledged twice`;
          acknowledged.set(id, hash);
        }
        return undefined;
      },
      'begin',
    );
    const acknowledgedBefore = acknowledged.size;
    await killAtRandom(child, random, options, () => acknowledged.size - acknowledgedBefore);
    publishesInFlightAtKills += inFlight.size;
    if (inFlight.size > 0) publishKillsWithPublishesInFlight++;
    stored = await readTopic(options.directory, `verify-${cycle}`, deadlineAt);
    for (const [id, hash] of acknowledged) {
      const found = stored.get(id);
      if (found === undefined) throw new Error(`acknowledged message ${id} is missing after kill ${cycle}`);
      if (found !== hash) throw new Error(`acknowledged message ${id} came back with different bytes`);
    }
    for (const id of stored.keys()) {
      if (!begun.has(id)) throw new Error(`stored message ${id} was never published`);
    }
  }
  const consumed = await runAckCycles(options, random, stored, deadlineAt);
  if (options.requireWindows ?? true) {
    if (publishKillsWithPublishesInFlight === 0) {
      throw new Error(`none of the ${options.publishCycles} publisher kills landed with publishes in flight`);
    }
    if (consumed.misses.length > 0) {
      throw new Error(
        `${consumed.misses.length} aimed consumer kills landed with no ack in flight (${consumed.misses.join('; ')})`,
      );
    }
    if (options.consumeCycles > 0 && consumed.killsWithAcksInFlight === 0) {
      throw new Error(
        `none of the ${options.consumeCycles} consumer kills landed with acks in flight ` +
          `(${stored.size} messages stored; ${consumed.cyclesWithNothingLeft} cycles found nothing left to ack)`,
      );
    }
  }
  return {
    acknowledgedMessages: acknowledged.size,
    storedMessages: stored.size,
    publishKillsWithPublishesInFlight,
    publishesInFlightAtKills,
    consumeKillsAimed: consumed.killsAimed,
    consumeKillsWithAcksInFlight: consumed.killsWithAcksInFlight,
    acksResolvedBeforeKills: consumed.acksResolvedBeforeKills,
    acksInFlightAtKills: consumed.acksInFlightAtKills,
    consumeCyclesWithNothingLeft: consumed.cyclesWithNothingLeft,
    redeliveries: consumed.redeliveries,
    elapsedMs: performance.now() - started,
  };
}

/** Messages of the crash group not yet acked, as the broker stores them (the child is dead). */
async function unackedMessages(directory: string): Promise<number> {
  const transport = await embeddedTransport({ dir: directory, partitions: 3 });
  try {
    if (!transport.broker.listTopics().includes(CRASH_TOPIC)) return 0;
    const description = await transport.broker.describeGroup(CRASH_TOPIC, CRASH_GROUP);
    return Number(description.partitions.reduce((sum, partition) => sum + partition.lag, 0n));
  } finally {
    await transport.close();
  }
}

/** What {@link runAckCycles} counted. */
interface AckCycles {
  readonly killsAimed: number;
  readonly killsWithAcksInFlight: number;
  /** Acks reported resolved by the killed children: the ones that must never come back. */
  readonly acksResolvedBeforeKills: number;
  readonly acksInFlightAtKills: number;
  readonly cyclesWithNothingLeft: number;
  readonly redeliveries: number;
  /** Aimed kills that landed without an ack in flight (each one is a broken aim). */
  readonly misses: readonly string[];
}

/** Kills consumer children; a message whose ack resolved must never come back. */
async function runAckCycles(
  options: BrokerCrashOptions,
  random: () => number,
  stored: ReadonlyMap<string, string>,
  deadlineAt: number,
): Promise<AckCycles> {
  const acked = new Set<string>();
  const delivered = new Set<string>();
  const misses: string[] = [];
  let lag = -1n;
  let killsAimed = 0;
  let killsWithAcksInFlight = 0;
  let acksInFlightAtKills = 0;
  let cyclesWithNothingLeft = 0;
  let acksResolvedBeforeKills = 0;
  let redeliveries = 0;
  for (let cycle = 0; cycle <= options.consumeCycles; cycle++) {
    const acking = new Set<string>();
    let lastGotAt = performance.now();
    const last = cycle === options.consumeCycles;
    // The last kill cycle is aimed when no earlier one was, so every run has an aimed kill.
    const early =
      !last &&
      (killsAimed > 0 || cycle < options.consumeCycles - 1) &&
      random() < (options.earlyKillChance ?? 0.15);
    // The aim comes from the broker's own count of unacked messages, read here while no child
    // runs: the child's `acked` lines undercount (an ack can become durable without its line), and
    // an aim past what is left would never be reached. Each kill acks at most `span` messages, so
    // spreading what is left over the kill cycles left keeps work for every one of them.
    const left = last ? 0 : await unackedMessages(options.directory);
    if (!last && left === 0) {
      cyclesWithNothingLeft++;
      continue;
    }
    const span = Math.max(1, Math.floor(left / (options.consumeCycles - cycle)));
    // An early child is aimed too: should it get past start-up before the parent's kill lands, it
    // still stops at its aim instead of acking everything left.
    const killAt = last ? 0 : (options.consumerKillAt ?? 1 + Math.floor(random() * span));
    const child = new CrashChild(
      'crash-consumer.ts',
      [options.directory, String(killAt)],
      options.consumeFault,
      (kind, id) => {
        if (kind === 'got') {
          lastGotAt = performance.now();
          if (acked.has(id)) return `message ${id} was delivered again after its ack resolved (a lost ack)`;
          if (!stored.has(id)) return `message ${id} was delivered but never stored`;
          if (delivered.has(id)) redeliveries++;
          delivered.add(id);
        } else if (kind === 'acking') {
          acking.add(id);
        } else if (kind === 'acked') {
          acking.delete(id);
          acked.add(id);
        } else if (kind === 'lag') {
          lag = BigInt(id);
        }
        return undefined;
      },
      'acking',
    );
    if (!last) {
      if (early) {
        await delay(random() * EARLY_KILL_MS_MAX);
        await child.killAndDrain();
      } else {
        killsAimed++;
        lag = -1n; // this child's own reports only
        // A safety net only (a fixed `consumerKillAt` can lie past what is left): the broker
        // reports no lag and this child has received nothing for a while. Such a kill is a miss.
        await child.killedItself(() => lag === 0n && performance.now() - lastGotAt > IDLE_MS);
        if (acking.size === 0) {
          misses.push(`consumer kill ${cycle + 1} aimed at message ${killAt} of ${left} unacked`);
        }
      }
      acksInFlightAtKills += acking.size;
      if (acking.size > 0) killsWithAcksInFlight++;
      continue;
    }
    // The last child runs until every stored message was acked, then is killed too.
    acksResolvedBeforeKills = acked.size;
    try {
      await child.whenReady();
      // Bounded by the run's deadline.
      // Done when the broker reports no lag and every message was delivered at least once: an ack
      // that resolved right before a kill may have gone unreported, so `acked` can stay short.
      while ((lag !== 0n || delivered.size < stored.size) && child.violation === undefined) {
        if (performance.now() > deadlineAt) {
          const missing = [...stored.keys()].filter((id) => !delivered.has(id)).slice(0, 5);
          throw new Error(
            `broker crash run passed its deadline: group lag ${lag}, ${delivered.size} of ${stored.size} messages ` +
              `delivered (never delivered: ${missing.join(', ')})`,
          );
        }
        await delay(POLL_INTERVAL_MS);
      }
    } finally {
      await child.killAndDrain();
    }
  }
  return {
    killsAimed,
    killsWithAcksInFlight,
    acksResolvedBeforeKills,
    acksInFlightAtKills,
    cyclesWithNothingLeft,
    redeliveries,
    misses,
  };
}

export { printLine } from '@herald/test-support';
