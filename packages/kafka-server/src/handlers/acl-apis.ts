/**
 * DescribeAcls, CreateAcls and DeleteAcls (1-3; flexible from 2), so Kafka's `kafka-acls.sh` and
 * the Java `Admin` client manage the same ACL file as `herald acls`. As in Kafka: describing needs
 * DESCRIBE on the cluster, creating and deleting ALTER on the cluster (else
 * CLUSTER_AUTHORIZATION_FAILED), and a server without ACLs answers SECURITY_DISABLED. Only the
 * host `*` is supported (ACLs are per principal, not per client address); other hosts, resource
 * types (transactional ids, delegation tokens, users) and operations (IDEMPOTENT_WRITE,
 * DESCRIBE_CONFIGS, ...) are refused with INVALID_REQUEST and a message saying what is supported.
 */
import {
  type CreateAclsRequest,
  type CreateAclsResponse,
  type DeleteAclsRequest,
  type DeleteAclsResponse,
  type DescribeAclsRequest,
  type DescribeAclsResponse,
  ERROR_CODE,
} from '@herald/kafka-protocol';
import { deniedErrorCode } from '../error-mapping.ts';
import {
  type AclEntry,
  type AclOperation,
  type AclResourceType,
  aclKey,
  aclProblem,
  addAcls,
  removeAcls,
} from '../security/acl-store.ts';
import type { Authorizer } from '../security/authorizer.ts';

/** Kafka's ResourceType codes. */
const RESOURCE_TYPE = { any: 1, topic: 2, group: 3, cluster: 4 } as const;
/** Kafka's PatternType codes. */
const PATTERN_TYPE = { any: 1, match: 2, literal: 3, prefixed: 4 } as const;
/** Kafka's AclOperation codes (the ones this server has). */
const OPERATION: Record<AclOperation | 'any', number> = {
  any: 1,
  all: 2,
  read: 3,
  write: 4,
  create: 5,
  delete: 6,
  alter: 7,
  describe: 8,
};
/** Kafka's AclPermissionType codes. */
const PERMISSION = { any: 1, deny: 2, allow: 3 } as const;
const ANY_HOST = '*';
const SECURITY_DISABLED_MESSAGE = 'ACLs are off on this server; start herald serve with --acls';

function nameOf<T extends string>(table: Readonly<Record<T, number>>, code: number): T | undefined {
  return (Object.keys(table) as T[]).find((name) => table[name] === code);
}

/** Kafka's filter fields, shared by DescribeAcls and DeleteAcls. */
interface AclFilter {
  readonly resourceTypeFilter: number;
  readonly resourceNameFilter: string | null;
  readonly patternTypeFilter: number;
  readonly principalFilter: string | null;
  readonly hostFilter: string | null;
  readonly operation: number;
  readonly permissionType: number;
}

function matchesFilter(filter: AclFilter, entry: AclEntry): boolean {
  const type = nameOf(RESOURCE_TYPE, filter.resourceTypeFilter);
  if (type !== 'any' && type !== entry.resourceType) return false;
  if (filter.principalFilter !== null && filter.principalFilter !== entry.principal) return false;
  if (filter.hostFilter !== null && filter.hostFilter !== ANY_HOST) return false;
  if (filter.operation !== OPERATION.any && filter.operation !== OPERATION[entry.operation]) return false;
  if (filter.permissionType !== PERMISSION.any && filter.permissionType !== PERMISSION[entry.permission]) {
    return false;
  }
  const name = filter.resourceNameFilter;
  switch (filter.patternTypeFilter) {
    case PATTERN_TYPE.any:
      return name === null || name === entry.resourceName;
    case PATTERN_TYPE.match:
      // Every ACL that applies to the named resource: exact, the `*` wildcard, or a prefix of it.
      if (name === null) return true;
      return entry.patternType === 'prefixed'
        ? name.startsWith(entry.resourceName)
        : entry.resourceName === name || entry.resourceName === '*';
    default:
      return (
        filter.patternTypeFilter === PATTERN_TYPE[entry.patternType] &&
        (name === null || name === entry.resourceName)
      );
  }
}

function describeEntry(entry: AclEntry) {
  return {
    principal: entry.principal,
    host: ANY_HOST,
    operation: OPERATION[entry.operation],
    permissionType: PERMISSION[entry.permission],
  };
}

/** DescribeAcls. */
export function handleDescribeAcls(
  authorizer: Authorizer | undefined,
  principal: string,
  request: DescribeAclsRequest,
): DescribeAclsResponse {
  const refused = (errorCode: number, errorMessage: string) => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    resources: [],
  });
  if (authorizer === undefined) return refused(ERROR_CODE.SECURITY_DISABLED, SECURITY_DISABLED_MESSAGE);
  if (!authorizer.authorizeCluster(principal, 'describe')) {
    return refused(deniedErrorCode('cluster'), 'describing ACLs needs DESCRIBE on the cluster');
  }
  const resources = new Map<
    string,
    {
      resourceType: number;
      resourceName: string;
      patternType: number;
      acls: ReturnType<typeof describeEntry>[];
    }
  >();
  for (const entry of authorizer.acls) {
    if (!matchesFilter(request, entry)) continue;
    const key = `${entry.resourceType}\u0000${entry.patternType}\u0000${entry.resourceName}`;
    let resource = resources.get(key);
    if (resource === undefined) {
      resource = {
        resourceType: RESOURCE_TYPE[entry.resourceType],
        resourceName: entry.resourceName,
        patternType: PATTERN_TYPE[entry.patternType],
        acls: [],
      };
      resources.set(key, resource);
    }
    resource.acls.push(describeEntry(entry));
  }
  return {
    throttleTimeMs: 0,
    errorCode: ERROR_CODE.NONE,
    errorMessage: null,
    resources: [...resources.values()],
  };
}

