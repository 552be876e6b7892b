/**
 * The classic consumer-group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) for groups
 * coordinated by this node. The broker only relays: members vote for assignment protocols, the
 * leader computes the assignment and the coordinator hands each member its part.
 *
 * States: Empty -> PreparingRebalance (a member joined, left or expired; members must rejoin)
 * -> CompletingRebalance (join answered, waiting for the leader's SyncGroup) -> Stable. A rebalance
 * completes when every known member has rejoined or the largest rebalance timeout passes (members
 * that did not rejoin are dropped). Members that stop heartbeating are dropped after their session
 * timeout. Committed offsets live in the broker (see offsets handler), not here.
 */
import { randomUUID } from 'node:crypto';
import { InvariantError } from '@herald/errors';
import { ERROR_CODE } from '@herald/kafka-protocol';

/**
 * Throws an `InvariantError` naming `@herald/kafka-server` unless `condition` holds. On in production:
 * a group in a state Kafka's protocol never reaches would hand members wrong assignments.
 */
function invariant(condition: unknown, statement: string): asserts condition {
  if (!condition) throw new InvariantError(`@herald/kafka-server: ${statement}`);
}

/** Limits of the coordinator. */
export interface GroupCoordinatorOptions {
  /** Smallest accepted session timeout (Kafka's group.min.session.timeout.ms, default 6 s). */
  readonly sessionTimeoutMsMin?: number;
  /** Largest accepted session timeout (Kafka's group.max.session.timeout.ms, default 30 min). */
  readonly sessionTimeoutMsMax?: number;
  /** Delay before the first rebalance of an empty group completes, so members starting together land in one generation (default 300 ms). */
  readonly initialRebalanceDelayMs?: number;
  /** Most members per group (default 1000). */
  readonly membersPerGroupMax?: number;
  /** Most groups (default 10,000). */
  readonly groupsMax?: number;
}

/** What a JoinGroup resolves to. */
export interface JoinResult {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolName: string;
  readonly leader: string;
  readonly memberId: string;
  readonly members: readonly { memberId: string; groupInstanceId: string | null; metadata: Uint8Array }[];
}

/** A JoinGroup as the coordinator needs it. */
export interface JoinInput {
  readonly groupId: string;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  /** The member's address as Kafka reports it in DescribeGroups ("/127.0.0.1"). */
  readonly clientHost?: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly { readonly name: string; readonly metadata: Uint8Array }[];
}

interface Member {
  readonly memberId: string;
  groupInstanceId: string | null;
  /** From the member's latest JoinGroup (reported by DescribeGroups). */
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: readonly { readonly name: string; readonly metadata: Uint8Array }[];
  assignment: Uint8Array;
  /** The generation whose leader sent `assignment` (-1 while it is empty). */
  assignmentGenerationId: number;
  pendingJoin: ((result: JoinResult) => void) | undefined;
  pendingSync: ((result: { errorCode: number; assignment: Uint8Array }) => void) | undefined;
  sessionTimer: NodeJS.Timeout | undefined;
}

/** A classic group's state, named as Kafka names it on the wire. */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

/** A group as {@link GroupCoordinator.listGroups} reports it. */
export interface GroupListing {
  readonly groupId: string;
  readonly state: GroupState;
  /** Null once the group is Empty (the coordinator forgets it with the last member). */
  readonly protocolType: string | null;
}

/** A member as {@link GroupCoordinator.describeGroup} reports it. */
export interface MemberDescription {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** The member's metadata for the group's current protocol (empty before one is chosen). */
  readonly metadata: Uint8Array;
  /** What the leader assigned it in the current generation (empty until the sync). */
  readonly assignment: Uint8Array;
}

/** A group as {@link GroupCoordinator.describeGroup} reports it. */
export interface GroupDescription extends GroupListing {
  readonly generationId: number;
  /** The chosen protocol (null while none is). */
  readonly protocolName: string | null;
  readonly members: readonly MemberDescription[];
}

interface Group {
  readonly groupId: string;
  state: GroupState;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string;
  readonly members: Map<string, Member>;
  /** Ends the join phase at the largest rebalance timeout. */
  rebalanceTimer: NodeJS.Timeout | undefined;
  /** Set while a new group's initial delay runs. */
  initialDelayTimer: NodeJS.Timeout | undefined;
}

const EMPTY = new Uint8Array(0);

/** Coordinates every group of one server. */
export class GroupCoordinator {
  readonly #groups = new Map<string, Group>();
  readonly #sessionTimeoutMsMin: number;
  readonly #sessionTimeoutMsMax: number;
  readonly #initialRebalanceDelayMs: number;
  readonly #membersPerGroupMax: number;
  readonly #groupsMax: number;

