/**
 * Model-based test of the Kafka group coordinator (fast-check `fc.commands`): three clients join
 * (some answers lost on the way), sync, heartbeat, commit offsets, fetch them, leave, go silent past their session timeout, and
 * the coordinator restarts (its groups are in memory; committed offsets live in the broker, which
 * is closed and reopened). Time is virtual (`mock.timers` drives the session, rebalance and initial
 * delay timers). A reference model records what every answer promised and checks the next ones:
 *
 * - a generation: every member told it got the same leader and protocol, and the leader's member
 *   list is exactly the members told it; generations only grow;
 * - a sync answered NONE hands the member what the leader of that generation assigned it;
 * - a heartbeat or commit accepted (NONE) comes from a member of the newest generation that has
 *   not left, expired or outlived a restart; a member that left is unknown from then on;
 *   (groups are in the coordinator's memory: a restart forgets them and generations count from 1
 *   again, which is safe because member ids never repeat);
 * - offsets fetched are the last accepted commit per partition (across restarts);
 * - after a silence longer than every session and rebalance timeout, no request is left
 *   unanswered and every member is gone (the group is Empty or forgotten).
 *
 * A failure prints fast-check's seed and the shrunk command list; COORDINATOR_MODEL_SEED=<n>
 * replays it, COORDINATOR_MODEL_RUNS sets the number of runs (default 150).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, it, mock } from 'node:test';
import { type Broker, openBroker } from '@herald/broker';
import { ERROR_CODE } from '@herald/kafka-protocol';
import { temporaryDirectory } from '@herald/test-support';
import fc from 'fast-check';
import { GroupCoordinator, type JoinResult } from '../src/group-coordinator.ts';

const GROUP = 'model-group';
const TOPIC = 'model-topic';
const PARTITIONS = 3;
const CLIENTS = 3;
const SESSION_TIMEOUT_MS = 1_000;
const REBALANCE_TIMEOUT_MS = 2_000;
const INITIAL_DELAY_MS = 100;
/** Longer than any chain of timers a silent group can run: every member expires meanwhile. */
const SILENCE_MS = 4 * (SESSION_TIMEOUT_MS + REBALANCE_TIMEOUT_MS);
/** The clock's step: timers fire within this much of their time. */
const TICK_MS = 25;
const RUNS = Number(process.env.COORDINATOR_MODEL_RUNS ?? 150);
const SEED =
  process.env.COORDINATOR_MODEL_SEED === undefined ? undefined : Number(process.env.COORDINATOR_MODEL_SEED);
const realSetImmediate = globalThis.setImmediate;
const text = new TextDecoder();
const bytes = (value: string) => new TextEncoder().encode(value);

/** One client's view: what a Kafka consumer remembers between requests. */
interface Client {
  memberId: string;
  /** The last successful join: its generation, leader and (for the leader) members. */
  joined: JoinResult | undefined;
  joining: boolean;
  syncing: boolean;
}

/** What the answers so far promised, per generation. */
interface Generation {
  readonly leader: string;
  readonly protocol: string;
  /** Members answered NONE for this generation. */
  readonly told: Set<string>;
  /** The leader's member list (once its answer arrived). */
  listed: Set<string> | undefined;
  /** What the leader's sync assigned (once it synced). */
  assigned: Map<string, string> | undefined;
}

interface World {
  coordinator: GroupCoordinator;
  broker: Broker;
  readonly dir: string;
  readonly clients: Client[];
  readonly generations: Map<number, Generation>;
  generationMax: number;
  /** Member ids that left, expired or were forgotten by a restart: unknown from then on. */
  readonly gone: Set<string>;
  /** The last accepted commit per partition. */
  readonly committed: Map<number, bigint>;
  /** Requests not answered yet. */
  pending: number;
  readonly violations: string[];
}

const counts = new Map<string, number>();
const count = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);

/** Lets answered promises run their continuations (the coordinator itself is synchronous). */
async function settle(world: World, after: string): Promise<void> {
  for (let round = 0; round < 3; round += 1) await new Promise((resolve) => realSetImmediate(resolve));
  assert.deepEqual(world.violations, [], `after ${after}`);
}

