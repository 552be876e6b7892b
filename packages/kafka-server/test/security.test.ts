/**
 * `herald serve` on a real network: TLS (with reload), SASL SCRAM-SHA-256/512 and PLAIN over TLS,
 * the safe default for non-loopback binds, and connection admission. Real clients connect with
 * SASL_SSL: kcat (librdkafka 2.0.2, SaslHandshake v1 + SaslAuthenticate), kafka-python 2.0.2
 * (SaslHandshake v0 + bare tokens) and @platformatic/kafka. Wrong passwords, unknown users and an
 * expired certificate fail with each client's own error while the server keeps serving others.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import {
  eventually,
  makeCertificates,
  requireTool,
  runTool,
  type TestCertificates,
  type ToolResult,
  temporaryDirectory,
} from '@herald/test-support';
import {
  Consumer,
  MessagesStreamModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { addUser, type KafkaServer, listUsers, removeUser, startKafkaServer } from '../src/index.ts';
import { buildFranzGo, compileJavaCheck, jsonLines, runJava } from './client-tools.ts';
import { lines } from './support.ts';

const PYTHON = '/usr/bin/python3';
const PYTHON_CLIENT = fileURLToPath(new URL('./fixtures/kafka_python_sasl.py', import.meta.url));

function saslArgs(
  certificates: TestCertificates,
  mechanism: string,
  user: string,
  password: string,
): string[] {
  return [
    '-X',
    'security.protocol=SASL_SSL',
    '-X',
    `sasl.mechanisms=${mechanism}`,
    '-X',
    `sasl.username=${user}`,
    '-X',
    `sasl.password=${password}`,
    '-X',
    `ssl.ca.location=${certificates.caFile}`,
  ];
}

async function kcat(bootstrap: string, args: readonly string[], input?: string): Promise<ToolResult> {
  return runTool('kcat', ['-b', bootstrap, ...args], {
    ...(input === undefined ? {} : { input }),
    timeoutMs: 60_000,
  });
}

describe('security', { timeout: 600_000 }, () => {
  let certificates: TestCertificates;
  let dir: string;
  let server: KafkaServer;
  let bootstrap: string;
  const errors: unknown[] = [];

  before(async () => {
    requireTool('kcat', ['-V'], "kcat (Debian's kcat)");
    const work = temporaryDirectory('herald-security-');
    certificates = await makeCertificates(work);
    dir = path.join(work, 'data');
    mkdirSync(dir);
    // Served files are copies, so the reload test can replace them.
    mkdirSync(path.join(work, 'served'));
    copyFileSync(certificates.certFile, path.join(work, 'served', 'cert.pem'));
    copyFileSync(certificates.keyFile, path.join(work, 'served', 'key.pem'));
    assert.equal(await addUser(dir, 'alice', 'alice-secret'), true);
    assert.equal(await addUser(dir, 'bob', 'bob-secret'), true);
    server = await startKafkaServer({
      dir,
      port: 0,
      partitions: 2,
      tls: { certFile: path.join(work, 'served', 'cert.pem'), keyFile: path.join(work, 'served', 'key.pem') },
      tlsReloadIntervalMs: 100,
      sasl: {},
      authTimeoutMs: 3_000,
      onError: (error) => errors.push(error),
    });
    bootstrap = `127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server?.close();
  });

  test('security - users are stored salted, never in plain text, and can be removed', async () => {
    assert.deepEqual(await listUsers(dir), ['alice', 'bob']);
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(path.join(dir, 'security', 'users.json'), 'utf8');
    assert.doesNotMatch(text, /alice-secret|bob-secret/);
    assert.match(text, /SCRAM-SHA-512/);
    assert.equal(await addUser(dir, 'carol', 'carol-secret'), true);
    assert.equal(await removeUser(dir, 'carol'), true);
    assert.equal(await removeUser(dir, 'carol'), false);
  });

  for (const mechanism of ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN']) {
    test(`security - kcat produces and consumes over SASL_SSL with ${mechanism}`, async () => {
      const topic = `kcat-${mechanism.toLowerCase()}`;
      const auth = saslArgs(certificates, mechanism, 'alice', 'alice-secret');
      const produced = await kcat(bootstrap, [...auth, '-P', '-t', topic], 'one\ntwo\nthree\n');
      assert.equal(produced.code, 0, produced.stderr);
      const consumed = await kcat(bootstrap, [...auth, '-C', '-t', topic, '-e', '-q']);
      assert.equal(consumed.code, 0, consumed.stderr);
      assert.deepEqual(lines(consumed.stdout).sort(), ['one', 'three', 'two']);
    });
  }

  test('security - kcat: a wrong password and an unknown user fail with "Authentication failed"', async () => {
    for (const [user, password] of [
      ['alice', 'wrong'],
      ['mallory', 'alice-secret'],
    ] as const) {
      const result = await kcat(bootstrap, [
        ...saslArgs(certificates, 'SCRAM-SHA-512', user, password),
        '-L',
        '-m',
        '5',
      ]);
      assert.notEqual(result.code, 0, `${user} must not get in`);
      assert.match(result.stderr, /Authentication failed/, result.stderr);
    }
    // The server keeps serving the others.
    const ok = await kcat(bootstrap, [...saslArgs(certificates, 'SCRAM-SHA-512', 'bob', 'bob-secret'), '-L']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('security - a user added while the server runs can authenticate at once', async () => {
    await addUser(dir, 'dave', 'dave-secret');
    const result = await kcat(bootstrap, [
      ...saslArgs(certificates, 'SCRAM-SHA-512', 'dave', 'dave-secret'),
      '-L',
    ]);
    assert.equal(result.code, 0, result.stderr);
    await removeUser(dir, 'dave');
    const refused = await kcat(bootstrap, [
      ...saslArgs(certificates, 'SCRAM-SHA-512', 'dave', 'dave-secret'),
      '-L',
      '-m',
      '5',
    ]);
    assert.notEqual(refused.code, 0);
  });

  test('security - kafka-python (SaslHandshake v0, bare tokens) over SASL_SSL with SCRAM-SHA-512', async () => {
    requireTool(PYTHON, ['-c', 'import kafka'], "kafka-python (Debian's python3-kafka)");
    const run = (user: string, password: string) =>
      runTool(
        PYTHON,
        [PYTHON_CLIENT, bootstrap, certificates.caFile, 'SCRAM-SHA-512', user, password, 'python-sasl', '10'],
        { timeoutMs: 120_000 },
      );
    const good = await run('alice', 'alice-secret');
    assert.equal(good.code, 0, `${good.stdout}\n${good.stderr}`);
    const values = (JSON.parse(lines(good.stdout).at(-1)!) as { values: string[] }).values;
    assert.equal(values.length, 10);
    const bad = await run('alice', 'wrong');
    assert.equal(bad.code, 2, `${bad.stdout}\n${bad.stderr}`);
    assert.match(`${bad.stdout}\n${bad.stderr}`, /NoBrokersAvailable|Authentication|SASL/i);
  });

  test('security - @platformatic/kafka over SASL_SSL with SCRAM-SHA-512', async () => {
    const options = {
      bootstrapBrokers: [bootstrap],
      tls: { ca: (await import('node:fs')).readFileSync(certificates.caFile) },
      sasl: { mechanism: 'SCRAM-SHA-512' as const, username: 'alice', password: 'alice-secret' },
    };
    const producer = new Producer({
      ...options,
      clientId: 'plt-sasl',
      serializers: stringSerializers,
      autocreateTopics: true,
    });
    const consumer = new Consumer({
      ...options,
      clientId: 'plt-sasl-consumer',
      groupId: 'plt-sasl-group',
      deserializers: stringDeserializers,
    });
    try {
      await producer.send({ messages: [{ topic: 'plt-sasl', key: 'k', value: 'hello over tls' }] });
      const stream = await consumer.consume({ topics: ['plt-sasl'], mode: MessagesStreamModes.EARLIEST });
      let value: string | undefined;
      for await (const message of stream) {
        value = message.value as string;
        break;
      }
      await stream.close();
      assert.equal(value, 'hello over tls');
    } finally {
      await producer.close();
      await consumer.close(true);
    }
    const wrong = new Producer({
      ...options,
      sasl: { ...options.sasl, password: 'wrong' },
      clientId: 'plt-wrong',
      serializers: stringSerializers,
      retries: 0,
    });
    try {
      await assert.rejects(wrong.send({ messages: [{ topic: 'plt-sasl', value: 'x' }] }), (error: Error) => {
        const text = `${error.message} ${JSON.stringify((error as { errors?: unknown }).errors ?? '')} ${String(error.cause)}`;
        return /SASL|Authentication|authenticat/i.test(text) || assert.fail(text);
      });
    } finally {
      await wrong.close();
    }
  });

  const clientEnv = (user: string, password: string) => ({
    HERALD_TEST_SASL_USER: user,
    HERALD_TEST_SASL_PASSWORD: password,
    HERALD_TEST_TLS_CA: certificates.caFile,
  });

  test('security - franz-go over SASL_SSL with SCRAM-SHA-512; a wrong password is SASL_AUTHENTICATION_FAILED', async () => {
    const binary = await buildFranzGo();
    const run = (args: readonly string[], user: string, password: string) =>
      runTool(binary, args, { timeoutMs: 90_000, env: { ...process.env, ...clientEnv(user, password) } });
    const produced = await run(['produce', bootstrap, 'franz-sasl', '50', 'none'], 'alice', 'alice-secret');
    assert.equal(produced.code, 0, `${produced.stdout}\n${produced.stderr}`);
    assert.deepEqual(jsonLines(produced.stdout)[0], {
      event: 'produced',
      acked: 50,
      distinctOffsets: 50,
      errors: null,
    });
    const consumed = await run(
      ['consume', bootstrap, 'franz-sasl', 'franz-sasl-g', '50'],
      'bob',
      'bob-secret',
    );
    assert.equal(consumed.code, 0, `${consumed.stdout}\n${consumed.stderr}`);
    assert.equal(jsonLines(consumed.stdout)[0]?.count, 50);
    const wrong = await run(['ping', bootstrap], 'alice', 'wrong');
    assert.equal(wrong.code, 0, wrong.stderr);
    assert.match(String(jsonLines(wrong.stdout)[0]?.error), /SASL_AUTHENTICATION_FAILED/);
  });

  test('security - the Java client and Kafka tools over SASL_SSL with SCRAM-SHA-512', async () => {
    const classes = await compileJavaCheck();
    const java = (args: readonly string[], user: string, password: string) =>
      runJava('HeraldClientCheck', args, { extraClassPath: classes, env: clientEnv(user, password) });
    const produced = await java(['produce', bootstrap, 'java-sasl', '40', 'none'], 'alice', 'alice-secret');
    assert.equal(produced.code, 0, `${produced.stdout}\n${produced.stderr}`);
    assert.deepEqual(jsonLines(produced.stdout)[0], { event: 'produced', acked: 40, distinctOffsets: 40 });
    const consumed = await java(
      ['consume', bootstrap, 'java-sasl', 'java-sasl-g', '40'],
      'alice',
      'alice-secret',
    );
    assert.equal(consumed.code, 0, `${consumed.stdout}\n${consumed.stderr}`);
    assert.equal(jsonLines(consumed.stdout)[0]?.count, 40);
    const wrong = await java(['produce', bootstrap, 'java-sasl', '1', 'none'], 'alice', 'wrong');
    assert.notEqual(wrong.code, 0);
    assert.match(`${wrong.stdout}\n${wrong.stderr}`, /SaslAuthenticationException/);
    // Kafka's own kafka-topics with a client properties file.
    const properties = path.join(certificates.dir, 'client.properties');
    writeFileSync(
      properties,
      [
        'security.protocol=SASL_SSL',
        'sasl.mechanism=SCRAM-SHA-512',
        'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";',
        'ssl.truststore.type=PEM',
        `ssl.truststore.location=${certificates.caFile}`,
        '',
      ].join('\n'),
    );
    const listed = await runJava('org.apache.kafka.tools.TopicCommand', [
      '--bootstrap-server',
      bootstrap,
      '--command-config',
      properties,
      '--list',
    ]);
    assert.equal(listed.code, 0, `${listed.stdout}\n${listed.stderr}`);
    assert.ok(lines(listed.stdout).includes('java-sasl'), listed.stdout);
  });

  test('security - before authenticating, only ApiVersions and SASL requests are served', async () => {
    // A Metadata v0 request in plain Kafka framing over TLS: the server closes the connection.
    const socket = tls.connect({
      host: '127.0.0.1',
      port: server.port,
      ca: (await import('node:fs')).readFileSync(certificates.caFile),
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      const body = Buffer.from([0, 3, 0, 0, 0, 0, 0, 7, 0xff, 0xff, 0, 0, 0, 0]);
      const frame = Buffer.alloc(4 + body.length);
      frame.writeInt32BE(body.length);
      body.copy(frame, 4);
      const closed = new Promise<Buffer>((resolve) => {
        const received: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => received.push(chunk));
        socket.once('close', () => resolve(Buffer.concat(received)));
      });
      socket.write(frame);
      assert.equal((await closed).length, 0, 'no answer before authentication');
    } finally {
      socket.destroy();
    }
  });

  test('security - a connection that does not authenticate in time is closed', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    const started = performance.now();
    try {
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const elapsedMs = performance.now() - started;
      assert.ok(elapsedMs >= 2_000 && elapsedMs < 30_000, `closed after ${elapsedMs} ms`);
    } finally {
      socket.destroy();
    }
  });

  test('security - the certificate is reloaded without a restart', async () => {
    const served = path.join(certificates.dir, 'served');
    const serial = async () => {
      const socket = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('secureConnect', resolve);
          socket.once('error', reject);
        });
        return socket.getPeerCertificate().subject.CN;
      } finally {
        socket.destroy();
      }
    };
    assert.equal(await serial(), 'server');
    copyFileSync(certificates.otherKeyFile, path.join(served, 'key.pem'));
    copyFileSync(certificates.otherCertFile, path.join(served, 'cert.pem'));
    await eventually(async () => (await serial()) === 'other', 'the new certificate is served', 20_000);
    // Still serving SASL clients with the new certificate (same CA).
    const result = await kcat(bootstrap, [
      ...saslArgs(certificates, 'SCRAM-SHA-512', 'alice', 'alice-secret'),
      '-L',
    ]);
    assert.equal(result.code, 0, result.stderr);
  });

  test('security - an expired server certificate fails the client with a certificate error', async () => {
    const expired = await startKafkaServer({
      dir: temporaryDirectory('herald-security-expired-'),
      port: 0,
      tls: { certFile: certificates.expiredCertFile, keyFile: certificates.expiredKeyFile },
      sasl: {},
    });
    try {
      const result = await kcat(`127.0.0.1:${expired.port}`, [
        ...saslArgs(certificates, 'SCRAM-SHA-512', 'alice', 'alice-secret'),
        '-L',
        '-m',
        '5',
      ]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /certificate has expired|certificate verify failed/i, result.stderr);
    } finally {
      await expired.close();
    }
    const ok = await kcat(bootstrap, [
      ...saslArgs(certificates, 'SCRAM-SHA-512', 'alice', 'alice-secret'),
      '-L',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('security - a non-loopback bind without TLS and SASL is refused with what to configure', async () => {
    await assert.rejects(
      startKafkaServer({ dir: temporaryDirectory('herald-security-bind-'), host: '0.0.0.0', port: 0 }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'HERALD_CONFIGURATION');
        assert.match(error.message, /--tls-cert FILE --tls-key FILE/);
        assert.match(error.message, /--sasl/);
        return true;
      },
    );
    await assert.rejects(
      startKafkaServer({
        dir: temporaryDirectory('herald-security-plain-'),
        port: 0,
        sasl: { mechanisms: ['PLAIN'] },
      }),
      /PLAIN sends passwords in the clear/,
    );
    const open = await startKafkaServer({
      dir: temporaryDirectory('herald-security-open-'),
      host: '0.0.0.0',
      port: 0,
      tls: { certFile: certificates.certFile, keyFile: certificates.keyFile },
      sasl: {},
    });
    await open.close();
  });

  test('security - no unexpected server errors', () => {
    assert.deepEqual(errors, []);
  });
});
