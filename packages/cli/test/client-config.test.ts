/** `-X name=value` in-process: supported properties, validation, and the typed refusal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CLIENT_PROPERTIES,
  DEFAULT_CLIENT_CONFIG,
  parseClientConfig,
  UnsupportedConfigError,
} from '../src/client-config.ts';
import { UsageError } from '../src/errors.ts';

test('client config - supported properties change the settings, the rest keep their defaults', () => {
  assert.deepEqual(parseClientConfig([]), DEFAULT_CLIENT_CONFIG);
  assert.deepEqual(
    parseClientConfig([
      'fetch.wait.max.ms=100',
      'client.id=audit',
      'socket.timeout.ms=2500',
      'max.partition.fetch.bytes=65536',
      'security.protocol=plaintext',
    ]),
    {
      fetchWaitMs: 100,
      clientId: 'audit',
      requestTimeoutMs: 2500,
      partitionFetchBytesMax: 65536,
      securityProtocol: 'plaintext',
    },
  );
});

test('client config - an unknown property is an UnsupportedConfigError naming the supported ones', () => {
  for (const entry of ['enable.auto.commit=false', 'topic.acks=all', 'constructor=1', 'bogus']) {
    assert.throws(
      () => parseClientConfig([entry]),
      (error: unknown) => {
        assert.ok(error instanceof UnsupportedConfigError, entry);
        assert.ok(error instanceof UsageError, 'exit code 2');
        assert.equal(error.exitCode, 2);
        assert.deepEqual(error.supported, Object.keys(CLIENT_PROPERTIES));
        assert.match(error.message, /use one of fetch\.wait\.max\.ms, client\.id, socket\.timeout\.ms/);
        return true;
      },
    );
  }
});

test('client config - bad values are usage errors that say what is allowed', () => {
  assert.throws(() => parseClientConfig(['fetch.wait.max.ms=-1']), /from 0 to 300000/);
  assert.throws(() => parseClientConfig(['socket.timeout.ms=1']), /from 10 to 300000/);
  assert.throws(() => parseClientConfig(['client.id=a b']), /A-Z a-z 0-9/);
  assert.throws(
    () => parseClientConfig(['security.protocol=carrier_pigeon']),
    /use plaintext, ssl, sasl_plaintext or sasl_ssl/,
  );
  assert.throws(
    () => parseClientConfig(['sasl.mechanisms=GSSAPI']),
    /use SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN/,
  );
  assert.deepEqual(
    parseClientConfig(['security.protocol=SASL_SSL', 'sasl.mechanisms=scram-sha-512', 'sasl.username=alice']),
    {
      ...DEFAULT_CLIENT_CONFIG,
      securityProtocol: 'sasl_ssl',
      saslMechanism: 'SCRAM-SHA-512',
      saslUsername: 'alice',
    },
  );
  assert.throws(() => parseClientConfig(['fetch.wait.max.ms']), /give fetch\.wait\.max\.ms=VALUE/);
});