/** A join's answer: recorded in the model; the client learns it unless the answer was `lost`. */
function onJoined(world: World, client: Client, result: JoinResult, lost: boolean): void {
  world.pending -= 1;
  client.joining = false;
  if (result.errorCode === ERROR_CODE.UNKNOWN_MEMBER_ID && !lost) client.memberId = '';
  if (result.errorCode !== ERROR_CODE.NONE) return;
  const check = (ok: boolean, what: string) => {
    if (!ok)
      world.violations.push(`join of ${result.memberId} in generation ${result.generationId}: ${what}`);
  };
  check(!world.gone.has(result.memberId), 'a member id that is gone');
  check(result.generationId >= world.generationMax, `older than generation ${world.generationMax}`);
  let generation = world.generations.get(result.generationId);
  if (generation === undefined) {
    generation = {
      leader: result.leader,
      protocol: result.protocolName,
      told: new Set(),
      listed: undefined,
      assigned: undefined,
    };
    world.generations.set(result.generationId, generation);
  }
  check(
    generation.leader === result.leader,
    `leader ${result.leader}, another member was told ${generation.leader}`,
  );
  check(generation.protocol === result.protocolName, 'another protocol than the other members');
  generation.told.add(result.memberId);
  if (result.memberId === result.leader) {
    generation.listed = new Set(result.members.map((member) => member.memberId));
  } else {
    check(result.members.length === 0, 'a follower is sent the member list');
  }
  world.generationMax = Math.max(world.generationMax, result.generationId);
  if (lost) return;
  client.memberId = result.memberId;
  client.joined = result;
}

/** Every generation's leader list must be exactly the members told it. */
function checkGenerations(world: World): void {
  for (const [id, generation] of world.generations) {
    if (generation.listed === undefined) continue;
    const told = [...generation.told].sort().join(',');
    const listed = [...generation.listed].sort().join(',');
    if (told !== listed) world.violations.push(`generation ${id}: leader lists ${listed}, told ${told}`);
  }
}

/** Accepted (NONE) only from a member of the newest generation that is not gone. */
function checkAccepted(world: World, client: Client, what: string, code: number): void {
  if (code !== ERROR_CODE.NONE && code !== ERROR_CODE.REBALANCE_IN_PROGRESS) return;
  const generation = client.joined?.generationId ?? -1;
  if (world.gone.has(client.memberId))
    world.violations.push(`${what} of gone member ${client.memberId}: ${code}`);
  if (generation !== world.generationMax) {
    world.violations.push(
      `${what} of ${client.memberId} at generation ${generation} < ${world.generationMax}: ${code}`,
    );
  }
}

type Command = fc.AsyncCommand<World, World>;

function command(name: string, run: (world: World) => Promise<void>): Command {
  return {
    check: () => true,
    run: async (_model, world) => {
      await run(world);
      // A little time passes between two requests (so joins complete after the initial delay).
      mock.timers.tick(TICK_MS);
      checkGenerations(world);
      await settle(world, name);
    },
    toString: () => name,
  };
}

/**
 * A JoinGroup; with `lost`, its answer never reaches the client (a dropped response): the client
 * keeps its old generation, or never learns its member id, and must be told so by later answers.
 */
function join(index: number, lost = false): Command {
  return command(`join(${index}${lost ? ', answer lost' : ''})`, async (world) => {
    const client = world.clients[index]!;
    // A client without an id waits for its first answer (a second would make a second member).
    if (client.joining && client.memberId === '') return;
    count('join');
    client.joining = true;
    world.pending += 1;
    void world.coordinator
      .join({
        groupId: GROUP,
        memberId: client.memberId,
        groupInstanceId: null,
        clientId: `client${index}`,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: bytes(`client${index}`) }],
      })
      .then((result) => onJoined(world, client, result, lost));
  });
}

