/**
 * ACLs of a data directory: `<dir>/security/acls.json`, a list of Kafka-style access control
 * entries (principal, allow/deny, operation, resource). Written atomically like the users file
 * (temporary file, fsync, rename, fsync of the directory), so a crash leaves the old or the new
 * list. `herald acls add|remove|list` and the CreateAcls/DeleteAcls APIs edit it; a running
 * server re-reads it when it changes (see `AclDirectory`).
 */
import path from 'node:path';
import { KafkaServerConfigError } from '../config-error.ts';
import { damagedFileError, readJsonFile, type SecurityFile, writeJsonFile } from './json-file.ts';

/** What an ACL applies to (Kafka's resource types this server has). */
export type AclResourceType = 'topic' | 'group' | 'cluster';
/** Whether an ACL names one resource or every resource whose name starts with `name`. */
export type AclPatternType = 'literal' | 'prefixed';
/** An operation an ACL allows or denies; `all` matches every operation. */
export type AclOperation = 'read' | 'write' | 'create' | 'delete' | 'alter' | 'describe' | 'all';
/** Allow or deny; a matching deny wins over any allow. */
export type AclPermission = 'allow' | 'deny';

/** Resource types, in the order `herald acls list` prints them. */
export const ACL_RESOURCE_TYPES: readonly AclResourceType[] = ['topic', 'group', 'cluster'];
/** Operations an ACL may name. */
export const ACL_OPERATIONS: readonly AclOperation[] = [
  'read',
  'write',
  'create',
  'delete',
  'alter',
  'describe',
  'all',
];
/** The one resource name of the cluster resource, as in Kafka. */
export const CLUSTER_RESOURCE_NAME = 'kafka-cluster';

/** One access control entry. */
export interface AclEntry {
  /** `User:<name>`, or `User:*` for every principal. */
  readonly principal: string;
  readonly permission: AclPermission;
  readonly operation: AclOperation;
  readonly resourceType: AclResourceType;
  /** Topic or group name, its prefix, `*` for every resource, or `kafka-cluster`. */
  readonly resourceName: string;
  readonly patternType: AclPatternType;
}

/** Most entries one file holds (the server keeps them all in memory and scans them per check). */
export const ACLS_MAX = 10_000;
/** Largest ACL file read. */
const ACLS_FILE_BYTES_MAX = 8 * 1024 * 1024;
const PRINCIPAL = /^User:(\*|[A-Za-z0-9._@-]{1,128})$/;
const RESOURCE_NAME_BYTES_MAX = 255;

/** Path of the ACL file of data directory `dir`. */
export function aclsFile(dir: string): string {
  return path.join(dir, 'security', 'acls.json');
}

/** The problem with `entry`, or undefined when it is a valid ACL. */
export function aclProblem(entry: AclEntry): string | undefined {
  if (typeof entry.principal !== 'string' || !PRINCIPAL.test(entry.principal)) {
    return `invalid principal "${String(entry.principal)}": use User:NAME or User:*`;
  }
  if (entry.permission !== 'allow' && entry.permission !== 'deny') return 'permission must be allow or deny';
  if (!ACL_OPERATIONS.includes(entry.operation)) {
    return `invalid operation "${String(entry.operation)}": use ${ACL_OPERATIONS.join(', ')}`;
  }
  if (!ACL_RESOURCE_TYPES.includes(entry.resourceType)) {
    return `invalid resource type "${String(entry.resourceType)}": use ${ACL_RESOURCE_TYPES.join(', ')}`;
  }
  if (entry.patternType !== 'literal' && entry.patternType !== 'prefixed') {
    return 'pattern type must be literal or prefixed';
  }
  if (
    typeof entry.resourceName !== 'string' ||
    entry.resourceName.length === 0 ||
    entry.resourceName.length > RESOURCE_NAME_BYTES_MAX
  ) {
    return `the resource name must have 1 to ${RESOURCE_NAME_BYTES_MAX} characters`;
  }
  if (entry.resourceType === 'cluster' && entry.resourceName !== CLUSTER_RESOURCE_NAME) {
    return `the cluster resource is named ${CLUSTER_RESOURCE_NAME}`;
  }
  if (entry.patternType === 'prefixed' && entry.resourceName === '*') {
    return 'a prefixed pattern cannot be "*" (use literal "*" for every resource)';
  }
  return undefined;
}

/** Throws unless `entry` is a valid ACL. */
export function checkAcl(entry: AclEntry): void {
  const problem = aclProblem(entry);
  if (problem !== undefined) throw new KafkaServerConfigError(problem);
}

/** A key equal for equal entries (the file holds each entry once). */
export function aclKey(entry: AclEntry): string {
  return [
    entry.principal,
    entry.permission,
    entry.operation,
    entry.resourceType,
    entry.patternType,
    entry.resourceName,
  ].join('\u0000');
}

/** The ACL file of `dir`, as {@link readJsonFile} reads it. */
function aclsSecurityFile(dir: string): SecurityFile {
  return {
    file: aclsFile(dir),
    bytesMax: ACLS_FILE_BYTES_MAX,
    remedy: 'restore it from a backup or recreate the ACLs',
  };
}

function parseAcls(parsed: unknown, security: SecurityFile): AclEntry[] {
  const broken = (why: string) => damagedFileError(security, why);
  const acls = (parsed as { acls?: unknown } | null)?.acls;
  if (!Array.isArray(acls) || acls.length > ACLS_MAX) throw broken('no ACL list');
  return acls.map((entry: AclEntry) => {
    const problem = typeof entry === 'object' && entry !== null ? aclProblem(entry) : 'not an object';
    if (problem !== undefined) throw broken(problem);
    const { principal, permission, operation, resourceType, resourceName, patternType } = entry;
    return { principal, permission, operation, resourceType, resourceName, patternType };
  });
}

/** Reads the ACLs of `dir` (empty when there is no file). */
export async function readAcls(dir: string): Promise<AclEntry[]> {
  const security = aclsSecurityFile(dir);
  const parsed = await readJsonFile(security);
  return parsed === undefined ? [] : parseAcls(parsed, security);
}

function writeAcls(dir: string, acls: readonly AclEntry[]): Promise<void> {
  return writeJsonFile(aclsFile(dir), { acls });
}

/** Adds the entries not there yet; resolves how many were new. */
export async function addAcls(dir: string, entries: readonly AclEntry[]): Promise<number> {
  for (const entry of entries) checkAcl(entry);
  const acls = await readAcls(dir);
  const keys = new Set(acls.map(aclKey));
  let added = 0;
  for (const entry of entries) {
    if (keys.has(aclKey(entry))) continue;
    if (acls.length >= ACLS_MAX) {
      throw new KafkaServerConfigError(`at most ${ACLS_MAX} ACLs; remove unused ones first`);
    }
    keys.add(aclKey(entry));
    acls.push(entry);
    added++;
  }
  if (added > 0) await writeAcls(dir, acls);
  return added;
}

/** Removes the entries `matches` selects; resolves the removed entries. */
export async function removeAcls(dir: string, matches: (entry: AclEntry) => boolean): Promise<AclEntry[]> {
  const acls = await readAcls(dir);
  const removed = acls.filter(matches);
  if (removed.length > 0)
    await writeAcls(
      dir,
      acls.filter((entry) => !matches(entry)),
    );
  return removed;
}

/** `entry` as one line: `allow User:alice read topic:orders (literal)`. */
export function formatAcl(entry: AclEntry): string {
  return `${entry.permission} ${entry.principal} ${entry.operation} ${entry.resourceType}:${entry.resourceName} (${entry.patternType})`;
}