  constructor(options: GroupCoordinatorOptions = {}) {
    this.#sessionTimeoutMsMin = options.sessionTimeoutMsMin ?? 6_000;
    this.#sessionTimeoutMsMax = options.sessionTimeoutMsMax ?? 1_800_000;
    this.#initialRebalanceDelayMs = options.initialRebalanceDelayMs ?? 300;
    this.#membersPerGroupMax = options.membersPerGroupMax ?? 1_000;
    this.#groupsMax = options.groupsMax ?? 10_000;
  }

  #fail(errorCode: number, memberId: string): JoinResult {
    return { errorCode, generationId: -1, protocolName: '', leader: '', memberId, members: [] };
  }

  /** Handles JoinGroup: resolves when the rebalance this join is part of completes. */
  join(input: JoinInput): Promise<JoinResult> {
    if (input.groupId === '') return Promise.resolve(this.#fail(ERROR_CODE.INVALID_GROUP_ID, input.memberId));
    if (
      input.sessionTimeoutMs < this.#sessionTimeoutMsMin ||
      input.sessionTimeoutMs > this.#sessionTimeoutMsMax
    ) {
      return Promise.resolve(this.#fail(ERROR_CODE.INVALID_SESSION_TIMEOUT, input.memberId));
    }
    if (input.protocolType === '' || input.protocols.length === 0) {
      return Promise.resolve(this.#fail(ERROR_CODE.INCONSISTENT_GROUP_PROTOCOL, input.memberId));
    }
    let group = this.#groups.get(input.groupId);
    // As Kafka: a member id the coordinator does not know never creates its group.
    if (group === undefined && input.memberId !== '') {
      return Promise.resolve(this.#fail(ERROR_CODE.UNKNOWN_MEMBER_ID, input.memberId));
    }
    if (group === undefined) {
      if (this.#groups.size >= this.#groupsMax) {
        return Promise.resolve(this.#fail(ERROR_CODE.COORDINATOR_NOT_AVAILABLE, input.memberId));
      }
      group = {
        groupId: input.groupId,
        state: 'Empty',
        generationId: 0,
        protocolType: null,
        protocolName: null,
        leaderId: '',
        members: new Map(),
        rebalanceTimer: undefined,
        initialDelayTimer: undefined,
      };
      this.#groups.set(input.groupId, group);
    }
    let member = input.memberId === '' ? undefined : group.members.get(input.memberId);
    if (input.memberId !== '' && member === undefined) {
      return Promise.resolve(this.#fail(ERROR_CODE.UNKNOWN_MEMBER_ID, input.memberId));
    }
    if (!this.#compatible(group, input, member)) {
      return Promise.resolve(this.#fail(ERROR_CODE.INCONSISTENT_GROUP_PROTOCOL, input.memberId));
    }
    if (member === undefined) {
      if (group.members.size >= this.#membersPerGroupMax) {
        return Promise.resolve(this.#fail(ERROR_CODE.GROUP_MAX_SIZE_REACHED, ''));
      }
      member = {
        memberId: `${input.clientId || 'member'}-${randomUUID()}`,
        groupInstanceId: input.groupInstanceId,
        clientId: input.clientId,
        clientHost: input.clientHost ?? '',
        sessionTimeoutMs: input.sessionTimeoutMs,
        rebalanceTimeoutMs: input.rebalanceTimeoutMs,
        protocols: input.protocols,
        assignment: EMPTY,
        assignmentGenerationId: -1,
        pendingJoin: undefined,
        pendingSync: undefined,
        sessionTimer: undefined,
      };
      group.members.set(member.memberId, member);
    }
    member.sessionTimeoutMs = input.sessionTimeoutMs;
    member.rebalanceTimeoutMs =
      input.rebalanceTimeoutMs > 0 ? input.rebalanceTimeoutMs : input.sessionTimeoutMs;
    member.protocols = input.protocols;
    member.groupInstanceId = input.groupInstanceId;
    member.clientId = input.clientId;
    member.clientHost = input.clientHost ?? '';
    group.protocolType ??= input.protocolType;
    // A member that rejoins while waiting for a previous join gets that one answered first.
    member.pendingJoin?.(this.#fail(ERROR_CODE.REBALANCE_IN_PROGRESS, member.memberId));
    clearTimeout(member.sessionTimer);
    member.sessionTimer = undefined;
    const joined = member;
    const result = new Promise<JoinResult>((resolve) => {
      joined.pendingJoin = resolve;
    });
    this.#prepareRebalance(group);
    this.#tryCompleteJoin(group);
    return result;
  }

  #compatible(group: Group, input: JoinInput, member: Member | undefined): boolean {
    if (group.members.size === 0 || (group.members.size === 1 && member !== undefined)) return true;
    if (group.protocolType !== null && group.protocolType !== input.protocolType) return false;
    const offered = new Set(input.protocols.map((protocol) => protocol.name));
    return this.#candidates(group, member?.memberId).some((name) => offered.has(name));
  }

  /** Protocols every member (except `excluding`) supports, in the first member's order. */
  #candidates(group: Group, excluding?: string): string[] {
    let candidates: string[] | undefined;
    for (const member of group.members.values()) {
      if (member.memberId === excluding) continue;
      const names = member.protocols.map((protocol) => protocol.name);
      candidates = candidates === undefined ? names : candidates.filter((name) => names.includes(name));
    }
    return candidates ?? [];
  }

  #prepareRebalance(group: Group): void {
    if (group.state === 'PreparingRebalance') return;
    // Members waiting for an assignment of the generation being replaced must rejoin.
    for (const member of group.members.values()) {
      member.pendingSync?.({ errorCode: ERROR_CODE.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      member.pendingSync = undefined;
    }
    const initial = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    let timeoutMs = 0;
    for (const member of group.members.values()) timeoutMs = Math.max(timeoutMs, member.rebalanceTimeoutMs);
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = setTimeout(() => this.#completeJoin(group), timeoutMs);
    clearTimeout(group.initialDelayTimer);
    group.initialDelayTimer = undefined;
    if (initial) {
      group.initialDelayTimer = setTimeout(
        () => {
          group.initialDelayTimer = undefined;
          this.#tryCompleteJoin(group);
        },
        Math.min(this.#initialRebalanceDelayMs, timeoutMs),
      );
    }
  }

  /** Completes the join phase once every known member has rejoined (and the initial delay passed). */
  #tryCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || group.initialDelayTimer !== undefined) return;
    for (const member of group.members.values()) if (member.pendingJoin === undefined) return;
    this.#completeJoin(group);
  }

  /** Ends the join phase: members that did not rejoin are dropped, the rest get the new generation. */
  #completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    clearTimeout(group.rebalanceTimer);
    clearTimeout(group.initialDelayTimer);
    group.rebalanceTimer = undefined;
    group.initialDelayTimer = undefined;
    for (const member of [...group.members.values()]) {
      if (member.pendingJoin === undefined) this.#remove(group, member);
    }
    this.#nextGeneration(group);
    if (group.members.size === 0) {
      this.#becomeEmpty(group);
      return;
    }
    group.protocolName = this.#selectProtocol(group);
    if (!group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.state = 'CompletingRebalance';
    const everyone = [...group.members.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      metadata: member.protocols.find((protocol) => protocol.name === group.protocolName)?.metadata ?? EMPTY,
    }));
    for (const member of group.members.values()) {
      const resolve = member.pendingJoin!;
      member.pendingJoin = undefined;
      member.assignment = EMPTY;
      member.assignmentGenerationId = -1;
      this.#touch(group, member);
      resolve({
        errorCode: ERROR_CODE.NONE,
        generationId: group.generationId,
        protocolName: group.protocolName,
        leader: group.leaderId,
        memberId: member.memberId,
        members: member.memberId === group.leaderId ? everyone : [],
      });
    }
    this.#checkGroup(group);
  }

  /** Starts the next generation: generations only grow, so a stale member is always told so. */
  #nextGeneration(group: Group): void {
    const previous = group.generationId;
    group.generationId += 1;
    invariant(group.generationId > previous, `generation of group ${group.groupId} only grows`);
  }

  /** The invariants of a group between two requests (cheap: one pass over its members at most). */
  #checkGroup(group: Group): void {
    invariant(
      group.members.size <= this.#membersPerGroupMax,
      `group ${group.groupId} has at most ${this.#membersPerGroupMax} members`,
    );
    if (group.state === 'Empty') {
      invariant(group.members.size === 0, `Empty group ${group.groupId} has no members`);
    }
    if (group.state === 'CompletingRebalance' || group.state === 'Stable') {
      invariant(
        group.members.has(group.leaderId),
        `the leader of group ${group.groupId} is one of its members`,
      );
      invariant(
        group.protocolName !== null,
        `group ${group.groupId} chose a protocol before answering joins`,
      );
    }
  }

  #becomeEmpty(group: Group): void {
    invariant(group.members.size === 0, `group ${group.groupId} becomes Empty only without members`);
    clearTimeout(group.rebalanceTimer);
    clearTimeout(group.initialDelayTimer);
    group.rebalanceTimer = undefined;
    group.initialDelayTimer = undefined;
    group.state = 'Empty';
    group.protocolName = null;
    group.protocolType = null;
    group.leaderId = '';
  }

  /** The protocol with the most first-choice votes among those every member supports. */
  #selectProtocol(group: Group): string {
    const candidates = this.#candidates(group);
    const votes = new Map(candidates.map((name) => [name, 0]));
    for (const member of group.members.values()) {
      const choice = member.protocols.find((protocol) => votes.has(protocol.name));
      if (choice !== undefined) votes.set(choice.name, votes.get(choice.name)! + 1);
    }
    let best = candidates[0]!;
    for (const name of candidates) if (votes.get(name)! > votes.get(best)!) best = name;
    return best;
  }

  /** Restarts a member's session timer. */
  #touch(group: Group, member: Member): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = undefined;
      if (group.members.get(member.memberId) !== member || member.pendingJoin !== undefined) return;
      this.#remove(group, member);
      this.#afterDeparture(group);
    }, member.sessionTimeoutMs);
  }

  #remove(group: Group, member: Member): void {
    clearTimeout(member.sessionTimer);
    member.pendingJoin?.(this.#fail(ERROR_CODE.UNKNOWN_MEMBER_ID, member.memberId));
    member.pendingSync?.({ errorCode: ERROR_CODE.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    member.pendingJoin = undefined;
    member.pendingSync = undefined;
    group.members.delete(member.memberId);
  }

  #afterDeparture(group: Group): void {
    if (group.members.size === 0) {
      this.#nextGeneration(group);
      this.#becomeEmpty(group);
    } else if (group.state === 'PreparingRebalance') {
      this.#tryCompleteJoin(group);
    } else {
      this.#prepareRebalance(group);
    }
  }

  #check(groupId: string, memberId: string, generationId: number): { group: Group; member: Member } | number {
    const group = this.#groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return ERROR_CODE.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ERROR_CODE.ILLEGAL_GENERATION;
    return { group, member };
  }

  /** Handles SyncGroup: the leader's assignments go to every member. */
  sync(
    groupId: string,
    memberId: string,
    generationId: number,
    assignments: readonly { memberId: string; assignment: Uint8Array }[],
  ): Promise<{ errorCode: number; assignment: Uint8Array }> {
    const checked = this.#check(groupId, memberId, generationId);
    if (typeof checked === 'number') return Promise.resolve({ errorCode: checked, assignment: EMPTY });
    const { group, member } = checked;
    this.#touch(group, member);
    if (group.state === 'PreparingRebalance') {
      return Promise.resolve({ errorCode: ERROR_CODE.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    }
    if (group.state === 'Stable') {
      this.#checkAssignment(group, member);
      return Promise.resolve({ errorCode: ERROR_CODE.NONE, assignment: member.assignment });
    }
    const result = new Promise<{ errorCode: number; assignment: Uint8Array }>((resolve) => {
      member.pendingSync = resolve;
    });
    if (memberId === group.leaderId) {
      invariant(
        group.state === 'CompletingRebalance' && generationId === group.generationId,
        `the leader of group ${group.groupId} assigns in the current generation, once`,
      );
      for (const entry of assignments) {
        const target = group.members.get(entry.memberId);
        if (target === undefined) continue;
        target.assignment = entry.assignment;
        target.assignmentGenerationId = group.generationId;
      }
      group.state = 'Stable';
      this.#checkGroup(group);
      for (const waiting of group.members.values()) {
        this.#checkAssignment(group, waiting);
        waiting.pendingSync?.({ errorCode: ERROR_CODE.NONE, assignment: waiting.assignment });
        waiting.pendingSync = undefined;
      }
    }
    return result;
  }

  /** A member is handed an assignment of the current generation only (or none). */
  #checkAssignment(group: Group, member: Member): void {
    invariant(
      member.assignment.byteLength === 0 || member.assignmentGenerationId === group.generationId,
      `member ${member.memberId} of group ${group.groupId} gets an assignment of generation ${group.generationId} only (it has one of ${member.assignmentGenerationId})`,
    );
  }

  /** Handles Heartbeat. */
  heartbeat(groupId: string, memberId: string, generationId: number): number {
    const checked = this.#check(groupId, memberId, generationId);
    if (typeof checked === 'number') return checked;
    this.#touch(checked.group, checked.member);
    return checked.group.state === 'PreparingRebalance' ? ERROR_CODE.REBALANCE_IN_PROGRESS : ERROR_CODE.NONE;
  }

  /** Handles one member of a LeaveGroup. */
  leave(groupId: string, memberId: string): number {
    const group = this.#groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return ERROR_CODE.UNKNOWN_MEMBER_ID;
    this.#remove(group, member);
    this.#afterDeparture(group);
    return ERROR_CODE.NONE;
  }

  /**
   * Whether an OffsetCommit of `memberId` at `generationId` is accepted, checked in the order of
   * Kafka's classic group (`ClassicGroup.validateOffsetCommit`, and OffsetCommit below v9 for an
   * unknown group):
   * - unknown group: accepted with generation -1 (a simple consumer or an admin), else
   *   ILLEGAL_GENERATION;
   * - generation -1 while the group is Empty: accepted;
   * - a generation, a member id or an instance id given: UNKNOWN_MEMBER_ID unless a member, then
   *   ILLEGAL_GENERATION unless the current generation;
   * - otherwise (generation -1, no member id) while the group has members: UNKNOWN_MEMBER_ID;
   * - then REBALANCE_IN_PROGRESS between the join and the sync (CompletingRebalance): the
   *   generation has moved and the member has no assignment yet. A member of the current
   *   generation may commit while the group prepares a rebalance (that is when a consumer
   *   commits what it finished before rejoining).
   */
  checkCommit(
    groupId: string,
    memberId: string,
    generationId: number,
    groupInstanceId: string | null = null,
  ): number {
    const group = this.#groups.get(groupId);
    if (group === undefined) return generationId < 0 ? ERROR_CODE.NONE : ERROR_CODE.ILLEGAL_GENERATION;
    if (generationId < 0 && group.state === 'Empty') return ERROR_CODE.NONE;
    const member = group.members.get(memberId);
    if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
      if (member === undefined) return ERROR_CODE.UNKNOWN_MEMBER_ID;
      if (generationId !== group.generationId) return ERROR_CODE.ILLEGAL_GENERATION;
    } else {
      return ERROR_CODE.UNKNOWN_MEMBER_ID;
    }
    if (group.state === 'CompletingRebalance') return ERROR_CODE.REBALANCE_IN_PROGRESS;
    if (member.pendingJoin === undefined) this.#touch(group, member);
    return ERROR_CODE.NONE;
  }

  /** Every group this coordinator knows (read-only; for ListGroups). */
  listGroups(): GroupListing[] {
    return [...this.#groups.values()].map((group) => ({
      groupId: group.groupId,
      state: group.state,
      protocolType: group.protocolType,
    }));
  }

  /** A group's state and members, or undefined when the coordinator does not know it (read-only; for DescribeGroups). */
  describeGroup(groupId: string): GroupDescription | undefined {
    const group = this.#groups.get(groupId);
    if (group === undefined) return undefined;
    return {
      groupId: group.groupId,
      state: group.state,
      protocolType: group.protocolType,
      generationId: group.generationId,
      protocolName: group.protocolName,
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        metadata:
          member.protocols.find((protocol) => protocol.name === group.protocolName)?.metadata ?? EMPTY,
        assignment: member.assignment,
      })),
    };
  }

  /**
   * Forgets an Empty group (DeleteGroups): NONE when it was Empty or unknown here (its committed
   * offsets are the caller's to delete), NON_EMPTY_GROUP while it has members.
   */
  deleteGroup(groupId: string): number {
    const group = this.#groups.get(groupId);
    if (group === undefined) return ERROR_CODE.NONE;
    if (group.members.size > 0) return ERROR_CODE.NON_EMPTY_GROUP;
    clearTimeout(group.rebalanceTimer);
    clearTimeout(group.initialDelayTimer);
    this.#groups.delete(groupId);
    return ERROR_CODE.NONE;
  }

  /** A topic was deleted (nothing to do yet: assignments name topics, members rejoin on their own). */
  forgetTopic(_topic: string): void {}

  /** Stops every timer and answers every waiting member (shutdown). */
  close(): void {
    for (const group of this.#groups.values()) {
      clearTimeout(group.rebalanceTimer);
      clearTimeout(group.initialDelayTimer);
      for (const member of group.members.values()) {
        clearTimeout(member.sessionTimer);
        member.pendingJoin?.(this.#fail(ERROR_CODE.COORDINATOR_NOT_AVAILABLE, member.memberId));
        member.pendingSync?.({ errorCode: ERROR_CODE.COORDINATOR_NOT_AVAILABLE, assignment: EMPTY });
      }
    }
    this.#groups.clear();
  }
}
