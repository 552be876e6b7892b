/**
 * Test helper: group members as child processes (`./rebalance-member.ts`), with what each one
 * acked and committed, and the checks the cluster tests share: every confirmed message consumed,
 * per-key order, and duplicates only above the commit that was in force when they were delivered
 * again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withDeadline } from '@herald/test-support';

const MEMBER = fileURLToPath(new URL('./rebalance-member.ts', import.meta.url));

/** One acked delivery. */
export interface Delivery {
  readonly member: number;
  readonly id: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timeMs: number;
}

/** One completed commit of a partition (from the member's HERALD_KAFKA_DEBUG trace). */
export interface Commit {
  readonly member: number;
  readonly partition: number;
  readonly offset: bigint;
  readonly timeMs: number;
}

/** A member process. */
export interface Member {
  readonly index: number;
  readonly child: ChildProcess;
  readonly exit: Promise<void>;
  stderr(): string;
  /** Resolves once it printed `subscribed` (joined its first generation). */
  readonly subscribed: Promise<void>;
}

/** The members of one group, with everything they acked and committed. */
export class GroupMembers {
  readonly deliveries: Delivery[] = [];
  readonly commits: Commit[] = [];
  readonly members: Member[] = [];
  readonly #brokers: string;
  readonly #topic: string;
  readonly #group: string;

  constructor(brokers: readonly string[], topic: string, group: string) {
    this.#brokers = brokers.join(',');
    this.#topic = topic;
    this.#group = group;
  }

  /** Starts a member; resolves once it has subscribed. */
  async add(): Promise<Member> {
    const index = this.members.length;
    const child = spawn(process.execPath, [MEMBER, this.#brokers, this.#topic, this.#group], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HERALD_KAFKA_DEBUG: '1' },
    });
    const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const subscribed = Promise.withResolvers<void>();
    let out = '';
    let err = '';
    let errLine = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const line of lines) {
        if (line === 'subscribed') subscribed.resolve();
        const match = /^acked (\S+) (\d+) (\d+) (\d+)$/.exec(line);
        if (match === null) continue;
        this.deliveries.push({
          member: index,
          id: match[1]!,
          partition: Number(match[2]),
          offset: BigInt(match[3]!),
          timeMs: Number(match[4]),
        });
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      errLine += chunk;
      const lines = errLine.split('\n');
      errLine = lines.pop()!;
      for (const line of lines) {
        const match = /^\[herald kafka (\S+)\] \S+ committed ((?:\d+@\d+ ?)+)$/.exec(line);
        if (match === null) continue;
        const timeMs = Date.parse(match[1]!);
        for (const point of match[2]!.trim().split(' ')) {
          const [partition, offset] = point.split('@');
          this.commits.push({ member: index, partition: Number(partition), offset: BigInt(offset!), timeMs });
        }
      }
    });
    void exit.then(() => subscribed.reject(new Error(`member ${index} exited: ${err.slice(-2000)}`)));
    const member: Member = { index, child, exit, stderr: () => err, subscribed: subscribed.promise };
    this.members.push(member);
    await withDeadline(member.subscribed, 60_000, `member ${index} to subscribe`).catch((error: Error) => {
      throw new Error(`${error.message}; stderr: ${err.slice(-2000)}`);
    });
    return member;
  }

  /** SIGTERM (commit and leave) and wait for the exit. */
  async leave(member: Member): Promise<void> {
    member.child.kill('SIGTERM');
    await withDeadline(member.exit, 30_000, `member ${member.index} to leave`);
  }

  /** SIGKILL every member still running (for `finally`). */
  killAll(): void {
    for (const { child } of this.members)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /** Ids acked at least once. */
  consumedIds(): Set<string> {
    return new Set(this.deliveries.map((delivery) => delivery.id));
  }
}

/** What {@link checkDeliveries} found. */
export interface DeliveryReport {
  readonly missing: string[];
  /** Deliveries of an id after its first one. */
  readonly duplicates: Delivery[];
  /** Duplicates at or below the commit of their partition in force when they were delivered again. */
  readonly belowCommit: string[];
  /** A member handed a key's message before an earlier one of the same key it had not had yet. */
  readonly orderViolations: string[];
}

/**
 * Checks `deliveries` against the confirmed ids. `sequenceOf(id)` gives `[key, n]`: message `n`
 * of `key` was published after message `n - 1` of the same key (confirmed first).
 */
export function checkDeliveries(
  confirmed: Iterable<string>,
  deliveries: readonly Delivery[],
  commits: readonly Commit[],
  sequenceOf: (id: string) => [string, number],
): DeliveryReport {
  const seen = new Map<string, Delivery>();
  const duplicates: Delivery[] = [];
  const belowCommit: string[] = [];
  const orderViolations: string[] = [];
  /** Per member and key: the highest sequence it handled. */
  const highest = new Map<string, number>();
  for (const delivery of deliveries) {
    const [key, n] = sequenceOf(delivery.id);
    const memberKey = `${delivery.member}/${key}`;
    const first = seen.get(delivery.id);
    if (first === undefined) {
      seen.set(delivery.id, delivery);
    } else {
      duplicates.push(delivery);
      // The commit in force: the highest completed commit of the partition before this delivery.
      let committed = -1n;
      for (const commit of commits) {
        if (
          commit.partition === delivery.partition &&
          commit.timeMs < delivery.timeMs &&
          commit.offset > committed
        )
          committed = commit.offset;
      }
      if (delivery.offset < committed) {
        belowCommit.push(
          `${delivery.id} (p${delivery.partition}@${delivery.offset}, committed ${committed})`,
        );
      }
    }
    // Per member, a key's sequence only goes up, except for a message it has had before (a replay
    // from the committed offset after a rebalance starts lower, at a message already handled).
    const before = highest.get(memberKey) ?? -1;
    if (n > before) highest.set(memberKey, n);
    else if (first === undefined) {
      orderViolations.push(`member ${delivery.member} had ${key}#${n} after ${key}#${before}`);
    }
  }
  const missing = [...confirmed].filter((id) => !seen.has(id));
  return { missing, duplicates, belowCommit, orderViolations };
}
