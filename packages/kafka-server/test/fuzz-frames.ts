/**
 * The fuzzers' shared parts: a socket stand-in that `KafkaServer.handle` accepts, the corpus of
 * valid request frames of every API and version, and the seeded mutator.
 */
import { EventEmitter } from 'node:events';
import { APIS, encodeRequest } from '@herald/kafka-protocol';
import { encodeRecordBatch } from '@herald/log';
import { sampleMessage } from '../../kafka-protocol/test/sample.ts';

/** A socket stand-in: records writes (and keeps them when `keep`), emits what a net.Socket would. */
export class FakeSocket extends EventEmitter {
  writableLength = 0;
  written = 0;
  destroyed = false;
  readonly kept: Buffer[] = [];
  readonly keep: boolean;
  constructor(keep = false) {
    super();
    this.keep = keep;
  }
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
    if (this.keep) this.kept.push(Buffer.from(chunk));
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

/** One or two valid frames of every API version, plus a Produce and a Fetch that reach deep paths. */
export function corpus(): Buffer[] {
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

/** A seeded mutation of a corpus frame (bit flips, interesting values, cuts, appends, a lying size). */
export function mutate(random: () => number, frames: readonly Buffer[]): Buffer {
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
