/**
 * One Jepsen-style run: librdkafka producers (idempotent, acks=all) and group consumers
 * (`client.py`) work against a target while a seeded nemesis kills it -9 and restarts it, pauses
 * it (SIGSTOP/SIGCONT), cuts every client connection, or kills a consumer -9; then the producers
 * stop, the group drains, a final read takes every partition from offset 0, and the history goes
 * to the checker. Every wait has a deadline; every child is stopped in `finally`.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { type Child, createRandom, eventually, spawnChild } from '@herald/test-support';
import { type CheckReport, checkHistory, type HistoryEvent } from './checker.ts';
import { startTarget, type Target, type TargetName } from './targets.ts';

const CLIENT = path.join(import.meta.dirname, 'client.py');
const TOPIC = 'jepsen';
const GROUP = 'jepsen-group';

/** The nemesis actions, in the order the seeded choice indexes them. */
export const NEMESIS_ACTIONS = ['crash', 'pause', 'cut', 'kill-consumer'] as const;

/** One nemesis action. */
export type NemesisAction = (typeof NEMESIS_ACTIONS)[number];

/** Options of {@link runJepsen}. */
export interface JepsenOptions {
  readonly target: TargetName;
  /** How long producers send while the nemesis acts. */
  readonly durationMs: number;
  /** Seeds the nemesis' choices and timing. */
  readonly seed: number;
  /** Producer processes (default 2). */
  readonly producers?: number;
  /** Group consumer processes (default 2). */
  readonly consumers?: number;
  /** Sends per second per producer (default 20). */
  readonly sendsPerSecond?: number;
  /** Keys per producer (default 8). */
  readonly keys?: number;
  /** Quiet time between nemesis actions, drawn in [min, max] (default 4-12 s). */
  readonly nemesisGapMsMin?: number;
  readonly nemesisGapMsMax?: number;
  /** Take these actions in turn (round robin) instead of seeded random ones: a short run's cover. */
  readonly nemesisActions?: readonly NemesisAction[];
  /** How long a pause lasts at most (default 5 s). */
  readonly pauseMsMax?: number;
  /** How long the group may take to receive every acknowledged value at the end (default 180 s). */
  readonly drainTimeoutMs?: number;
  /** Writes every history event here as a JSON line, when given. */
  readonly historyFile?: string;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** What {@link runJepsen} resolves. */
export interface JepsenResult {
  readonly report: CheckReport;
  readonly history: readonly HistoryEvent[];
  /** Wall time of the whole run, set-up and drain included. */
  readonly elapsedMs: number;
}

/** The virtualenv Python with confluent-kafka that `npm run setup` installs. */
export function clientPython(): string {
  const dir = process.env.HERALD_PYTHON_DIR ?? path.join(homedir(), '.cache', 'herald', 'python');
  return path.join(dir, 'bin', 'python');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** True once `promise` settles, false after `timeoutMs`; the timer never outlives the call. */
async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Records events in order (and to a file), and keeps what the drain needs to know. */
class Recorder {
  readonly history: HistoryEvent[] = [];
  readonly acked = new Set<string>();
  readonly received = new Set<string>();
  private readonly file: WriteStream | undefined;
  constructor(historyFile: string | undefined) {
    this.file = historyFile === undefined ? undefined : createWriteStream(historyFile);
  }
  record(event: HistoryEvent): void {
    this.history.push(event);
    this.file?.write(`${JSON.stringify(event)}\n`);
    if (event.f === 'ok') this.acked.add(event.v as string);
    else if (event.f === 'recv') this.received.add(event.v as string);
  }
  /** Acknowledged values the group has not received yet. */
  missing(): number {
    let count = 0;
    for (const value of this.acked) if (!this.received.has(value)) count += 1;
    return count;
  }
  async close(): Promise<void> {
    const file = this.file;
    if (file !== undefined) await new Promise<void>((resolve) => file.end(resolve));
  }
}

/** A client child whose JSON lines go to the recorder; `closed` resolves after its last line. */
interface ClientProcess {
  readonly name: string;
  readonly child: Child;
  readonly closed: Promise<void>;
}

function spawnClient(recorder: Recorder, name: string, args: readonly string[]): ClientProcess {
  const child = spawnChild(clientPython(), ['-u', CLIENT, ...args]);
  child.onLine((line) => {
    if (line.startsWith('{')) recorder.record(JSON.parse(line) as HistoryEvent);
  });
  const closed = new Promise<void>((resolve) => child.process.once('close', () => resolve()));
  return { name, child, closed };
}

/** SIGTERM, wait for its last line (at most `timeoutMs`), SIGKILL if it is still there. */
async function stopClient(client: ClientProcess, timeoutMs: number): Promise<void> {
  client.child.process.kill('SIGTERM');
  if (!(await settlesWithin(client.closed, timeoutMs))) await client.child.kill().catch(() => {});
  await client.closed;
}

/** Runs the workload described by `options` and checks its history. */
export async function runJepsen(options: JepsenOptions): Promise<JepsenResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const random = createRandom(options.seed);
  const recorder = new Recorder(options.historyFile);
  const target = await startTarget(options.target);
  log(`${target.name} serves at ${target.bootstrap}`);
  const producers: ClientProcess[] = [];
  const consumers: ClientProcess[] = [];
  let clientsStarted = 0;
  const startProducer = () => {
    const name = `p${clientsStarted++}`;
    const args = ['producer', target.bootstrap, TOPIC, name, String(options.keys ?? 8)];
    producers.push(spawnClient(recorder, name, [...args, String(options.sendsPerSecond ?? 20)]));
  };
  const startConsumer = () => {
    const name = `c${clientsStarted++}`;
    consumers.push(spawnClient(recorder, name, ['consumer', target.bootstrap, TOPIC, GROUP, name]));
  };
  try {
    for (let index = 0; index < (options.producers ?? 2); index += 1) startProducer();
    // Consumers subscribe once the topic exists (the first acknowledged send created it).
    await eventually(() => recorder.acked.size > 0, 'a first acknowledged send', 60_000, 100);
    for (let index = 0; index < (options.consumers ?? 2); index += 1) startConsumer();
    await nemesis(target, options, random, recorder, log, {
      killConsumer: async () => {
        const victim = consumers.splice(Math.floor(random() * consumers.length), 1)[0];
        if (victim !== undefined) await victim.child.kill().then(() => victim.closed);
        startConsumer();
      },
      replaceDeadClients: () => {
        for (const list of [producers, consumers]) {
          for (let index = list.length - 1; index >= 0; index -= 1) {
            if (list[index]!.child.process.exitCode === null) continue;
            log(`client ${list[index]!.name} exited (${list[index]!.child.process.exitCode}); replacing it`);
            list.splice(index, 1);
            if (list === producers) startProducer();
            else startConsumer();
          }
        }
      },
    });
    log('nemesis done; stopping producers');
    await finish(target, options, recorder, producers, consumers, log);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${target.name} output:\n${target.output()}`, {
      cause: error,
    });
  } finally {
    await Promise.all([...producers, ...consumers].map((client) => client.child.kill().catch(() => {})));
    await target.stop().catch(() => {});
    await recorder.close();
  }
  const report = checkHistory(recorder.history);
  return { report, history: recorder.history, elapsedMs: performance.now() - started };
}

/**
 * The end of a run: producers stop (waiting for their sends in flight), the group drains until it
 * received every acknowledged value, consumers stop, and the final read takes every partition.
 */
async function finish(
  target: Target,
  options: JepsenOptions,
  recorder: Recorder,
  producers: readonly ClientProcess[],
  consumers: readonly ClientProcess[],
  log: (line: string) => void,
): Promise<void> {
  await Promise.all(producers.map((producer) => stopClient(producer, 90_000)));
  const drainTimeoutMs = options.drainTimeoutMs ?? 180_000;
  // A value the group never receives is what the checker reports (lostByGroup), so a drain that
  // times out is logged, not thrown.
  await eventually(
    () => recorder.missing() === 0,
    () => `the group to receive every acknowledged value (${recorder.missing()} missing)`,
    drainTimeoutMs,
    250,
  ).catch((error: unknown) => log(String(error)));
  await Promise.all(consumers.map((consumer) => stopClient(consumer, 30_000)));
  const reader = spawnClient(recorder, 'read', ['read', target.bootstrap, TOPIC, String(target.partitions)]);
  await settlesWithin(reader.closed, 180_000);
  await stopClient(reader, 1_000);
}

interface ClientControl {
  killConsumer(): Promise<void>;
  replaceDeadClients(): void;
}

/** Acts on the target at seeded random moments until `durationMs` has passed since it began. */
async function nemesis(
  target: Target,
  options: JepsenOptions,
  random: () => number,
  recorder: Recorder,
  log: (line: string) => void,
  clients: ClientControl,
): Promise<void> {
  const end = performance.now() + options.durationMs;
  const gapMin = options.nemesisGapMsMin ?? 4_000;
  const gapMax = options.nemesisGapMsMax ?? 12_000;
  let taken = 0;
  // Bounded by the duration: every iteration sleeps at least gapMin (> 0).
  while (performance.now() < end) {
    await sleep(Math.min(gapMin + random() * (gapMax - gapMin), Math.max(0, end - performance.now())));
    clients.replaceDeadClients();
    if (performance.now() >= end) break;
    const turn = options.nemesisActions;
    const action =
      turn === undefined || turn.length === 0
        ? NEMESIS_ACTIONS[Math.floor(random() * NEMESIS_ACTIONS.length)]!
        : turn[taken % turn.length]!;
    taken += 1;
    const at = performance.now();
    recorder.record({ f: 'nemesis', action, t: Date.now() });
    if (action === 'crash') await target.crashAndRestart();
    else if (action === 'pause')
      await target.pause(500 + Math.floor(random() * ((options.pauseMsMax ?? 5_000) - 500)));
    else if (action === 'cut') target.dropConnections();
    else await clients.killConsumer();
    log(`nemesis ${action} (${Math.round(performance.now() - at)} ms)`);
  }
}
