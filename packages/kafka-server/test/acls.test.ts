/**
 * ACLs: the authorizer's semantics (deny wins, prefixed and `*` patterns, `User:*`, DESCRIBE
 * implied, super users, no match denied); enforcement against real clients over SASL SCRAM (kcat,
 * @platformatic/kafka and the Java producer get their authorisation error without an ACL, and
 * succeed once one is added while the server runs; a super user keeps working throughout);
 * Kafka's kafka-acls.sh against the ACL APIs; and each API's denial over the wire.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  API_KEY,
  type CreateTopicsResponse,
  type DeleteTopicsResponse,
  type DescribeAclsResponse,
  type DescribeGroupsResponse,
  ERROR_CODE,
  type JoinGroupResponse,
  type MetadataResponse,
  type OffsetFetchResponse,
} from '@herald/kafka-protocol';
import { eventually, requireTool, runTool, type ToolResult, temporaryDirectory } from '@herald/test-support';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { addAcls, addUser, type KafkaServer, readAcls, removeAcls, startKafkaServer } from '../src/index.ts';
import { Authorizer } from '../src/security/authorizer.ts';
import { runJava } from './client-tools.ts';
import { WireClient } from './wire-client.ts';

const ACL_COMMAND = 'org.apache.kafka.tools.AclCommand';

describe('acls - authorizer', () => {
  test('acls - deny wins, prefixes, wildcards, implied describe, super users, no match denied', async () => {
    const dir = temporaryDirectory('herald-acls-unit-');
    await addAcls(dir, [
      {
        principal: 'User:alice',
        permission: 'allow',
        operation: 'read',
        resourceType: 'topic',
        resourceName: 'orders',
        patternType: 'literal',
      },
      {
        principal: 'User:*',
        permission: 'allow',
        operation: 'write',
        resourceType: 'topic',
        resourceName: 'logs-',
        patternType: 'prefixed',
      },
      {
        principal: 'User:bob',
        permission: 'deny',
        operation: 'all',
        resourceType: 'topic',
        resourceName: 'logs-secret',
        patternType: 'prefixed',
      },
      {
        principal: 'User:alice',
        permission: 'allow',
        operation: 'all',
        resourceType: 'group',
        resourceName: '*',
        patternType: 'literal',
      },
    ]);
    const lines: string[] = [];
    const authorizer = new Authorizer(
      dir,
      ['User:root'],
      (line) => lines.push(line),
      (error) => assert.fail(String(error)),
    );
    await authorizer.refresh(true);
    assert.equal(authorizer.authorize('User:alice', 'read', 'topic', 'orders'), true);
    assert.equal(
      authorizer.authorize('User:alice', 'describe', 'topic', 'orders'),
      true,
      'read implies describe',
    );
    assert.equal(authorizer.authorize('User:alice', 'write', 'topic', 'orders'), false);
    assert.equal(authorizer.authorize('User:alice', 'read', 'topic', 'orders2'), false, 'literal is exact');
    assert.equal(authorizer.authorize('User:bob', 'write', 'topic', 'logs-app'), true, 'User:* and prefix');
    assert.equal(authorizer.authorize('User:bob', 'write', 'topic', 'logs-secret-1'), false, 'deny wins');
    assert.equal(authorizer.authorize('User:alice', 'delete', 'group', 'any'), true, 'all and *');
    assert.equal(authorizer.authorize('User:carol', 'describe', 'cluster', 'kafka-cluster'), false);
    assert.equal(authorizer.authorize('User:root', 'delete', 'topic', 'anything'), true, 'super user');
    assert.equal(authorizer.deniedCount, 4);
    assert.match(lines[0]!, /denied User:alice write on topic:orders/);
    // The log is bounded: a flood of denials writes at most 20 lines per window.
    for (let index = 0; index < 1000; index++) authorizer.authorize('User:eve', 'read', 'topic', 'orders');
    assert.ok(lines.length <= 20, `${lines.length} lines`);
    assert.equal(authorizer.deniedCount, 1004);
    const removed = await removeAcls(dir, (entry) => entry.principal === 'User:bob');
    assert.equal(removed.length, 1);
    assert.equal((await readAcls(dir)).length, 3);
    await assert.rejects(
      addAcls(dir, [
        {
          principal: 'alice',
          permission: 'allow',
          operation: 'read',
          resourceType: 'topic',
          resourceName: 't',
          patternType: 'literal',
        },
      ]),
      /invalid principal "alice": use User:NAME or User:\*/,
    );
  });
});