/** The entry a CreateAcls creation describes, or the message that refuses it. */
function creationEntry(creation: CreateAclsRequest['creations'][number]): AclEntry | string {
  const resourceType = nameOf(RESOURCE_TYPE, creation.resourceType);
  const patternType = nameOf(PATTERN_TYPE, creation.resourcePatternType);
  const operation = nameOf(OPERATION, creation.operation);
  const permission = nameOf(PERMISSION, creation.permissionType);
  if (resourceType === undefined || resourceType === 'any')
    return 'resource type must be topic, group or cluster';
  if (patternType !== 'literal' && patternType !== 'prefixed')
    return 'pattern type must be literal or prefixed';
  if (operation === undefined || operation === 'any') {
    return 'operation must be all, read, write, create, delete, alter or describe';
  }
  if (permission === undefined || permission === 'any') return 'permission must be allow or deny';
  if (creation.host !== ANY_HOST)
    return 'only host "*" is supported (ACLs are per principal, not per address)';
  const entry: AclEntry = {
    principal: creation.principal,
    permission,
    operation,
    resourceType: resourceType as AclResourceType,
    resourceName: creation.resourceName,
    patternType,
  };
  return aclProblem(entry) ?? entry;
}

/** CreateAcls: validates each creation, then adds the valid ones in one atomic write. */
export async function handleCreateAcls(
  authorizer: Authorizer | undefined,
  principal: string,
  request: CreateAclsRequest,
): Promise<CreateAclsResponse> {
  const all = (errorCode: number, errorMessage: string) => ({
    throttleTimeMs: 0,
    results: request.creations.map(() => ({ errorCode, errorMessage })),
  });
  if (authorizer === undefined) return all(ERROR_CODE.SECURITY_DISABLED, SECURITY_DISABLED_MESSAGE);
  if (!authorizer.authorizeCluster(principal, 'alter')) {
    return all(deniedErrorCode('cluster'), 'creating ACLs needs ALTER on the cluster');
  }
  const entries = request.creations.map(creationEntry);
  const valid = entries.filter((entry): entry is AclEntry => typeof entry !== 'string');
  try {
    await authorizer.serialize(() => addAcls(authorizer.dir, valid));
    await authorizer.refresh(true);
  } catch (error) {
    return all(ERROR_CODE.UNKNOWN_SERVER_ERROR, `could not store the ACLs: ${(error as Error).message}`);
  }
  return {
    throttleTimeMs: 0,
    results: entries.map((entry) =>
      typeof entry === 'string'
        ? { errorCode: ERROR_CODE.INVALID_REQUEST, errorMessage: entry }
        : { errorCode: ERROR_CODE.NONE, errorMessage: null },
    ),
  };
}

/** DeleteAcls: removes every ACL any filter matches, in one atomic write. */
export async function handleDeleteAcls(
  authorizer: Authorizer | undefined,
  principal: string,
  request: DeleteAclsRequest,
): Promise<DeleteAclsResponse> {
  const all = (errorCode: number, errorMessage: string) => ({
    throttleTimeMs: 0,
    filterResults: request.filters.map(() => ({ errorCode, errorMessage, matchingAcls: [] })),
  });
  if (authorizer === undefined) return all(ERROR_CODE.SECURITY_DISABLED, SECURITY_DISABLED_MESSAGE);
  if (!authorizer.authorizeCluster(principal, 'alter')) {
    return all(deniedErrorCode('cluster'), 'deleting ACLs needs ALTER on the cluster');
  }
  let removed: AclEntry[];
  try {
    removed = await authorizer.serialize(() =>
      removeAcls(authorizer.dir, (entry) => request.filters.some((filter) => matchesFilter(filter, entry))),
    );
    await authorizer.refresh(true);
  } catch (error) {
    return all(ERROR_CODE.UNKNOWN_SERVER_ERROR, `could not store the ACLs: ${(error as Error).message}`);
  }
  const claimed = new Set<string>();
  return {
    throttleTimeMs: 0,
    filterResults: request.filters.map((filter) => ({
      errorCode: ERROR_CODE.NONE,
      errorMessage: null,
      // Each removed ACL is reported once, under the first filter that matched it.
      matchingAcls: removed
        .filter(
          (entry) =>
            matchesFilter(filter, entry) && !claimed.has(aclKey(entry)) && claimed.add(aclKey(entry)),
        )
        .map((entry) => ({
          errorCode: ERROR_CODE.NONE,
          errorMessage: null,
          resourceType: RESOURCE_TYPE[entry.resourceType],
          resourceName: entry.resourceName,
          patternType: PATTERN_TYPE[entry.patternType],
          ...describeEntry(entry),
        })),
    })),
  };
}
