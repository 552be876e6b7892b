/**
 * Model-based test of the broker's consumer-group semantics (fast-check `fc.commands`): random
 * sequences of publish, subscribe, unsubscribe, ack, stale ack, nack (with and without a delay),
 * clock advances past the visibility timeout, clean restarts and crashes (the data directory as a
 * kill -9 leaves it, reopened) run against a real broker and a small reference model: what was
 * published (per key, in order), what was acked, what each subscriber holds and what waits for a
 * nack delay. Time is virtual (`mock.timers` drives `Date` and `setTimeout`, so a 30 s visibility
 * timeout passes at once); the disk is real.
 *
 * After every command the broker must satisfy, against the model:
 * - a delivery is of a published message, not acked, not held already, and every earlier message
 *   of its key is acked (per-key order); no subscriber holds more than its `inFlightMax`;
 * - progress: once the broker settles, every deliverable message (unacked, not held, its key's
 *   earlier messages acked, no nack delay pending) is held, unless every subscriber is full.
 *
 * A failure prints fast-check's seed and the shrunk command list; BROKER_MODEL_SEED=<n> replays
 * it, BROKER_MODEL_RUNS sets the number of runs (default 100).
 */
import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it, mock } from 'node:test';
import { type Broker, openBroker } from '@herald/broker';
import type { ReceivedMessage, Subscription } from '@herald/bus';
import { temporaryDirectory } from '@herald/test-support';
import fc from 'fast-check';

const TOPIC = 'model';
const GROUP = 'model-group';
const PARTITIONS = 2;
const VISIBILITY_TIMEOUT_MS = 30_000;
const KEYS = ['a', 'b', 'c', undefined] as const;
const MEMBERS_MAX = 2;
/** Real time a settle may take (disk reads and fsyncs; the clock does not move meanwhile). */
const SETTLE_TIMEOUT_MS = 10_000;
const RUNS = Number(process.env.BROKER_MODEL_RUNS ?? 100);
const SEED = process.env.BROKER_MODEL_SEED === undefined ? undefined : Number(process.env.BROKER_MODEL_SEED);
/** fast-check's path to one failing case of a seed (printed with it): replays that case alone. */
const PATH = process.env.BROKER_MODEL_PATH;
// Taken before mock.timers replaces the global: the settle loop waits in real time.
const realSetTimeout = globalThis.setTimeout;

interface Published {
  readonly id: string;
  readonly key: string | undefined;
}

/** The reference model: what the broker must have done, whatever order it chose. */
interface Model {
  readonly published: Published[];
  /** Ids whose ack was requested on a current delivery (and resolved, once the command ends). */
  readonly acked: Set<string>;
  /** Virtual now (ms since the epoch). */
  nowMs: number;
  /** Nacked ids → when they become deliverable again. */
  readonly parkedUntilMs: Map<string, number>;
  members: number;
}

interface Holding {
  readonly message: ReceivedMessage;
  readonly member: number;
  readonly deliveredAtMs: number;
}

/** The system under test and what its subscribers observed. */
interface Real {
  readonly dirs: string[];
  broker: Broker;
  readonly subscriptions: (Subscription | undefined)[];
  readonly inFlightMax: number[];
  /** Current deliveries by id. */
  readonly held: Map<string, Holding>;
  /** Deliveries that expired or were released (settling them must do nothing). */
  readonly stale: ReceivedMessage[];
  readonly violations: string[];
  model: Model;
  /** Bumped when the broker is closed: a late delivery of a closed broker cannot be settled. */
  generation: number;
  /** Per member, the token of its live subscription: a late delivery to one that left is stale. */
  readonly tokens: (object | undefined)[];
}

const counts = new Map<string, number>();
const count = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);

function earlierOfKey(model: Model, id: string): Published[] {
  const index = model.published.findIndex((message) => message.id === id);
  const key = model.published[index]?.key;
  if (key === undefined) return [];
  return model.published.slice(0, index).filter((message) => message.key === key);
}