async function kcat(
  bootstrap: string,
  user: string,
  args: readonly string[],
  input?: string,
): Promise<ToolResult> {
  const auth = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=SCRAM-SHA-512'];
  return runTool(
    'kcat',
    ['-b', bootstrap, ...auth, '-X', `sasl.username=${user}`, '-X', `sasl.password=${user}-secret`, ...args],
    { ...(input === undefined ? {} : { input }), timeoutMs: 60_000 },
  );
}

describe('acls - enforced', { timeout: 300_000 }, () => {
  let dir: string;
  let server: KafkaServer;
  let bootstrap: string;
  const denials: string[] = [];
  const errors: unknown[] = [];

  before(async () => {
    requireTool('kcat', ['-V'], "kcat (Debian's kcat)");
    dir = path.join(temporaryDirectory('herald-acls-'), 'data');
    mkdirSync(dir);
    await addUser(dir, 'admin', 'admin-secret');
    await addUser(dir, 'bob', 'bob-secret');
    await addUser(dir, 'carol', 'carol-secret');
    server = await startKafkaServer({
      dir,
      port: 0,
      sasl: { mechanisms: ['SCRAM-SHA-512'] },
      acls: { superUsers: ['User:admin'], onDenied: (line) => denials.push(line) },
      onError: (error) => errors.push(error),
    });
    bootstrap = `127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server?.close();
  });

  test('acls - kcat: no ACL is "Topic authorization failed"; an added ACL works; the super user keeps working', async () => {
    const admin = await kcat(bootstrap, 'admin', ['-P', '-t', 'orders'], 'first\n');
    assert.equal(admin.code, 0, admin.stderr);
    const denied = await kcat(
      bootstrap,
      'bob',
      ['-P', '-t', 'orders', '-X', 'message.timeout.ms=5000'],
      'no\n',
    );
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Topic authorization failed/i);
    assert.ok(
      denials.some((line) => line.includes('User:bob')),
      denials.join('\n'),
    );

    await addAcls(dir, [
      {
        principal: 'User:bob',
        permission: 'allow',
        operation: 'write',
        resourceType: 'topic',
        resourceName: 'orders',
        patternType: 'literal',
      },
    ]);
    // The server re-reads the file within ACL_REFRESH_INTERVAL_MS.
    let last: ToolResult | undefined;
    await eventually(
      async () => {
        last = await kcat(bootstrap, 'bob', ['-P', '-t', 'orders', '-X', 'message.timeout.ms=5000'], 'yes\n');
        return last.code === 0;
      },
      () => `bob producing after the ACL was added: ${last?.stderr}`,
      30_000,
      200,
    );
    const before = denials.length;
    const read = await kcat(bootstrap, 'admin', ['-C', '-t', 'orders', '-e', '-q', '-o', 'beginning']);
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(
      read.stdout.trim().split('\n').sort(),
      ['first', 'yes'],
      'one message each, on any partitions',
    );
    assert.equal(denials.length, before, 'the super user is never denied');
  });

  test('acls - @platformatic/kafka: TOPIC_AUTHORIZATION_FAILED without an ACL', async () => {
    const producer = new Producer({
      bootstrapBrokers: [bootstrap],
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'bob', password: 'bob-secret' },
      clientId: 'plt-acl',
      serializers: stringSerializers,
      retries: 0,
    });
    try {
      await assert.rejects(producer.send({ messages: [{ topic: 'secret', value: 'x' }] }), (error: Error) => {
        const text = `${error.message} ${JSON.stringify((error as { errors?: unknown }).errors ?? '', (_key, value) => (typeof value === 'bigint' ? String(value) : value))} ${String(error.cause)}`;
        return /authoriz/i.test(text) || assert.fail(text);
      });
    } finally {
      await producer.close();
    }
    assert.deepEqual(errors, []);
  });
  test('acls - kafka-acls.sh adds, lists and removes ACLs; the Java producer gets TopicAuthorizationException, a user without ALTER on the cluster ClusterAuthorizationException', async () => {
    const config = (user: string) => {
      const file = path.join(dir, '..', `${user}.properties`);
      writeFileSync(
        file,
        'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n' +
          `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${user}" password="${user}-secret";\n`,
      );
      return file;
    };
    const acls = (user: string, args: readonly string[]) =>
      runJava(ACL_COMMAND, ['--bootstrap-server', bootstrap, '--command-config', config(user), ...args]);
    const added = await acls('admin', [
      '--add',
      '--allow-principal',
      'User:carol',
      '--operation',
      'Read',
      '--operation',
      'Describe',
      '--topic',
      'reports',
      '--resource-pattern-type',
      'prefixed',
    ]);
    assert.equal(added.code, 0, `${added.stdout}\n${added.stderr}`);
    assert.deepEqual(
      (await readAcls(dir))
        .filter((entry) => entry.principal === 'User:carol')
        .map((entry) => entry.operation)
        .sort(),
      ['describe', 'read'],
    );
    const listed = await acls('admin', [
      '--list',
      '--topic',
      'reports',
      '--resource-pattern-type',
      'prefixed',
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /User:carol/);
    assert.match(listed.stdout, /operation=READ/);
    const admin = await kcat(bootstrap, 'admin', ['-P', '-t', 'reports-2026'], 'q4\n');
    assert.equal(admin.code, 0, admin.stderr);
    const read = await kcat(bootstrap, 'carol', ['-C', '-t', 'reports-2026', '-e', '-q', '-o', 'beginning']);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout.trim(), 'q4');

    // The Java producer: carol may describe reports-* but not write it.
    const produced = await runJava(
      'org.apache.kafka.tools.ConsoleProducer',
      [
        '--bootstrap-server',
        bootstrap,
        '--producer.config',
        config('carol'),
        '--topic',
        'reports-2026',
        '--sync',
      ],
      { input: 'nope\n' },
    );
    assert.match(`${produced.stdout}${produced.stderr}`, /TopicAuthorizationException/);

    const refused = await acls('bob', [
      '--add',
      '--allow-principal',
      'User:bob',
      '--operation',
      'All',
      '--topic',
      '*',
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(`${refused.stdout}${refused.stderr}`, /ClusterAuthorizationException/);

    const removed = await acls('admin', [
      '--remove',
      '--force',
      '--allow-principal',
      'User:carol',
      '--operation',
      'Read',
      '--topic',
      'reports',
      '--resource-pattern-type',
      'prefixed',
    ]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(
      (await readAcls(dir))
        .filter((entry) => entry.principal === 'User:carol')
        .map((entry) => entry.operation),
      ['describe'],
    );
  });
});

describe('acls - per API over the wire', { timeout: 120_000 }, () => {
  test('acls - Metadata, groups, topics admin and the ACL APIs answer their authorisation errors', async () => {
    const dir = path.join(temporaryDirectory('herald-acls-wire-'), 'data');
    mkdirSync(dir);
    // Without SASL every connection is User:ANONYMOUS.
    const allow = (
      operation: 'describe' | 'read',
      resourceType: 'topic' | 'group',
      resourceName: string,
    ) => ({
      principal: 'User:ANONYMOUS',
      permission: 'allow' as const,
      operation,
      resourceType,
      resourceName,
      patternType: 'literal' as const,
    });
    await addAcls(dir, [allow('describe', 'topic', 'visible'), allow('read', 'group', 'g-ok')]);
    const server = await startKafkaServer({ dir, port: 0, acls: { onDenied: () => {} } });
    const open = await startKafkaServer({ dir: path.join(dir, '..', 'open'), port: 0 });
    const client = new WireClient(server.port);
    const openClient = new WireClient(open.port);
    try {
      await server.broker.createTopic('visible', { partitions: 1 });
      await server.broker.createTopic('hidden', { partitions: 1 });
      const metadata = (topics: { name: string }[] | null) =>
        client.request<MetadataResponse>(API_KEY.Metadata, 9, {
          topics,
          allowAutoTopicCreation: true,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        });
      assert.deepEqual(
        (await metadata(null)).topics.map((topic) => topic.name),
        ['visible'],
        'listing leaves out what may not be described',
      );
      const named = await metadata([{ name: 'visible' }, { name: 'hidden' }, { name: 'brand-new' }]);
      assert.deepEqual(named.topics.map((topic) => [topic.name, topic.errorCode]).sort(), [
        ['brand-new', ERROR_CODE.TOPIC_AUTHORIZATION_FAILED],
        ['hidden', ERROR_CODE.TOPIC_AUTHORIZATION_FAILED],
        ['visible', ERROR_CODE.NONE],
      ]);
      assert.equal(
        server.broker.listTopics().includes('brand-new'),
        false,
        'not auto-created without CREATE',
      );

      const joined = await client.request<JoinGroupResponse>(API_KEY.JoinGroup, 2, {
        groupId: 'g-denied',
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: '',
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: new Uint8Array(0) }],
      });
      assert.equal(joined.errorCode, ERROR_CODE.GROUP_AUTHORIZATION_FAILED);
      const fetched = await client.request<OffsetFetchResponse>(API_KEY.OffsetFetch, 7, {
        groupId: 'g-denied',
        topics: null,
        requireStable: false,
      });
      assert.equal(fetched.errorCode, ERROR_CODE.GROUP_AUTHORIZATION_FAILED);
      const described = await client.request<DescribeGroupsResponse>(API_KEY.DescribeGroups, 5, {
        groups: ['g-ok', 'g-denied'],
        includeAuthorizedOperations: false,
      });
      assert.deepEqual(
        described.groups.map((group) => [group.groupId, group.errorCode]),
        [
          ['g-ok', ERROR_CODE.NONE],
          ['g-denied', ERROR_CODE.GROUP_AUTHORIZATION_FAILED],
        ],
      );

      const created = await client.request<CreateTopicsResponse>(API_KEY.CreateTopics, 5, {
        topics: [{ name: 'made', numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }],
        timeoutMs: 5_000,
        validateOnly: false,
      });
      assert.equal(created.topics[0]?.errorCode, ERROR_CODE.TOPIC_AUTHORIZATION_FAILED);
      const deleted = await client.request<DeleteTopicsResponse>(API_KEY.DeleteTopics, 4, {
        topicNames: ['visible'],
        timeoutMs: 5_000,
      });
      assert.equal(deleted.responses[0]?.errorCode, ERROR_CODE.TOPIC_AUTHORIZATION_FAILED);
      assert.ok(server.broker.listTopics().includes('visible'));

      const describeAcls = {
        resourceTypeFilter: 1,
        resourceNameFilter: null,
        patternTypeFilter: 1,
        principalFilter: null,
        hostFilter: null,
        operation: 1,
        permissionType: 1,
      };
      const acls = await client.request<DescribeAclsResponse>(API_KEY.DescribeAcls, 3, describeAcls);
      assert.equal(acls.errorCode, ERROR_CODE.CLUSTER_AUTHORIZATION_FAILED);
      const disabled = await openClient.request<DescribeAclsResponse>(API_KEY.DescribeAcls, 3, describeAcls);
      assert.equal(disabled.errorCode, ERROR_CODE.SECURITY_DISABLED, 'a server without --acls');
      assert.equal(client.closed, false, 'denials keep the connection open');
    } finally {
      client.close();
      openClient.close();
      await server.close();
      await open.close();
    }
  });
});
