/**
 * `herald acls add|remove|list` and `herald serve --acls` through the real binary: ACLs edited
 * while the server runs take effect without a restart, a denial is logged, and a super user needs
 * no ACL.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { eventually, startServe, temporaryDirectory } from '@herald/test-support';
import { herald, heraldOk, type Result } from './support.ts';

test('cli acls - add, list, remove, and serve --acls enforcing them without a restart', {
  timeout: 180_000,
}, async () => {
  const dir = path.join(temporaryDirectory('herald-cli-acls-'), 'data');
  await heraldOk(['users', 'add', 'admin', '--data', dir], { input: 'admin-secret\n' });
  await heraldOk(['users', 'add', 'bob', '--data', dir], { input: 'bob-secret\n' });
  const add = [
    'acls',
    'add',
    '--allow',
    'User:bob',
    '--operation',
    'read,describe',
    '--topic',
    'orders',
    '--data',
    dir,
  ];
  assert.match((await heraldOk(add)).stdout, /added 2 ACLs/);
  assert.match((await heraldOk(add)).stdout, /added 0 ACLs/, 'adding twice is idempotent');
  assert.equal(
    (await heraldOk(['acls', 'list', '--data', dir])).stdout,
    'allow User:bob read topic:orders (literal)\nallow User:bob describe topic:orders (literal)\n',
  );
  const badPrincipal = await herald([
    'acls',
    'add',
    '--allow',
    'bob',
    '--operation',
    'read',
    '--topic',
    't',
    '--data',
    dir,
  ]);
  assert.equal(badPrincipal.code, 2);
  assert.match(badPrincipal.stderr, /invalid principal "bob": use User:NAME or User:\*/);
  assert.equal(
    (await herald(['acls', 'add', '--allow', 'User:bob', '--operation', 'read', '--data', dir])).code,
    2,
  );
  assert.equal(
    (
      await herald([
        'acls',
        'remove',
        '--allow',
        'User:bob',
        '--operation',
        'write',
        '--topic',
        'orders',
        '--data',
        dir,
      ])
    ).code,
    3,
    'no such ACL',
  );
  await heraldOk([
    'acls',
    'remove',
    '--allow',
    'User:bob',
    '--operation',
    'describe',
    '--topic',
    'orders',
    '--data',
    dir,
  ]);
  assert.equal(
    (await heraldOk(['acls', 'list', '--data', dir])).stdout,
    'allow User:bob read topic:orders (literal)\n',
  );

  const serve = await startServe({
    dir,
    env: { HERALD_BROKER: '', HERALD_DATA_DIR: '' },
    args: ['--sasl-mechanisms', 'SCRAM-SHA-512', '--acls', '--super-users', 'User:admin'],
  });
  try {
    assert.match(serve.output(), /SASL \+ ACLs/);
    const as = (user: string) => ({
      HERALD_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      HERALD_KAFKA_SASL_USERNAME: user,
      HERALD_KAFKA_SASL_PASSWORD: `${user}-secret`,
    });
    await heraldOk(['produce', '-t', 'orders', '--broker', serve.bootstrap], {
      input: 'a\n',
      env: as('admin'),
    });
    const denied = await herald(['produce', '-t', 'orders', '--broker', serve.bootstrap], {
      input: 'b\n',
      env: as('bob'),
    });
    assert.notEqual(denied.code, 0, 'bob may read orders but not write');
    await eventually(
      () => serve.output().includes('denied User:bob write on topic:orders'),
      () => serve.output(),
    );
    await heraldOk([
      'acls',
      'add',
      '--allow',
      'User:bob',
      '--operation',
      'write',
      '--topic',
      'orders',
      '--data',
      dir,
    ]);
    let last: Result | undefined;
    await eventually(
      async () => {
        last = await herald(['produce', '-t', 'orders', '--broker', serve.bootstrap], {
          input: 'b\n',
          env: as('bob'),
        });
        return last.code === 0;
      },
      () => `bob producing after herald acls add: ${last?.stderr}`,
      30_000,
      200,
    );
  } finally {
    assert.equal(await serve.stop(), 0, serve.output());
  }
});
