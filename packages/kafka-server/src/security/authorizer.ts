/**
 * Authorisation with Kafka's semantics (`StandardAuthorizer`): a request is allowed when a
 * matching ACL allows it and no matching ACL denies it (deny wins); with no matching ACL it is
 * denied, except for super users. DESCRIBE is implied by READ, WRITE, DELETE and ALTER, as in
 * Kafka. The ACL file is re-read at most once per `ACL_REFRESH_INTERVAL_MS` (one `stat`), so
 * `herald acls add` takes effect within that bound without a restart; CreateAcls and DeleteAcls
 * reload at once.
 */
import {
  type AclEntry,
  type AclOperation,
  type AclResourceType,
  aclsFile,
  CLUSTER_RESOURCE_NAME,
  readAcls,
} from './acl-store.ts';
import { fileVersion } from './json-file.ts';

/** How stale the server's copy of the ACL file may be after `herald acls add|remove`. */
export const ACL_REFRESH_INTERVAL_MS = 1_000;
/** Denial log lines written per `DENIAL_LOG_WINDOW_MS` at most; the rest are counted. */
export const DENIAL_LOG_LINES_MAX = 20;
const DENIAL_LOG_WINDOW_MS = 10_000;

/** Operations whose allow implies DESCRIBE (Kafka's implication). */
const IMPLIES_DESCRIBE: ReadonlySet<AclOperation> = new Set(['read', 'write', 'delete', 'alter', 'describe']);

function matchesResource(entry: AclEntry, type: AclResourceType, name: string): boolean {
  if (entry.resourceType !== type) return false;
  if (entry.patternType === 'prefixed') return name.startsWith(entry.resourceName);
  return entry.resourceName === '*' || entry.resourceName === name;
}

/** Decides per (principal, operation, resource); see the module comment. */
export class Authorizer {
  readonly #dir: string;
  readonly #superUsers: ReadonlySet<string>;
  readonly #log: (line: string) => void;
  readonly #onError: (error: unknown) => void;
  #acls: readonly AclEntry[] = [];
  #version = '';
  #checkedAtMs = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | undefined;
  #writes: Promise<unknown> = Promise.resolve();
  #windowStartMs = 0;
  #windowLines = 0;
  #suppressed = 0;
  /** Requests (or parts of requests) denied so far. */
  deniedCount = 0;

  constructor(
    dir: string,
    superUsers: readonly string[],
    log: (line: string) => void,
    onError: (error: unknown) => void,
  ) {
    this.#dir = dir;
    this.#superUsers = new Set(superUsers);
    this.#log = log;
    this.#onError = onError;
  }

  /** The directory whose `security/acls.json` this authorizer reads. */
  get dir(): string {
    return this.#dir;
  }

  /** The ACLs in force now. */
  get acls(): readonly AclEntry[] {
    return this.#acls;
  }

  /**
   * Re-reads the file when it changed and the last check is older than the refresh interval
   * (`force` skips the interval). Never rejects: a damaged file keeps the last good list and is
   * reported, so a bad edit neither opens the server nor locks everybody out.
   */
  refresh(force = false): Promise<void> {
    const now = performance.now();
    if (!force && now - this.#checkedAtMs < ACL_REFRESH_INTERVAL_MS) return Promise.resolve();
    if (this.#refreshing !== undefined && !force) return this.#refreshing;
    this.#checkedAtMs = now;
    const refreshing = this.#load().finally(() => {
      if (this.#refreshing === refreshing) this.#refreshing = undefined;
    });
    this.#refreshing = refreshing;
    return refreshing;
  }

  async #load(): Promise<void> {
    let version: string;
    try {
      version = await fileVersion(aclsFile(this.#dir));
    } catch (error) {
      this.#onError(error);
      return;
    }
    if (version === this.#version) return;
    try {
      this.#acls = await readAcls(this.#dir);
      this.#version = version;
    } catch (error) {
      this.#onError(error);
    }
  }

  /**
   * Runs `task` after every earlier one has settled, so CreateAcls and DeleteAcls requests of
   * this server never overwrite each other's read-modify-write of the file.
   */
  serialize<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#writes.then(task, task);
    this.#writes = result.catch(() => {});
    return result;
  }

  /** True when `principal` may do `operation` on the resource; false (and logged) otherwise. */
  authorize(principal: string, operation: AclOperation, type: AclResourceType, name: string): boolean {
    if (this.#superUsers.has(principal)) return true;
    let allowed = false;
    for (const entry of this.#acls) {
      if (entry.principal !== principal && entry.principal !== 'User:*') continue;
      if (!matchesResource(entry, type, name)) continue;
      if (entry.permission === 'deny') {
        if (entry.operation === operation || entry.operation === 'all')
          return this.#deny(principal, operation, type, name);
      } else if (
        entry.operation === operation ||
        entry.operation === 'all' ||
        (operation === 'describe' && IMPLIES_DESCRIBE.has(entry.operation))
      ) {
        allowed = true;
      }
    }
    return allowed || this.#deny(principal, operation, type, name);
  }

  /** {@link authorize} on the cluster resource. */
  authorizeCluster(principal: string, operation: AclOperation): boolean {
    return this.authorize(principal, operation, 'cluster', CLUSTER_RESOURCE_NAME);
  }

  #deny(principal: string, operation: AclOperation, type: AclResourceType, name: string): false {
    this.deniedCount++;
    const now = performance.now();
    if (now - this.#windowStartMs >= DENIAL_LOG_WINDOW_MS) {
      if (this.#suppressed > 0) {
        this.#log(
          `authorisation: ${this.#suppressed} more denials not logged in the last ${DENIAL_LOG_WINDOW_MS / 1000} s`,
        );
      }
      this.#windowStartMs = now;
      this.#windowLines = 0;
      this.#suppressed = 0;
    }
    if (this.#windowLines < DENIAL_LOG_LINES_MAX) {
      this.#windowLines++;
      this.#log(`authorisation: denied ${principal} ${operation} on ${type}:${name}`);
    } else {
      this.#suppressed++;
    }
    return false;
  }
}