/** The subscriber handler: checks each delivery against the model as it happens. */
function handlerFor(real: Real, member: number) {
  const generation = real.generation;
  const token = {};
  real.tokens[member] = token;
  return async (message: ReceivedMessage) => {
    const id = message.headers['x-id']!;
    if (generation !== real.generation || real.tokens[member] !== token) {
      real.stale.push(message);
      return;
    }
    const model = real.model;
    if (!model.published.some((published) => published.id === id))
      real.violations.push(`${id}: never published`);
    if (model.acked.has(id)) real.violations.push(`${id}: delivered after its ack`);
    if (real.held.has(id))
      real.violations.push(`${id}: delivered while held by member ${real.held.get(id)!.member}`);
    for (const earlier of earlierOfKey(model, id)) {
      if (!model.acked.has(earlier.id)) {
        real.violations.push(`${id}: delivered before ${earlier.id} (key ${earlier.key}) was acked`);
      }
    }
    real.held.set(id, { message, member, deliveredAtMs: Date.now() });
    const holding = [...real.held.values()].filter((held) => held.member === member).length;
    if (holding > real.inFlightMax[member]!) {
      real.violations.push(`member ${member} holds ${holding} > inFlightMax ${real.inFlightMax[member]}`);
    }
  };
}

/** Ids the broker must be delivering now: unacked, not held, not parked, earlier ones of the key acked. */
function deliverable(real: Real): string[] {
  const model = real.model;
  return model.published
    .filter(({ id }) => !model.acked.has(id) && !real.held.has(id))
    .filter(({ id }) => (model.parkedUntilMs.get(id) ?? 0) <= model.nowMs)
    .filter(({ id }) => earlierOfKey(model, id).every((earlier) => model.acked.has(earlier.id)))
    .map(({ id }) => id);
}

function membersWithRoom(real: Real): number[] {
  const room: number[] = [];
  real.subscriptions.forEach((subscription, member) => {
    if (subscription === undefined) return;
    const holding = [...real.held.values()].filter((held) => held.member === member).length;
    if (holding < real.inFlightMax[member]!) room.push(member);
  });
  return room;
}

/** Waits (in real time) until the broker delivered what it must; then checks the violations. */
async function settle(real: Real, after: string): Promise<void> {
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const waiting = deliverable(real);
    if (real.violations.length > 0) break;
    if (waiting.length === 0 || membersWithRoom(real).length === 0) break;
    if (performance.now() > deadline) {
      real.violations.push(
        `after ${after}: ${waiting.join(', ')} deliverable but not delivered; members ${membersWithRoom(real).join(', ')} have room`,
      );
      break;
    }
    await new Promise((resolve) => realSetTimeout(resolve, 2));
  }
  assert.deepEqual(real.violations, [], `after ${after}`);
}

async function subscribe(real: Real, member: number): Promise<void> {
  real.subscriptions[member] = await real.broker.subscribe(
    { topic: TOPIC, group: GROUP, inFlightMax: real.inFlightMax[member]! },
    handlerFor(real, member),
  );
}

/** Every current delivery becomes stale (its subscriber left, or the broker went away). */
function dropHeld(real: Real, member?: number): void {
  for (const [id, held] of [...real.held]) {
    if (member !== undefined && held.member !== member) continue;
    real.held.delete(id);
    real.stale.push(held.message);
  }
}

/** Reopens the broker on `dir` and subscribes the members that were subscribed. */
async function reopen(real: Real, dir: string): Promise<void> {
  real.broker = await openBroker({ dir, partitions: PARTITIONS, visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS });
  for (let member = 0; member < MEMBERS_MAX; member += 1) {
    if (real.subscriptions[member] !== undefined) await subscribe(real, member);
  }
}

type Command = fc.AsyncCommand<Model, Real>;

const sequence = { next: 0 };

/** A command: `check` says whether it applies to the model, `run` applies it to both. */
function command(
  name: string,
  run: (model: Model, real: Real) => Promise<void>,
  check: (model: Model) => boolean = () => true,
): Command {
  return { check, run, toString: () => name };
}

function publish(key: string | undefined, size: number): Command {
  const name = `publish(${key ?? '-'} x${size})`;
  return command(name, async (model, real) => {
    count('publish');
    const ids = Array.from({ length: size }, () => `m${sequence.next++}`);
    // The model learns of them first: the broker may deliver before publish resolves.
    for (const id of ids) model.published.push({ id, key });
    const messages = ids.map((id) => ({ key, headers: { 'x-id': id }, body: new TextEncoder().encode(id) }));
    await real.broker.publish(TOPIC, messages);
    await settle(real, name);
  });
}

