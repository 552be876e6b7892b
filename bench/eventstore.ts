/**
 * `npm run bench -- eventstore [--quick] [--json]`: appends per second with expected-version
 * checks and stream reads per second, on the embedded event store and on PostgreSQL, next to the
 * raw log they compare with (`@herald/log` appends of the same record, same fsync policy).
 *
 * - Appends: 16 writers, each appending one ~100-byte event at a time to a random one of 1,000
 *   streams with the expected version it last saw (conflicts are counted, then retried on the
 *   version the error reports). Durable on acknowledgement: fsync `'always'` / PostgreSQL commit.
 * - Raw log: 16 writers appending one record of the same size to one partition (fsync `'always'`).
 * - Stream reads: 16 readers each reading a whole random stream (of the ones written) forward.
 *
 * PostgreSQL: `HERALD_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in a
 * scratch schema dropped at the end. Markdown on stdout (or JSON with `--json`), progress on stderr.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineEvent } from '@herald/bus';
import {
  type EventStore,
  event,
  openEmbeddedEventStore,
  openPostgresEventStore,
  WrongExpectedVersionError,
} from '@herald/eventstore';
import { openPartition, utf8 } from '@herald/log';
import pg from 'pg';
import { z } from 'zod';
import { format, loadIsHigh, machineFacts, markdownTable, parseBenchArgs, progressLine } from './_common.ts';

const POSTGRES_URL =
  process.env.HERALD_POSTGRES_URL ??
  `postgres://postgres@127.0.0.1:${process.env.HERALD_POSTGRES_PORT ?? 5432}/test`;
const WRITERS = 16;
const STREAMS = 1000;
const PAYLOAD = 'x'.repeat(64);

const BenchRecorded = defineEvent('BenchRecorded', {
  topic: 'bench-eventstore',
  schema: z.object({ payload: z.string(), serial: z.number().int() }),
});

interface Row {
  readonly backend: string;
  readonly appendsPerSecond: number;
  readonly conflicts: number;
  readonly streamReadsPerSecond?: number;
  readonly eventsPerStreamRead?: number;
}

async function forDuration(durationMs: number, work: (worker: number) => Promise<void>): Promise<number> {
  const deadline = performance.now() + durationMs;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, worker) => {
      while (performance.now() < deadline) {
        await work(worker);
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

async function measureStore(backend: string, store: EventStore, durationMs: number): Promise<Row> {
  progressLine('eventstore', `${backend}: appends`);
  const known = new Array<number>(STREAMS).fill(0);
  let conflicts = 0;
  let serial = 0;
  const appendsPerSecond = await forDuration(durationMs, async () => {
    const stream = Math.floor(Math.random() * STREAMS);
    const expected = known[stream]!;
    try {
      const result = await store.appendToStream(
        `bench-${stream}`,
        [event(BenchRecorded, { payload: PAYLOAD, serial: serial++ })],
        { expectedVersion: expected },
      );
      known[stream] = Math.max(known[stream]!, result.version);
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      conflicts++;
      known[stream] = Math.max(known[stream]!, error.actualVersion);
    }
  });
  progressLine('eventstore', `${backend}: stream reads`);
  let eventsRead = 0;
  let reads = 0;
  const streamReadsPerSecond = await forDuration(durationMs, async () => {
    const events = await store.readStream(`bench-${Math.floor(Math.random() * STREAMS)}`);
    eventsRead += events.length;
    reads++;
  });
  return {
    backend,
    appendsPerSecond,
    conflicts,
    streamReadsPerSecond,
    eventsPerStreamRead: eventsRead / reads,
  };
}

async function measureRawLog(directory: string, durationMs: number): Promise<Row> {
  progressLine('eventstore', 'raw log: appends');
  const partition = await openPartition({ directory, fsync: 'always' });
  try {
    let serial = 0;
    const value = utf8(JSON.stringify({ payload: PAYLOAD, serial: 0 }));
    const appendsPerSecond = await forDuration(durationMs, async () => {
      await partition.append([{ key: utf8(`bench-${serial++ % STREAMS}`), value }]);
    });
    return { backend: 'raw log (@herald/log)', appendsPerSecond, conflicts: 0 };
  } finally {
    await partition.close();
  }
}

/** Runs the suite (see the file comment). */
export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const durationMs = quick ? 1500 : 5000;
  const root = await mkdtemp(path.join(tmpdir(), 'herald-bench-eventstore-'));
  const schema = `herald_bench_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: WRITERS + 2 });
  const rows: Row[] = [];
  try {
    rows.push(await measureRawLog(path.join(root, 'raw'), durationMs));
    const embedded = await openEmbeddedEventStore({ directory: path.join(root, 'store') });
    try {
      rows.push(await measureStore('embedded event store', embedded, durationMs));
    } finally {
      await embedded.close();
    }
    await pool.query(`create schema ${schema}`);
    const postgres = await openPostgresEventStore({ pool, table: `${schema}.events` });
    try {
      rows.push(await measureStore('PostgreSQL event store', postgres, durationMs));
    } finally {
      await postgres.close();
    }
  } finally {
    await pool.query(`drop schema if exists ${schema} cascade`).catch(() => {});
    await pool.end();
    await rm(root, { recursive: true, force: true });
  }
  const facts = machineFacts();
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ quick, durationMs, writers: WRITERS, streams: STREAMS, facts, rows })}\n`,
    );
    return;
  }
  process.stdout.write(
    `### Event store: ${WRITERS} writers, ${format(STREAMS)} streams, one event per append, fsync on every acknowledgement\n\n`,
  );
  process.stdout.write(
    markdownTable(
      ['backend', 'appends/s (expected version)', 'conflicts', 'stream reads/s', 'events per read'],
      rows.map((row) => [
        row.backend,
        format(row.appendsPerSecond),
        format(row.conflicts),
        format(row.streamReadsPerSecond),
        format(row.eventsPerStreamRead, 1),
      ]),
      { align: ['left', 'right', 'right', 'right', 'right'] },
    ),
  );
  process.stdout.write('\n');
  const high = loadIsHigh(facts.loadAverage, facts.cores);
  process.stdout.write(
    `\n${quick ? 'quick mode; ' : ''}${facts.cores} cores, load average ${facts.loadAverage.map((load) => load.toFixed(2)).join(' / ')}` +
      `${high ? ' (high: figures are pessimistic)' : ''}\n`,
  );
}
