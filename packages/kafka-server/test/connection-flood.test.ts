/**
 * A connection flood against an authenticating listener: 10,000 connections from 127.0.0.2 hit
 * the per-address bound, are refused cleanly (accepted and closed at once, counted), and a
 * SCRAM-authenticated @platformatic/kafka producer on 127.0.0.1 keeps producing during and after.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { eventually, temporaryDirectory } from '@herald/test-support';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { addUser, startKafkaServer } from '../src/index.ts';

const FLOOD_CONNECTIONS = 10_000;
const PER_IP_MAX = 300;
/** Connections opened at once: below the listen backlog (511), so the kernel never drops one. */
const FLOOD_BATCH = 200;

function connectFrom(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    socket.on('error', () => {});
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });
}

test('connection flood - 10,000 connections hit the limit, are refused cleanly, authenticated clients keep working', {
  timeout: 300_000,
}, async () => {
  const dir = temporaryDirectory('herald-flood-');
  await addUser(dir, 'alice', 'alice-secret');
  const server = await startKafkaServer({
    dir,
    port: 0,
    sasl: {},
    connectionsPerIpMax: PER_IP_MAX,
    connectionsMax: 2_000,
    authTimeoutMs: 120_000,
  });
  const producer = new Producer({
    clientId: 'flood-survivor',
    bootstrapBrokers: [`127.0.0.1:${server.port}`],
    sasl: { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'alice-secret' },
    serializers: stringSerializers,
    autocreateTopics: true,
  });
  const flood: net.Socket[] = [];
  try {
    await producer.send({ messages: [{ topic: 'flood', value: 'before' }] });
    let during = 0;
    for (let opened = 0; opened < FLOOD_CONNECTIONS; opened += FLOOD_BATCH) {
      const batch = Array.from({ length: Math.min(FLOOD_BATCH, FLOOD_CONNECTIONS - opened) }, () =>
        connectFrom(server.port),
      );
      flood.push(...(await Promise.all(batch)));
      if (opened % 2_000 === 0) {
        await producer.send({ messages: [{ topic: 'flood', value: `during-${opened}` }] });
        during++;
      }
    }
    // Every flood connection is either refused (counted) or held open unauthenticated, within the bound.
    await eventually(
      () => server.connectionsRefused >= FLOOD_CONNECTIONS - PER_IP_MAX,
      'the server refused all flood connections beyond the per-address bound',
      60_000,
    );
    const held = flood.filter((socket) => !socket.destroyed && socket.readyState === 'open').length;
    assert.ok(held <= PER_IP_MAX, `${held} flood connections held open (bound ${PER_IP_MAX})`);
    console.log(
      `flood: ${FLOOD_CONNECTIONS} connections, ${server.connectionsRefused} refused, ${held} held; ` +
        `${during} sends during the flood`,
    );
    await producer.send({ messages: [{ topic: 'flood', value: 'after' }] });
  } finally {
    for (const socket of flood) socket.destroy();
    await producer.close();
    await server.close();
  }
});