function subscribeMember(member: number): Command {
  const name = `subscribe(${member})`;
  return command(
    name,
    async (model, real) => {
      if (real.subscriptions[member] !== undefined) return;
      count('subscribe');
      model.members += 1;
      await subscribe(real, member);
      await settle(real, name);
    },
    (model) => model.members < MEMBERS_MAX,
  );
}

function unsubscribe(member: number): Command {
  const name = `unsubscribe(${member})`;
  return command(
    name,
    async (model, real) => {
      const subscription = real.subscriptions[member];
      if (subscription === undefined) return;
      count('unsubscribe');
      real.subscriptions[member] = undefined;
      real.tokens[member] = undefined;
      model.members -= 1;
      // Its deliveries are stale from here on (the token is gone); what it held goes back.
      dropHeld(real, member);
      await subscription.close();
      await settle(real, name);
    },
    (model) => model.members > 0,
  );
}

/** Picks a held delivery by `pick` (an index into the held ones, in delivery order). */
function pickHeld(real: Real, pick: number): [string, Holding] | undefined {
  const held = [...real.held];
  return held.length === 0 ? undefined : held[pick % held.length];
}

function ack(pick: number): Command {
  return command(`ack(${pick})`, async (model, real) => {
    const chosen = pickHeld(real, pick);
    if (chosen === undefined) return;
    count('ack');
    const [id, held] = chosen;
    model.acked.add(id);
    real.held.delete(id);
    await held.message.ack();
    await settle(real, `ack(${pick}) of ${id}`);
  });
}

function ackStale(pick: number): Command {
  const name = `ackStale(${pick})`;
  return command(name, async (_model, real) => {
    if (real.stale.length === 0) return;
    count('ackStale');
    // Settling a delivery that expired or was released must do nothing: the model keeps it unacked.
    await real.stale[pick % real.stale.length]!.ack();
    await settle(real, name);
  });
}

function nack(pick: number, delayMs: number): Command {
  return command(`nack(${pick}, ${delayMs} ms)`, async (model, real) => {
    const chosen = pickHeld(real, pick);
    if (chosen === undefined) return;
    count(delayMs === 0 ? 'nack' : 'nackDelayed');
    const [id, held] = chosen;
    real.held.delete(id);
    if (delayMs > 0) model.parkedUntilMs.set(id, model.nowMs + delayMs);
    await held.message.nack({ delayMs });
    await settle(real, `nack(${pick}, ${delayMs} ms) of ${id}`);
  });
}

function advanceClock(byMs: number): Command {
  const name = `advanceClock(${byMs} ms)`;
  return command(name, async (model, real) => {
    count('advanceClock');
    model.nowMs += byMs;
    // Deliveries unsettled for the visibility timeout go back to the group (a scan at or after it).
    for (const [id, held] of [...real.held]) {
      if (held.deliveredAtMs + VISIBILITY_TIMEOUT_MS <= model.nowMs) {
        real.held.delete(id);
        real.stale.push(held.message);
      }
    }
    mock.timers.tick(byMs);
    await settle(real, name);
  });
}

/** Copies made of a live data directory before giving up on a stable one. */
const CRASH_COPIES_MAX = 5;

/**
 * A copy of the live data directory `dir`, without its lock file. The broker keeps writing while
 * it is copied, so a file listed may be gone before it is read (a checkpoint's `.tmp` renamed, a
 * segment removed: ENOENT); such a copy is discarded and taken again.
 */
async function copyAsCrashed(dir: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const next = temporaryDirectory('herald-broker-model-');
    try {
      await cp(dir, next, { recursive: true, filter: (source) => path.basename(source) !== 'herald.lock' });
      return next;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= CRASH_COPIES_MAX) throw error;
      await rm(next, { recursive: true, force: true });
    }
  }
}