function sync(index: number): Command {
  return command(`sync(${index})`, async (world) => {
    const client = world.clients[index]!;
    const joined = client.joined;
    if (joined === undefined || client.syncing) return;
    count('sync');
    const leader = joined.memberId === joined.leader;
    const assignments = joined.members.map((member) => ({
      memberId: member.memberId,
      assignment: bytes(`${joined.generationId}/${member.memberId}`),
    }));
    client.syncing = true;
    world.pending += 1;
    const generation = world.generations.get(joined.generationId)!;
    const answer = world.coordinator.sync(
      GROUP,
      client.memberId,
      joined.generationId,
      leader ? assignments : [],
    );
    // The leader's assignment counts from the moment it is sent (followers are answered with it).
    if (leader && world.coordinator.describeGroup(GROUP)?.state === 'Stable') {
      generation.assigned ??= new Map(
        assignments.map((entry) => [entry.memberId, text.decode(entry.assignment)]),
      );
    }
    void answer.then((result) => {
      world.pending -= 1;
      client.syncing = false;
      if (result.errorCode !== ERROR_CODE.NONE) return;
      checkAccepted(world, client, 'sync', result.errorCode);
      const expected = generation.assigned?.get(client.memberId) ?? '';
      const got = text.decode(result.assignment);
      if (generation.assigned === undefined)
        world.violations.push(`sync of ${client.memberId}: NONE before the leader assigned`);
      else if (got !== expected)
        world.violations.push(`sync of ${client.memberId}: got "${got}", the leader assigned "${expected}"`);
    });
  });
}

function heartbeat(index: number): Command {
  return command(`heartbeat(${index})`, async (world) => {
    const client = world.clients[index]!;
    if (client.memberId === '' || client.joined === undefined) return;
    count('heartbeat');
    const code = world.coordinator.heartbeat(GROUP, client.memberId, client.joined?.generationId ?? -1);
    checkAccepted(world, client, 'heartbeat', code);
    if (world.gone.has(client.memberId) && code !== ERROR_CODE.UNKNOWN_MEMBER_ID) {
      world.violations.push(`heartbeat of gone ${client.memberId}: ${code}, not UNKNOWN_MEMBER_ID`);
    }
  });
}

function commit(index: number, partition: number, offset: number): Command {
  return command(`commit(${index}, p${partition}=${offset})`, async (world) => {
    const client = world.clients[index]!;
    count('commit');
    // Without a generation the client commits as a simple consumer (member '', generation -1):
    // accepted only while the group is Empty or unknown, as Kafka's classic group.
    const joined = client.joined;
    const memberId = joined === undefined ? '' : client.memberId;
    const code = world.coordinator.checkCommit(GROUP, memberId, joined?.generationId ?? -1);
    if (code !== ERROR_CODE.NONE) return;
    if (joined === undefined) {
      const group = world.coordinator.describeGroup(GROUP);
      if (group !== undefined && group.members.length > 0) {
        world.violations.push(
          `a simple consumer's commit accepted while the group has ${group.members.length} members`,
        );
      }
    } else {
      checkAccepted(world, client, 'commit', code);
    }
    count('commitAccepted');
    await world.broker.commitOffsets(TOPIC, GROUP, new Map([[partition, BigInt(offset)]]));
    world.committed.set(partition, BigInt(offset));
  });
}

const fetchOffsets = command('fetchOffsets', async (world) => {
  count('fetchOffsets');
  const stored = await world.broker.committedOffsets(TOPIC, GROUP);
  const got = JSON.stringify([...stored].sort(([a], [b]) => a - b).map(([p, o]) => [p, String(o)]));
  const expected = JSON.stringify(
    [...world.committed].sort(([a], [b]) => a - b).map(([p, o]) => [p, String(o)]),
  );
  if (got !== expected) world.violations.push(`offsets fetched ${got}, committed ${expected}`);
});

function leave(index: number): Command {
  return command(`leave(${index})`, async (world) => {
    const client = world.clients[index]!;
    if (client.memberId === '') return;
    count('leave');
    const code = world.coordinator.leave(GROUP, client.memberId);
    if (world.gone.has(client.memberId) && code !== ERROR_CODE.UNKNOWN_MEMBER_ID) {
      world.violations.push(`leave of gone ${client.memberId}: ${code}`);
    }
    world.gone.add(client.memberId);
    client.memberId = '';
    client.joined = undefined;
  });
}

