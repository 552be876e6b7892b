/**
 * `herald serve` with TLS and SASL through the real binary: users managed with `herald users`,
 * the open bind refused, and `herald produce` / `consume --broker` authenticating with the same
 * variables the Kafka transport reads (HERALD_KAFKA_TLS_CA, HERALD_KAFKA_SASL_*).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { makeCertificates, startServe, temporaryDirectory } from '@herald/test-support';
import { herald, heraldOk } from './support.ts';

test('cli serve security - users, TLS + SASL serve, and --broker clients with HERALD_KAFKA_* settings', {
  timeout: 180_000,
}, async () => {
  const work = temporaryDirectory('herald-cli-security-');
  const certificates = await makeCertificates(work);
  const dir = path.join(work, 'data');
  await heraldOk(['users', 'add', 'alice', '--data', dir], { input: 'alice-secret\n' });
  await heraldOk(['users', 'add', 'bob', '--data', dir], { input: 'bob-secret\n' });
  await heraldOk(['users', 'remove', 'bob', '--data', dir]);
  assert.equal((await heraldOk(['users', 'list', '--data', dir])).stdout, 'alice\n');
  assert.equal((await herald(['users', 'remove', 'bob', '--data', dir])).code, 3, 'not found');
  assert.equal((await herald(['users', 'add', 'carol', '--data', dir])).code, 2, 'no password on stdin');

  const open = await herald(['serve', '--data', dir, '--host', '0.0.0.0', '--port', '0']);
  assert.equal(open.code, 2);
  assert.match(open.stderr, /refusing to listen on 0\.0\.0\.0 without TLS .* and SASL/);

  const serve = await startServe({
    dir,
    env: { HERALD_BROKER: '', HERALD_DATA_DIR: '' },
    args: ['--tls-cert', certificates.certFile, '--tls-key', certificates.keyFile, '--sasl'],
  });
  try {
    assert.match(serve.output(), /TLS \+ SASL/);
    const env = {
      HERALD_KAFKA_TLS_CA: certificates.caFile,
      HERALD_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      HERALD_KAFKA_SASL_USERNAME: 'alice',
      HERALD_KAFKA_SASL_PASSWORD: 'alice-secret',
    };
    await heraldOk(['produce', '-t', 'secured', '--broker', serve.bootstrap], { input: 'a\nb\n', env });
    const consumed = await heraldOk(
      ['consume', '-t', 'secured', '-e', '-f', '%s\n', '--broker', serve.bootstrap],
      {
        env,
      },
    );
    assert.deepEqual(consumed.stdout.split('\n').filter(Boolean).sort(), ['a', 'b']);
    const wrong = await herald(['consume', '-t', 'secured', '-e', '--broker', serve.bootstrap], {
      env: { ...env, HERALD_KAFKA_SASL_PASSWORD: 'wrong' },
    });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /SASL|[Aa]uthentication/, wrong.stderr);
  } finally {
    assert.equal(await serve.stop(), 0, serve.output());
  }
});
