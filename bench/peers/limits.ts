/**
 * The limits of this machine, measured before any row: fdatasync rate of small appends; sequential
 * write bandwidth with fdatasync per 1 MiB; 1 MiB batches of 100-byte records with fdatasync per
 * batch (the durable-publish ceiling); loopback TCP throughput and 100-byte round trips.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { type LatencySummary, type ProgressBar, summarize } from '../_common.ts';

const MEBIBYTE = 1024 * 1024;

/** What this machine allows, measured before any row. */
export interface Limits {
  /** fdatasync per 100-byte append. */
  readonly smallSyncsPerSecond: number;
  readonly smallSyncMs: LatencySummary;
  /** Sequential writes of 1 MiB with fdatasync after each. */
  readonly sequentialBytesPerSecond: number;
  /** 1 MiB batches of 100-byte records built in memory, fdatasync per batch. */
  readonly batchedRecordsPerSecond: number;
  readonly loopbackBytesPerSecond: number;
  readonly loopbackRoundTripMs: LatencySummary;
}

function syncLoop(directory: string, bytes: number, durationMs: number, build?: (buffer: Buffer) => void) {
  const file = path.join(directory, `limit-${bytes}.bin`);
  const fd = fs.openSync(file, 'w');
  const buffer = Buffer.alloc(bytes, 7);
  const latencies: number[] = [];
  let position = 0;
  let syncs = 0;
  const started = performance.now();
  // Bounded by time and by a 2 GiB file.
  while (performance.now() - started < durationMs && position < 2 * 1024 * MEBIBYTE) {
    const before = performance.now();
    build?.(buffer);
    fs.writeSync(fd, buffer, 0, buffer.length, position);
    fs.fdatasyncSync(fd);
    latencies.push(performance.now() - before);
    position += buffer.length;
    syncs++;
  }
  const seconds = (performance.now() - started) / 1000;
  fs.closeSync(fd);
  fs.unlinkSync(file);
  return { perSecond: syncs / seconds, latencies };
}

async function loopback(durationMs: number, roundTrips: number) {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    // Throughput: 64 KiB writes echoed back; counts bytes received back in the time.
    const bulk = await new Promise<number>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const chunk = Buffer.alloc(64 * 1024, 1);
      let received = 0;
      let started = 0;
      let stopped = false;
      socket.on('error', reject);
      socket.on('data', (data: Buffer) => {
        received += data.length;
      });
      socket.once('connect', () => {
        started = performance.now();
        const pump = () => {
          // Bounded by time.
          while (!stopped && performance.now() - started < durationMs) {
            if (!socket.write(chunk)) return;
          }
          if (!stopped) {
            stopped = true;
            const seconds = (performance.now() - started) / 1000;
            socket.destroy();
            resolve(received / seconds);
          }
        };
        socket.on('drain', pump);
        pump();
      });
    });
    // Round trips: 100 bytes out, wait for 100 bytes back.
    const latencies = await new Promise<number[]>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      const message = Buffer.alloc(100, 2);
      const times: number[] = [];
      let pending = 0;
      let sentAt = 0;
      socket.on('error', reject);
      const send = () => {
        sentAt = performance.now();
        pending = message.length;
        socket.write(message);
      };
      socket.on('data', (data: Buffer) => {
        pending -= data.length;
        if (pending > 0) return;
        times.push(performance.now() - sentAt);
        if (times.length >= roundTrips) {
          socket.destroy();
          resolve(times);
        } else send();
      });
      socket.once('connect', send);
    });
    return { bytesPerSecond: bulk, roundTrip: summarize(latencies) };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Measures every limit, `durationMs` each (4 progress steps). */
export async function measureLimits(
  directory: string,
  durationMs: number,
  progress: ProgressBar,
): Promise<Limits> {
  progress.note('limits: fdatasync of 100-byte appends');
  const small = syncLoop(directory, 100, durationMs);
  progress.tick('limits: sequential 1 MiB writes + fdatasync');
  const sequential = syncLoop(directory, MEBIBYTE, durationMs);
  progress.tick('limits: 1 MiB batches of 100-byte records + fdatasync');
  const recordsPerBatch = Math.floor(MEBIBYTE / 100);
  const record = Buffer.alloc(100, 3);
  const batched = syncLoop(directory, recordsPerBatch * 100, durationMs, (buffer) => {
    for (let index = 0; index < recordsPerBatch; index++) record.copy(buffer, index * 100);
  });
  progress.tick('limits: loopback TCP');
  const net = await loopback(durationMs, 2000);
  progress.tick('limits measured');
  return {
    smallSyncsPerSecond: small.perSecond,
    smallSyncMs: summarize(small.latencies),
    sequentialBytesPerSecond: sequential.perSecond * MEBIBYTE,
    batchedRecordsPerSecond: batched.perSecond * recordsPerBatch,
    loopbackBytesPerSecond: net.bytesPerSecond,
    loopbackRoundTripMs: net.roundTrip,
  };
}

/** The durable-publish ceiling for `payloadBytes` records, records/s. */
export function ceilingFor(limits: Limits, payloadBytes: number): number {
  return payloadBytes === 100
    ? limits.batchedRecordsPerSecond
    : limits.sequentialBytesPerSecond / payloadBytes;
}
