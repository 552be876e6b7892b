/**
 * Fuzzing: at least 100,000 random and mutated request frames through the server's connection
 * pipeline (framing, decoding, every handler, encoding), seeded and replayable
 * (HERALD_FUZZ_SEED=<seed>), then random bytes over real TCP at a `herald serve` process. Passes
 * with zero uncaught exceptions, zero programming errors reported by handlers, a bounded heap,
 * and a server that still answers afterwards.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { openBroker } from '@herald/broker';
import { APIS, encodeRequest } from '@herald/kafka-protocol';
import { encodeRecordBatch } from '@herald/log';
import { createRandom, seedFromEnv, temporaryDirectory, withDeadline } from '@herald/test-support';
import { sampleMessage } from '../../kafka-protocol/test/sample.ts';
import { startKafkaServer } from '../src/index.ts';
import { kcat, startServe } from './support.ts';

const FRAMES = Number(process.env.HERALD_FUZZ_FRAMES ?? 100_000);
const SEED = seedFromEnv('HERALD_FUZZ_SEED');

/** A socket stand-in: records writes, emits what a net.Socket would. */
class FakeSocket extends EventEmitter {
  writableLength = 0;
  written = 0;
  destroyed = false;
  setNoDelay(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  cork(): void {}
  uncork(): void {}
  write(chunk: Uint8Array): boolean {
    this.written += chunk.length;
    return true;
  }
  end(callback?: () => void): this {
    callback?.();
    return this;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      queueMicrotask(() => this.emit('close', false));
    }
    return this;
  }
}

function corpus(): Buffer[] {
  const frames: Buffer[] = [];
  for (const api of APIS) {
    for (let version = api.versionMin; version <= api.versionMax; version++) {
      for (const seed of [1, 2]) {
        const body = sampleMessage(api.request, version, seed);
        frames.push(
          Buffer.concat(
            encodeRequest(
              { apiKey: api.apiKey, apiVersion: version, correlationId: seed, clientId: 'fuzz' },
              body,
            ),
          ),
        );
      }
    }
  }
  // Well-formed requests that reach deep paths: a valid produce, fetches that do not wait.
  const batch = encodeRecordBatch([{ key: null, value: Buffer.from('fuzz'), headers: [], timestampMs: 1 }], {
    timestampMs: 1,
  });
  frames.push(
    Buffer.concat(
      encodeRequest(
        { apiKey: 0, apiVersion: 7, correlationId: 9, clientId: 'fuzz' },
        {
          transactionalId: null,
          acks: -1,
          timeoutMs: 1000,
          topicData: [{ name: 'fuzz', partitionData: [{ index: 0, records: batch }] }],
        },
      ),
    ),
    Buffer.concat(
      encodeRequest(
        { apiKey: 1, apiVersion: 11, correlationId: 10, clientId: 'fuzz' },
        {
          maxWaitMs: 0,
          minBytes: 1,
          maxBytes: 1 << 20,
          topics: [
            { topic: 'fuzz', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
          ],
        },
      ),
    ),
  );
  return frames;
}

const INTERESTING_INT32 = [0, -1, -2, 1, 0x7fffffff, -0x80000000, 0xffff, 0x100];

function mutate(random: () => number, frames: readonly Buffer[]): Buffer {
  const pick = () => Math.floor(random() * 2 ** 31);
  if (random() < 0.05) {
    const random_ = Buffer.alloc(4 + (pick() % 64));
    for (let index = 0; index < random_.length; index++) random_[index] = pick() & 0xff;
    random_.writeInt32BE(random_.length - 4, 0);
    return random_;
  }
  const frame = Buffer.from(frames[pick() % frames.length]!);
  // One frame in five goes through unmutated, so handlers (not only the decoder) see odd values.
  const operations = random() < 0.2 ? 0 : 1 + (pick() % 4);
  let result = frame;
  for (let step = 0; step < operations; step++) {
    const at = 4 + (pick() % Math.max(1, result.length - 4));
    switch (pick() % 6) {
      case 0:
        if (at < result.length) result[at]! ^= 1 << (pick() % 8);
        break;
      case 1:
        if (at < result.length) result[at] = [0, 0xff, 0x7f, 0x80][pick() % 4]!;
        break;
      case 2:
        if (at + 4 <= result.length)
          result.writeInt32BE(INTERESTING_INT32[pick() % INTERESTING_INT32.length]! | 0, at);
        break;
      case 3:
        result = result.subarray(0, Math.max(4, at));
        break;
      case 4:
        result = Buffer.concat([
          result,
          Buffer.from(Array.from({ length: pick() % 16 }, () => pick() & 0xff)),
        ]);
        break;
      default:
        if (at + 2 <= result.length) result.writeInt16BE([0, -1, 0x7fff, -0x8000][pick() % 4]!, at);
    }
  }
  // Usually a consistent size prefix; sometimes a lying one.
  if (random() < 0.9) result.writeInt32BE(result.length - 4, 0);
  return result;
}

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
