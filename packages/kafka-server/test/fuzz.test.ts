/**
 * Fuzzing: at least 100,000 random and mutated request frames through the server's connection
 * pipeline (framing, decoding, every handler, encoding), seeded and replayable
 * (HERALD_FUZZ_SEED=<seed>), then random bytes over real TCP at a `herald serve` process. Passes
 * with zero uncaught exceptions, zero programming errors reported by handlers, a bounded heap,
 * and a server that still answers afterwards.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { openBroker } from '@herald/broker';
import { createRandom, seedFromEnv, temporaryDirectory, withDeadline } from '@herald/test-support';
import { startKafkaServer } from '../src/index.ts';
import { corpus, FakeSocket, mutate } from './fuzz-frames.ts';
import { kcat, startServe } from './support.ts';

const FRAMES = Number(process.env.HERALD_FUZZ_FRAMES ?? 100_000);
const SEED = seedFromEnv('HERALD_FUZZ_SEED');

test('fuzz - 100,000 random and mutated frames: no crash, bounded memory', { timeout: 240_000 }, async () => {
  console.log(`fuzz seed ${SEED} (replay with HERALD_FUZZ_SEED=${SEED}), ${FRAMES} frames`);
  const random = createRandom(SEED);
  const programmingErrors: unknown[] = [];
  let uncaught = 0;
  const onUncaught = () => {
    uncaught++;
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const broker = await openBroker({
    dir: temporaryDirectory(),
    partitions: 2,
    fsync: 'never',
    leaderEpoch: -1,
  });
  await broker.createTopic('fuzz');
  const server = await startKafkaServer({
    broker,
    port: 0,
    onError: (error) => {
      if (error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError) {
        programmingErrors.push(error);
      }
    },
  });
  const frames = corpus();
  let heapBytesMax = 0;
  let written = 0;
  try {
    let sent = 0;
    let connections = 0;
    while (sent < FRAMES) {
      const socket = new FakeSocket();
      server.handle(socket as unknown as net.Socket);
      connections++;
      const count = 1 + Math.floor(random() * 20);
      // Feed frames until the server closes this connection (as it must on a malformed frame).
      for (let index = 0; index < count && sent < FRAMES && !socket.destroyed; index++, sent++) {
        const frame = mutate(random, frames);
        // Split frames at random points, as TCP may.
        const cut = Math.floor(random() * frame.length);
        socket.emit('data', frame.subarray(0, cut));
        socket.emit('data', frame.subarray(cut));
        if (index % 4 === 3) await new Promise((resolve) => setImmediate(resolve));
      }
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      written += socket.written;
      socket.destroy();
      if (connections % 500 === 0) heapBytesMax = Math.max(heapBytesMax, process.memoryUsage().heapUsed);
    }
    console.log(
      `fuzz: ${sent} frames over ${connections} connections, ${written} response bytes, heap max ${(heapBytesMax / 2 ** 20).toFixed(0)} MiB, ` +
        `${uncaught} uncaught, ${programmingErrors.length} programming errors`,
    );
  } finally {
    await withDeadline(server.close(), 30_000, 'server close');
    await broker.close();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
  assert.equal(uncaught, 0, 'uncaught exceptions');
  assert.deepEqual(programmingErrors, [], 'programming errors reported by handlers');
  assert.ok(heapBytesMax < 512 * 2 ** 20, `heap stayed below 512 MiB (max ${heapBytesMax})`);
  assert.ok(written > 0, 'some frames were answered');
});

test('fuzz - random bytes over TCP leave herald serve running', { timeout: 120_000 }, async () => {
  const random = createRandom(SEED + 1);
  const serve = await startServe({ partitions: 1 });
  try {
    for (let connection = 0; connection < 200; connection++) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(serve.port, '127.0.0.1', () => {
          for (let frame = 0; frame < 10; frame++) {
            const bytes = Buffer.alloc(1 + Math.floor(random() * 200));
            for (let index = 0; index < bytes.length; index++) bytes[index] = Math.floor(random() * 256);
            if (bytes.length >= 4 && random() < 0.7) bytes.writeInt32BE(bytes.length - 4, 0);
            socket.write(bytes);
          }
          socket.end();
        });
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.resume();
      });
    }
    // A 2 GiB size prefix is refused without allocating: the server closes the connection (ends
    // it from its side) within the deadline; a connection still open at the deadline fails.
    const socket = net.connect(serve.port, '127.0.0.1', () =>
      socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 18])),
    );
    try {
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('still open after 5 s'), 5_000);
        const settle = (what: string) => {
          clearTimeout(timer);
          resolve(what);
        };
        socket.on('end', () => settle('closed by the server'));
        socket.on('close', () => settle('closed by the server'));
        socket.on('error', (error) => settle(`error ${(error as NodeJS.ErrnoException).code}`));
        socket.resume();
      });
      assert.match(
        outcome,
        /closed by the server|error ECONNRESET/,
        'the oversized frame closes the connection',
      );
    } finally {
      socket.destroy();
    }
    const { stdout } = await kcat(serve.bootstrap, ['-L']);
    assert.match(stdout, /1 brokers/);
  } finally {
    await serve.stop();
  }
});