function restart(crash: boolean): Command {
  const name = crash ? 'crash' : 'restart';
  return command(name, async (model, real) => {
    count(name);
    const old = real.broker;
    const dir = real.dirs.at(-1)!;
    let next = dir;
    if (crash) {
      // What kill -9 leaves: every write made so far, no close. The lock's owner is "dead".
      next = await copyAsCrashed(dir);
      real.dirs.push(next);
    }
    real.generation += 1;
    await old.close();
    dropHeld(real);
    // Nack delays live in memory: after a restart the message is deliverable at once (sooner
    // than asked, which at-least-once allows).
    model.parkedUntilMs.clear();
    await reopen(real, next);
    await settle(real, name);
  });
}

const commands = [
  fc.tuple(fc.constantFrom(...KEYS), fc.integer({ min: 1, max: 3 })).map(([key, size]) => publish(key, size)),
  fc.integer({ min: 0, max: MEMBERS_MAX - 1 }).map((member) => subscribeMember(member)),
  fc.integer({ min: 0, max: MEMBERS_MAX - 1 }).map((member) => unsubscribe(member)),
  fc.nat(20).map((pick) => ack(pick)),
  fc.nat(20).map((pick) => ack(pick)),
  fc.nat(20).map((pick) => ackStale(pick)),
  fc.tuple(fc.nat(20), fc.constantFrom(0, 0, 5_000, 60_000)).map(([pick, delayMs]) => nack(pick, delayMs)),
  fc
    .constantFrom(1_000, 10_000, VISIBILITY_TIMEOUT_MS, 2 * VISIBILITY_TIMEOUT_MS)
    .map((byMs) => advanceClock(byMs)),
  fc.boolean().map((crash) => restart(crash)),
];

/** Runs `list` against a fresh broker (members' `inFlightMax` given) and its model. */
async function runCommands(list: Iterable<Command>, inFlightMax: number[]): Promise<void> {
  const startMs = 1_800_000_000_000;
  mock.timers.enable({ apis: ['Date', 'setTimeout'], now: startMs });
  const dir = temporaryDirectory('herald-broker-model-');
  const model: Model = {
    published: [],
    acked: new Set(),
    nowMs: startMs,
    parkedUntilMs: new Map(),
    members: 0,
  };
  const real: Real = {
    dirs: [dir],
    broker: await openBroker({ dir, partitions: PARTITIONS, visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS }),
    subscriptions: [],
    inFlightMax,
    held: new Map(),
    stale: [],
    violations: [],
    model,
    generation: 0,
    tokens: [],
  };
  try {
    await fc.asyncModelRun(() => ({ model, real }), list);
  } finally {
    await real.broker.close().catch(() => {});
    mock.timers.reset();
    await Promise.all(real.dirs.map((each) => rm(each, { recursive: true, force: true })));
  }
}

describe('broker consumer group against a reference model', {
  timeout: Math.max(240_000, RUNS * 3_000),
}, () => {
  it('groups model - deliveries, acks, nacks, visibility timeouts, restarts and crashes match the model', async (t) => {
    const seed = SEED ?? Math.floor(Math.random() * 2 ** 31);
    t.diagnostic(`seed ${seed} (replay with BROKER_MODEL_SEED=${seed}), ${RUNS} runs`);
    let commandsRun = 0;
    const property = fc.asyncProperty(
      fc.commands(commands, { maxCommands: 40, size: 'max' }),
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: MEMBERS_MAX, maxLength: MEMBERS_MAX }),
      async (list, inFlightMax) => {
        await runCommands(list, inFlightMax);
        commandsRun += [...list].length;
      },
    );
    await fc.assert(property, { seed, numRuns: RUNS, ...(PATH === undefined ? {} : { path: PATH }) });
    t.diagnostic(`${commandsRun} commands in ${RUNS} runs: ${JSON.stringify(Object.fromEntries(counts))}`);
  });

  // Found by this test (a harness bug, kept so it stays fixed): a nack delay is forgotten on a
  // restart, and a delivery of the closed broker arriving late must not count as settleable.
  it('groups model - regression: a nacked message after a restart and a crash, acked, stays acked', async () => {
    await runCommands(
      [
        subscribeMember(0),
        publish('a', 1),
        nack(0, 60_000),
        restart(false),
        restart(true),
        ack(0),
        restart(true),
      ],
      [1, 1],
    );
  });
});
