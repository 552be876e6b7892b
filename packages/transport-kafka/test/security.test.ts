/**
 * The Kafka transport over SASL_SSL, configured only from the environment
 * (`kafkaOptionsFromEnv`: HERALD_KAFKA_TLS_CA, HERALD_KAFKA_SASL_*), against an in-process
 * `@herald/kafka-server` with TLS and SCRAM: publish and subscribe work; a wrong password does not
 * publish; an unreadable CA file is a ConfigurationError naming the variable.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '@herald/bus';
import { Collector, idOf, makeMessages } from '@herald/conformance';
import { addUser, type KafkaServer, startKafkaServer } from '@herald/kafka-server';
import { makeCertificates, temporaryDirectory } from '@herald/test-support';
import { type KafkaTransport, kafkaOptionsFromEnv, kafkaTransport } from '@herald/transport-kafka';

describe('kafka transport security', { timeout: 180_000 }, () => {
  let server: KafkaServer | undefined;
  const transports: KafkaTransport[] = [];
  after(async () => {
    for (const transport of transports) await transport.close().catch(() => {});
    await server?.close();
  });

  it('security - SASL_SSL with SCRAM-SHA-512 from HERALD_KAFKA_* variables; a wrong password fails', async () => {
    const work = temporaryDirectory('herald-transport-kafka-security-');
    const certificates = await makeCertificates(work);
    const dir = path.join(work, 'data');
    await addUser(dir, 'app', 'app-secret');
    server = await startKafkaServer({
      dir,
      port: 0,
      partitions: 1,
      tls: { certFile: certificates.certFile, keyFile: certificates.keyFile },
      sasl: {},
    });
    const env = {
      HERALD_KAFKA_BROKERS: `127.0.0.1:${server.port}`,
      HERALD_KAFKA_TLS_CA: certificates.caFile,
      HERALD_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      HERALD_KAFKA_SASL_USERNAME: 'app',
      HERALD_KAFKA_SASL_PASSWORD: 'app-secret',
    };
    const kafka = await kafkaTransport({
      ...kafkaOptionsFromEnv(env),
      logger: silentLogger,
      closeTimeoutMs: 2_000,
    });
    transports.push(kafka);
    const messages = makeMessages(3, 's');
    await kafka.publish('secured', messages);
    const collector = new Collector(() => 'ack');
    await kafka.subscribe({ topic: 'secured', group: 'g', inFlightMax: 16 }, collector.handler);
    await collector.waitAcked(messages.map(idOf));

    const wrong = await kafkaTransport({
      ...kafkaOptionsFromEnv({ ...env, HERALD_KAFKA_SASL_PASSWORD: 'wrong' }),
      logger: silentLogger,
      closeTimeoutMs: 2_000,
      connectTimeoutMs: 2_000,
      retryDelayMsMax: 1_000,
    }).catch((error: unknown) => error as Error);
    if (wrong instanceof Error) return;
    transports.push(wrong);
    await assert.rejects(wrong.publish('secured', makeMessages(1, 'w')));
  });

  it('security - an unreadable HERALD_KAFKA_TLS_CA is a ConfigurationError naming it', () => {
    assert.throws(
      () =>
        kafkaOptionsFromEnv({
          HERALD_KAFKA_BROKERS: '127.0.0.1:9092',
          HERALD_KAFKA_TLS_CA: '/nonexistent/ca.pem',
        }),
      (error: Error & { code?: string }) =>
        error.code === 'HERALD_CONFIGURATION' &&
        /HERALD_KAFKA_TLS_CA=\/nonexistent\/ca\.pem/.test(error.message),
    );
  });
});
