/**
 * `herald acls add|remove|list`: the ACLs of a data directory (DIR/security/acls.json), as
 * `herald serve --acls` enforces them. A running server sees changes within a second.
 */
import { parseArgs } from 'node:util';
import {
  ACL_OPERATIONS,
  type AclEntry,
  type AclOperation,
  type AclResourceType,
  aclsFile,
  addAcls,
  CLUSTER_RESOURCE_NAME,
  formatAcl,
  KafkaServerConfigError,
  readAcls,
  removeAcls,
} from '@herald/kafka-server';
import { type Command, type CommandIo, UsageError } from '../cli.ts';
import { CliError, EXIT } from '../errors.ts';

const USAGE = `Usage: herald acls <add|remove|list> [options]

Manages the ACLs of a data directory (DIR/security/acls.json) for \`herald serve --acls\`, with
Kafka's semantics: a request needs a matching allow and no matching deny (deny wins); with no
matching ACL it is denied, except for --super-users. A running server sees changes within 1 s.

Commands:
  add                    add the ACLs the options describe (one per principal and operation)
  remove                 remove exactly those ACLs
  list                   print the ACLs, one per line (--principal filters)

Options:
  --allow PRINCIPAL      allow User:NAME, or User:* for everybody (repeatable)
  --deny PRINCIPAL       deny it (repeatable); a deny wins over any allow
  --operation OP         read, write, create, delete, alter, describe or all (repeatable, or a
                         comma-separated list); describe is implied by read, write, delete, alter
  --topic NAME           the topic NAME ("*" for every topic)
  --group NAME           the consumer group NAME ("*" for every group)
  --cluster              the cluster (CreateTopics, ListGroups, DescribeConfigs of the broker)
  --prefixed             NAME is a prefix: every topic or group whose name starts with it
  --principal PRINCIPAL  list: only this principal's ACLs
  --data DIR             data directory (default $HERALD_DATA_DIR or ./.herald)
  -h, --help             show this help

Example:
  herald acls add --allow User:alice --operation read,write --topic orders --data ./data
  herald acls add --allow User:alice --operation read --group billing- --prefixed --data ./data
  herald acls list --data ./data
`;

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function strings(value: Values[string]): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** The entries `add`/`remove` describe. */
function entriesFrom(values: Values): AclEntry[] {
  const resources: [AclResourceType, string][] = [
    ...strings(values.topic).map((name): [AclResourceType, string] => ['topic', name]),
    ...strings(values.group).map((name): [AclResourceType, string] => ['group', name]),
    ...(values.cluster === true ? [['cluster', CLUSTER_RESOURCE_NAME] as [AclResourceType, string]] : []),
  ];
  if (resources.length !== 1)
    throw new UsageError('give exactly one of --topic NAME, --group NAME, --cluster');
  const [resourceType, resourceName] = resources[0]!;
  const operations = strings(values.operation)
    .flatMap((text) => text.split(','))
    .map((operation) => operation.trim().toLowerCase())
    .filter((operation) => operation.length > 0);
  if (operations.length === 0) throw new UsageError(`give --operation (${ACL_OPERATIONS.join(', ')})`);
  const principals = [
    ...strings(values.allow).map((principal) => ({ principal, permission: 'allow' as const })),
    ...strings(values.deny).map((principal) => ({ principal, permission: 'deny' as const })),
  ];
  if (principals.length === 0) throw new UsageError('give --allow User:NAME or --deny User:NAME');
  const patternType = values.prefixed === true ? 'prefixed' : 'literal';
  return principals.flatMap(({ principal, permission }) =>
    operations.map((operation) => ({
      principal,
      permission,
      operation: operation as AclOperation,
      resourceType,
      resourceName,
      patternType,
    })),
  );
}

async function acls(args: readonly string[], io: CommandIo): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: {
        data: { type: 'string' },
        allow: { type: 'string', multiple: true },
        deny: { type: 'string', multiple: true },
        operation: { type: 'string', multiple: true },
        topic: { type: 'string', multiple: true },
        group: { type: 'string', multiple: true },
        cluster: { type: 'boolean' },
        prefixed: { type: 'boolean' },
        principal: { type: 'string' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const env = io.env ?? process.env;
  const dir = (values.data as string | undefined) ?? env.HERALD_DATA_DIR ?? './.herald';
  const [action, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  try {
    switch (action) {
      case 'list': {
        const principal = values.principal as string | undefined;
        for (const entry of await readAcls(dir)) {
          if (principal === undefined || entry.principal === principal) io.stdout(`${formatAcl(entry)}\n`);
        }
        return EXIT.ok;
      }
      case 'add': {
        const added = await addAcls(dir, entriesFrom(values));
        io.stdout(`herald acls: added ${added} ACL${added === 1 ? '' : 's'} to ${aclsFile(dir)}\n`);
        return EXIT.ok;
      }
      case 'remove': {
        const wanted = new Set(entriesFrom(values).map(formatAcl));
        const removed = await removeAcls(dir, (entry) => wanted.has(formatAcl(entry)));
        if (removed.length === 0) {
          throw new CliError(`no such ACL in ${aclsFile(dir)}; see herald acls list`, EXIT.notFound);
        }
        for (const entry of removed) io.stdout(`herald acls: removed ${formatAcl(entry)}\n`);
        return EXIT.ok;
      }
      default:
        throw new UsageError('herald acls needs add, remove or list');
    }
  } catch (error) {
    // An invalid principal, operation or name is a usage error whose message says what to use.
    if (error instanceof KafkaServerConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** The `acls` command. */
export const aclsCommand: Command = {
  name: 'acls',
  summary: 'add, remove and list the ACLs herald serve --acls enforces',
  usage: USAGE,
  run: acls,
};