function advance(byMs: number): Command {
  return command(`advance(${byMs} ms)`, async (world) => {
    count('advance');
    // In steps: a timer set by a timer's callback during one tick would count from the tick's end.
    for (let passedMs = 0; passedMs < byMs; passedMs += TICK_MS)
      mock.timers.tick(Math.min(TICK_MS, byMs - passedMs));
    if (byMs < SILENCE_MS) return;
    // Nobody spoke for longer than any timer chain: every member expired, every request answered.
    await settle(world, `advance(${byMs} ms)`);
    if (world.pending !== 0)
      world.violations.push(`${world.pending} requests unanswered after ${byMs} ms of silence`);
    const group = world.coordinator.describeGroup(GROUP);
    if (group !== undefined && (group.state !== 'Empty' || group.members.length > 0)) {
      world.violations.push(
        `after ${byMs} ms of silence the group is ${group.state} with ${group.members.length} members`,
      );
    }
    for (const client of world.clients) if (client.memberId !== '') world.gone.add(client.memberId);
  });
}

const restart = command('restart', async (world) => {
  count('restart');
  world.coordinator.close();
  await world.broker.close();
  for (const client of world.clients) if (client.memberId !== '') world.gone.add(client.memberId);
  world.broker = await openBroker({ dir: world.dir, partitions: PARTITIONS, fsync: 'never' });
  world.coordinator = newCoordinator();
  // Groups live in the coordinator's memory, so generations count from 1 again; a member of an
  // earlier incarnation is unknown (member ids never repeat), whatever generation it names.
  world.generations.clear();
  world.generationMax = 0;
  for (const client of world.clients) client.joined = undefined;
});

function newCoordinator(): GroupCoordinator {
  return new GroupCoordinator({ sessionTimeoutMsMin: 10, initialRebalanceDelayMs: INITIAL_DELAY_MS });
}

const client = fc.integer({ min: 0, max: CLIENTS - 1 });
const commands = [
  client.map((index) => join(index)),
  client.map((index) => join(index)),
  client.map((index) => join(index, true)),
  client.map(sync),
  client.map(sync),
  client.map(sync),
  client.map(heartbeat),
  client.map(heartbeat),
  fc
    .tuple(client, fc.integer({ min: 0, max: PARTITIONS - 1 }), fc.nat(1000))
    .map(([c, p, o]) => commit(c, p, o)),
  fc.constant(fetchOffsets),
  client.map(leave),
  fc
    .constantFrom(
      50,
      INITIAL_DELAY_MS,
      SESSION_TIMEOUT_MS / 2,
      SESSION_TIMEOUT_MS,
      REBALANCE_TIMEOUT_MS,
      SILENCE_MS,
    )
    .map(advance),
  // Once in the list, so about one command in 13: a restart forgets every member.
  fc.constant(restart),
];

/** Runs `list` against a fresh coordinator and broker. */
async function runCommands(list: Iterable<Command>): Promise<void> {
  mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 1_800_000_000_000 });
  const dir = temporaryDirectory('herald-coordinator-model-');
  // Commits survive a clean close without fsync (what a restart here is); fsync only costs time.
  const broker = await openBroker({ dir, partitions: PARTITIONS, fsync: 'never' });
  await broker.createTopic(TOPIC, { partitions: PARTITIONS });
  const world: World = {
    coordinator: newCoordinator(),
    broker,
    dir,
    clients: Array.from({ length: CLIENTS }, () => ({
      memberId: '',
      joined: undefined,
      joining: false,
      syncing: false,
    })),
    generations: new Map(),
    generationMax: 0,
    gone: new Set(),
    committed: new Map(),
    pending: 0,
    violations: [],
  };
  try {
    await fc.asyncModelRun(() => ({ model: world, real: world }), list);
  } finally {
    world.coordinator.close();
    await world.broker.close().catch(() => {});
    mock.timers.reset();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('group coordinator against a reference model', { timeout: Math.max(240_000, RUNS * 3_000) }, () => {
  it('coordinator model - join, sync, heartbeat, commit, fetch, leave, expiry and restart match the model', async (t) => {
    const seed = SEED ?? Math.floor(Math.random() * 2 ** 31);
    t.diagnostic(`seed ${seed} (replay with COORDINATOR_MODEL_SEED=${seed}), ${RUNS} runs`);
    let commandsRun = 0;
    const property = fc.asyncProperty(
      fc.commands(commands, { maxCommands: 50, size: 'max' }),
      async (list) => {
        await runCommands(list);
        commandsRun += [...list].length;
      },
    );
    await fc.assert(property, { seed, numRuns: RUNS });
    t.diagnostic(`${commandsRun} commands in ${RUNS} runs: ${JSON.stringify(Object.fromEntries(counts))}`);
  });
});
